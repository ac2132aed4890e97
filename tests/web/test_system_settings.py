"""Server info and settings over HTTP (issue 13, item 2): public info, runtime settings that take
effect on the next request, restart settings that say so, validation that changes nothing,
stored values that outlive a restart, and `server_updated` for everyone connected."""
from __future__ import annotations

import pytest
from admin_helpers import audit_rows, owner
from auth_support import PASSWORD
from messages_helpers import make_chat, send
from realtime_helpers import connect

import pufferd
from pufferd.app import make_app
from pufferd.config import RESTART_SETTINGS, RUNTIME_SETTINGS, Settings, load_settings
from pufferd.web.keys import CTX

INFO = "/api/v1/system/server-info"
SETTINGS = "/api/v1/system/settings"


async def put_settings(client, changes, who=None, reason=None):
    who = who or owner(client.app)
    return await client.put(SETTINGS, json={"settings": changes, "reason": reason}, headers=who.headers)


async def settings_by_name(client) -> dict:
    body = await (await client.get(SETTINGS, headers=owner(client.app).headers)).json()
    return {s["name"]: s for s in body["settings"]}


def test_every_changeable_setting_is_a_setting_and_not_a_secret():
    assert RUNTIME_SETTINGS <= set(Settings.model_fields) and RESTART_SETTINGS <= set(Settings.model_fields)
    assert not RUNTIME_SETTINGS & RESTART_SETTINGS
    assert not {n for n in RUNTIME_SETTINGS | RESTART_SETTINGS if "Secret" in str(Settings.model_fields[n].annotation)}


# public info --------------------------------------------------------------------------------
async def test_server_info_is_public(client, make_user):
    await make_user("bob")
    resp = await client.get(INFO)
    assert resp.status == 200
    info = await resp.json()
    settings = client.app[CTX].settings
    assert info == {
        "name": "pufferd-test", "description": "", "version": pufferd.__version__, "registration_mode": "open",
        "avatar_url": None, "banner_url": None, "max_message_length": settings.max_message_length,
        "max_upload_size_bytes": settings.max_upload_size_bytes, "allowed_upload_types": info["allowed_upload_types"],
        "max_users": None, "members_count": 2, "online_count": 0}
    assert "image/png" in info["allowed_upload_types"]


async def test_server_info_counts_who_is_online(client, make_user):
    bob = await make_user("bob")
    sock = await connect(client, bob)
    assert (await (await client.get(INFO)).json())["online_count"] == 1
    await sock.close()


async def test_put_server_info_changes_it_for_everyone_and_tells_sockets(client, make_user):
    bob = await make_user("bob")
    sock = await connect(client, bob)
    resp = await client.put(INFO, headers=owner(client.app).headers, json={
        "name": "Puffer Club", "description": "Fish\nand friends", "avatar_url": "https://cdn.example/a.png",
        "reason": "rebrand"})
    assert resp.status == 200, await resp.text()
    info = await resp.json()
    assert (info["name"], info["description"], info["avatar_url"]) == ("Puffer Club", "Fish\nand friends",
                                                                        "https://cdn.example/a.png")
    assert (await (await client.get(INFO)).json())["name"] == "Puffer Club"
    event = await sock.next("server_updated")
    assert event["data"]["name"] == "Puffer Club" and event["data"]["online_count"] == 1
    [entry] = await audit_rows(client.app, "server_info_changed")
    assert entry.detail["changes"]["server_name"] == {"from": "pufferd-test", "to": "Puffer Club"}
    assert entry.detail["reason"] == "rebrand" and entry.ip_address == "127.0.0.1"
    # "" clears
    resp = await client.put(INFO, headers=owner(client.app).headers, json={"avatar_url": ""})
    assert (await resp.json())["avatar_url"] is None
    await sock.close()


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": "a\u202eb"}, "name"),
    ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
    ({"banner_url": "ftp://x"}, "banner_url"),
    ({"description": "x" * 1001}, "description"),
    ({"colour": "red"}, "colour"),
])
async def test_bad_server_info_is_422_naming_the_field(client, body, field):
    resp = await client.put(INFO, headers=owner(client.app).headers, json=body)
    assert resp.status == 422, await resp.text()
    assert [d["loc"] for d in (await resp.json())["detail"]] == [["body", field]]
    assert (await (await client.get(INFO)).json())["name"] == "pufferd-test"


async def test_put_server_info_needs_a_field(client):
    resp = await client.put(INFO, headers=owner(client.app).headers, json={"reason": "nothing"})
    assert resp.status == 422 and "at least one" in (await resp.json())["detail"][0]["msg"]


