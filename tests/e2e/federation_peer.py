"""The third-party ActivityPub peer of tests/e2e/test_federation_third_party.py.

Run with the Python of the peer's own environment (requirements/federation-peer.txt), never with
pufferd's: it only uses the fediverse-pasture package (and bovine, which that package is built on).

    python federation_peer.py serve PORT        one actor on http://127.0.0.1:PORT/actor (signed GETs only)
    python federation_peer.py resolve PORT ACCT  WebFinger + signed actor fetch, prints the actor
    python federation_peer.py send PORT ACCT TEXT   a Create{Note} addressed only to ACCT
    python federation_peer.py follow PORT ACCT   a Follow of ACCT

The working directory holds the actor's keys (data.toml, written by `serve`); the other commands
act as that actor and print one JSON line: what they resolved and the status the inbox answered.
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def serve(port: int) -> None:
    from fediverse_pasture.data_provider import DataProvider
    from fediverse_pasture.server.one_actor_app import app_for_data_provider

    provider = DataProvider.generate(with_possible_actors=False)
    # the inbox takes only POSTs whose HTTP signature it verifies against the sender's key, and the
    # actor document is served only to signed GETs ("authorized fetch")
    provider.one_actor.requires_signed_post_for_inbox = True
    provider.one_actor.requires_signed_get_for_actor = True
    provider.save()
    app_for_data_provider(provider).run(host="127.0.0.1", port=port)


async def _act(port: int, acct: str, make: Any) -> dict[str, Any]:
    from bovine.activitystreams import factories_for_actor_object
    from bovine.clients import lookup_uri_with_webfinger
    from fediverse_pasture.one_actor import bovine_actor_and_session

    async with bovine_actor_and_session(f"http://127.0.0.1:{port}") as (actor, actor_object, session):
        host = acct.removeprefix("acct:").split("@", 1)[1]
        actor_url, _ = await lookup_uri_with_webfinger(session, acct, domain=f"http://{host}")
        if not actor_url:
            return {"error": f"WebFinger found no actor for {acct}"}
        document = await actor.get(actor_url)
        out: dict[str, Any] = {"actor_url": actor_url, "actor": document}
        if make is not None:
            activity_factory, object_factory = factories_for_actor_object(actor_object.build())
            activity = make(activity_factory, object_factory, actor_object.id, actor_url)
            response = await actor.post(document["inbox"], activity)
            out.update(activity=activity, status=response.status)
        return out


def _note(text: str) -> Any:
    def make(activity_factory: Any, object_factory: Any, actor_id: str, target: str) -> dict[str, Any]:
        import secrets
        note = object_factory.note(id=f"{actor_id}/note/{secrets.token_hex(8)}", to={target},
                                   content=text).build()
        note["tag"] = [{"type": "Mention", "href": target}]
        del note["@context"]
        return activity_factory.create(note, id=f"{actor_id}/create/{secrets.token_hex(8)}").build()
    return make


def _follow(activity_factory: Any, object_factory: Any, actor_id: str, target: str) -> dict[str, Any]:
    import secrets
    return activity_factory.follow(target, id=f"{actor_id}/follow/{secrets.token_hex(8)}").build()


def main(argv: list[str]) -> int:
    command, port = argv[0], int(argv[1])
    if command == "serve":
        serve(port)
        return 0
    make = {"resolve": None, "send": _note(argv[3]) if len(argv) > 3 else None, "follow": _follow}[command]
    result = asyncio.run(_act(port, argv[2], make))
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