# settings -----------------------------------------------------------------------------------
async def test_settings_list_everything_but_secrets(client):
    by_name = await settings_by_name(client)
    assert "db_key" not in by_name and "smtp_password" not in by_name and "metrics_token" not in by_name
    assert by_name["message_rate_limit_per_minute"]["change"] == "runtime"
    assert by_name["ws_heartbeat_seconds"]["change"] == "restart"
    assert by_name["port"]["change"] == "file"
    assert by_name["data_dir"]["value"] == str(client.app[CTX].settings.data_dir)
    assert by_name["registration_mode"] == {"name": "registration_mode", "value": "open", "configured": "open",
                                            "stored": None, "overridden": False, "change": "runtime",
                                            "restart_required": False}


async def test_runtime_message_rate_limit_holds_from_the_next_request(client, make_user):
    bob, carol = await make_user("bob"), await make_user("carol")
    chat = await make_chat(client, bob, carol)
    resp = await put_settings(client, {"message_rate_limit_per_minute": 2}, reason="spam wave")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["restart_required"] is False
    assert body["settings"][0] | {"configured": None} == {
        "name": "message_rate_limit_per_minute", "value": 2, "configured": None, "stored": 2, "overridden": True,
        "change": "runtime", "restart_required": False}
    await send(client, bob, chat, "one")
    await send(client, bob, chat, "two")
    await send(client, bob, chat, "three", expect=429)
    # null drops the stored value: the configured limit applies again at once
    resp = await put_settings(client, {"message_rate_limit_per_minute": None})
    assert (await resp.json())["settings"][0]["overridden"] is False
    await send(client, bob, chat, "four")


async def test_registration_mode_closed_refuses_the_next_registration(client):
    assert (await put_settings(client, {"registration_mode": "closed"})).status == 200
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": "Dana", "username": "dana", "password": PASSWORD})
    assert resp.status == 403 and (await resp.json())["detail"] == "Registration is closed on this server"


async def test_restart_setting_is_stored_and_says_restart_required(client):
    resp = await put_settings(client, {"ws_heartbeat_seconds": 12.5})
    body = await resp.json()
    assert body["restart_required"] is True
    assert body["settings"][0]["value"] == 30.0 and body["settings"][0]["stored"] == 12.5
    assert client.app[CTX].settings.ws_heartbeat_seconds == 30.0


async def test_stored_settings_outlive_a_restart(client, settings, data_dir):
    await put_settings(client, {"ws_heartbeat_seconds": 12.5, "max_message_length": 100})
    again = make_app(load_settings(data_dir))
    try:
        s = again[CTX].settings
        assert (s.ws_heartbeat_seconds, s.max_message_length) == (12.5, 100)
        assert again[CTX].live.configured.max_message_length == settings.max_message_length
    finally:
        again[CTX].db.close()


@pytest.mark.parametrize("changes, name, fragment", [
    ({"message_rate_limit_per_minute": -1}, "message_rate_limit_per_minute", "greater than or equal to 0"),
    ({"registration_mode": "sometimes"}, "registration_mode", "'open', 'invite_only' or 'closed'"),
    ({"max_message_length": "long"}, "max_message_length", "valid integer"),
    ({"port": 8080}, "port", "cannot be changed over the API"),
    ({"db_key": "x"}, "db_key", "cannot be changed over the API"),
    ({"no_such_setting": 1}, "no_such_setting", "cannot be changed over the API"),
])
async def test_bad_setting_is_422_naming_it_and_nothing_changes(client, changes, name, fragment):
    before = client.app[CTX].settings.model_dump()
    resp = await put_settings(client, {"max_pinned_chats": 42, **changes})
    assert resp.status == 422, await resp.text()
    detail = (await resp.json())["detail"]
    assert [d["loc"] for d in detail] == [["body", "settings", name]]
    assert fragment in detail[0]["msg"]
    assert client.app[CTX].settings.model_dump() == before
    assert (await settings_by_name(client))["max_pinned_chats"]["overridden"] is False
    assert await audit_rows(client.app, "settings_changed") == []


async def test_settings_change_is_audited_without_secrets(client):
    await put_settings(client, {"max_users": 50, "require_verified_email": True}, reason="going public")
    [entry] = await audit_rows(client.app, "settings_changed")
    assert entry.detail == {"changes": {"max_users": {"from": 0, "to": 50},
                                        "require_verified_email": {"from": False, "to": True}},
                            "reason": "going public"}
    assert entry.target == "settings" and entry.actor == "user:1"
