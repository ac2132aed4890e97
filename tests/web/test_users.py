"""Users endpoints (API reference sections 3.2, 3.7 and 6)."""
from __future__ import annotations

import pytest
from media_helpers import png, upload
from text_helpers import BLANK, CONTROLS, ONE_LINE_ONLY, TYPED, names_field, nfc

from pufferd.db import users_q
from pufferd.web.keys import CTX

USER_READ_FIELDS = {"id", "name", "username", "email", "avatar_url", "bio", "email_verified",
                    "allow_private_messages", "privacy_private_messages", "privacy_last_seen",
                    "privacy_avatar", "privacy_group_invites", "twofa_enabled", "created_at", "updated_at",
                    # federation (README, "Federation"): a remote user's shadow account and its actor
                    "is_remote", "actor_url", "federation_findable"}


async def put_profile(client, who, **fields):
    return await client.put("/api/v1/users/profile", headers=who.headers, json=fields)


async def avatar(client, who) -> str:
    """An image WHO uploaded to this server: avatar_url accepts nothing else (media area)."""
    return (await upload(client, who, png(2000)))["file_url"]


async def search(client, who, query, **params):
    resp = await client.get("/api/v1/users/search", headers=who.headers, params={"query": query, **params})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def stored(client, user_id):
    return await client.server.app[CTX].db.read(lambda c: users_q.get(c, user_id))


# me -------------------------------------------------------------------------------------------
async def test_users_me_has_the_user_read_shape(client, alice):
    resp = await client.get("/api/v1/users/me", headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == USER_READ_FIELDS
    assert body["id"] == alice.id and body["email"] == "alice@example.com"
    assert body["privacy_avatar"] == "everyone" and body["twofa_enabled"] is False


async def test_users_me_needs_a_token(client):
    assert (await client.get("/api/v1/users/me")).status == 401


# profile update -------------------------------------------------------------------------------
async def test_profile_update_changes_only_the_fields_sent(client, alice):
    picture = await avatar(client, alice)
    resp = await put_profile(client, alice, name="  Alice A.  ", bio="hello", privacy_last_seen="contacts",
                             avatar_url=picture, allow_private_messages=False)
    assert resp.status == 200
    body = await resp.json()
    assert body["name"] == "Alice A." and body["bio"] == "hello" and body["avatar_url"] == picture
    assert body["privacy_last_seen"] == "contacts" and body["allow_private_messages"] is False
    assert body["username"] == "alice" and body["privacy_avatar"] == "everyone"
    again = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert again == body


async def test_profile_update_with_an_empty_body_changes_nothing(client, alice):
    before = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    resp = await put_profile(client, alice)
    assert resp.status == 200
    assert await resp.json() == before


async def test_bio_and_avatar_can_be_cleared_with_null(client, alice):
    await put_profile(client, alice, bio="x", avatar_url=await avatar(client, alice))
    body = await (await put_profile(client, alice, bio=None, avatar_url=None)).json()
    assert body["bio"] is None and body["avatar_url"] is None
    assert (await (await put_profile(client, alice, bio="")).json())["bio"] is None


async def test_username_change(client, alice):
    body = await (await put_profile(client, alice, username="alice_2")).json()
    assert body["username"] == "alice_2"
    assert (await stored(client, alice.id)).username == "alice_2"


async def test_changing_to_the_same_username_in_another_case_is_allowed(client, alice):
    assert (await put_profile(client, alice, username="Alice")).status == 200


@pytest.mark.parametrize("taken", ["bob", "BOB"])
async def test_taken_username_is_409_and_changes_nothing(client, alice, bob, taken):
    resp = await put_profile(client, alice, username=taken, name="Changed")
    assert resp.status == 409
    assert await resp.json() == {"detail": "Username already taken"}
    user = await stored(client, alice.id)
    assert user.username == "alice" and user.name == "Alice"


@pytest.mark.parametrize("field, value", [
    ("username", "ab"), ("username", "9lives"), ("username", "white space"), ("username", "x" * 33),
    ("username", None), ("name", ""), ("name", None), ("name", "x" * 65), ("bio", "x" * 501),
    ("avatar_url", "javascript:alert(1)"), ("avatar_url", "/relative.png"), ("avatar_url", "ftp://x/y.png"),
    ("privacy_avatar", "friends"), ("privacy_last_seen", None), ("privacy_private_messages", "all"),
    ("privacy_group_invites", ""), ("allow_private_messages", "maybe"), ("allow_private_messages", None),
    ("is_admin", True), ("email", "new@example.com"),
])
async def test_bad_profile_fields_are_422_naming_the_field(client, alice, field, value):
    resp = await put_profile(client, alice, **{field: value})
    assert resp.status == 422
    assert [e["loc"] for e in (await resp.json())["detail"]] == [["body", field]]
    user = await stored(client, alice.id)
    assert user.username == "alice" and not user.is_admin


async def test_profile_name_and_bio_accept_what_people_type(client, alice):
    for typed in TYPED:
        resp = await put_profile(client, alice, name=typed, bio=f"{typed}\nsecond line\twith a tab")
        body = await resp.json()
        assert resp.status == 200, (typed, body)
        assert body["name"] == nfc(typed) and body["bio"] == f"{typed}\nsecond line\twith a tab"
        user = await stored(client, alice.id)
        assert (user.name, user.bio) == (body["name"], body["bio"])


async def test_a_bio_keeps_bidi_controls_and_crlf_becomes_lf(client, alice):
    body = await (await put_profile(client, alice, bio="abc \u202edef\u202c\r\nghi")).json()
    assert body["bio"] == "abc \u202edef\u202c\nghi"


async def test_a_bio_of_only_invisible_characters_clears_it(client, alice):
    await put_profile(client, alice, bio="x")
    assert (await (await put_profile(client, alice, bio="\u200b\n ")).json())["bio"] is None


async def test_profile_name_refuses_controls_bidi_and_blank_naming_the_field(client, alice):
    cases = [*CONTROLS, *ONE_LINE_ONLY, *((blank, "must not be empty") for blank in BLANK)]
    for value, named in cases:
        resp = await put_profile(client, alice, name=value, bio="changed")
        assert resp.status == 422, value
        assert names_field(await resp.json(), "name", named), (value, await resp.json())
        user = await stored(client, alice.id)
        assert (user.name, user.bio) == ("Alice", None), value


async def test_bio_refuses_controls_naming_the_field(client, alice):
    await put_profile(client, alice, bio="before")
    for value, named in CONTROLS:
        resp = await put_profile(client, alice, bio=value, name="Changed")
        assert resp.status == 422, value
        assert names_field(await resp.json(), "bio", named), (value, await resp.json())
        user = await stored(client, alice.id)
        assert (user.name, user.bio) == ("Alice", "before"), value


async def test_profile_update_moves_updated_at(client, alice):
    before = await stored(client, alice.id)
    await put_profile(client, alice, bio="new")
    assert (await stored(client, alice.id)).updated_at > before.updated_at


# search ---------------------------------------------------------------------------------------
async def test_search_matches_username_and_name_prefixes(client, alice, make_user):
    await make_user("robert", name="Bobby Tables")
    await make_user("zed", name="Robin Hood")
    assert [u["username"] for u in await search(client, alice, "rob")] == ["robert", "zed"]
    assert [u["username"] for u in await search(client, alice, "bobby")] == ["robert"]
    assert await search(client, alice, "tables") == []  # prefix of the name, not any word


async def test_search_ignores_a_leading_at_and_ranks_the_exact_username_first(client, alice, make_user):
    await make_user("bobcat")
    await make_user("bob")
    assert [u["username"] for u in await search(client, alice, "@bob")] == ["bob", "bobcat"]


async def test_search_finds_a_name_however_its_accents_are_encoded(client, alice, bob):
    """Names are stored NFC; a query typed decomposed (e + U+0301, as some keyboards send it) or
    precomposed finds the same user."""
    assert (await put_profile(client, bob, name="Jose\u0301 Mu\u0308ller")).status == 200
    for query in ("Jos\u00e9", "Jose\u0301", "Jose\u0301 Mu\u0308l", "Jos\u00e9 M\u00fcl"):
        assert [u["username"] for u in await search(client, alice, query)] == [bob.username], query


@pytest.mark.parametrize("query", ["", " ", "b", "@b", "@ ", "@"])
async def test_search_shorter_than_two_characters_is_empty(client, alice, bob, query):
    assert await search(client, alice, query) == []


async def test_search_without_a_query_is_empty(client, alice, bob):
    resp = await client.get("/api/v1/users/search", headers=alice.headers)
    assert resp.status == 200 and await resp.json() == []


async def test_search_result_shape(client, alice, bob):
    [found] = await search(client, alice, "bo")
    assert found == {"id": bob.id, "name": "Bob", "username": "bob", "email": None, "avatar_url": None}


async def test_search_excludes_the_caller_and_users_who_blocked_the_caller(client, alice, bob, make_user):
    await make_user("alicia")
    assert [u["username"] for u in await search(client, alice, "ali")] == ["alicia"]
    await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)
    assert await search(client, alice, "bo") == []
    # blocking is one-way: bob still finds alice
    assert [u["username"] for u in await search(client, bob, "ali")] == ["alice", "alicia"]


async def test_search_excludes_disabled_users(client, alice, bob):
    await client.server.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE id = ?", (bob.id,)))
    assert await search(client, alice, "bo") == []


async def test_search_treats_like_wildcards_literally(client, alice, make_user):
    await make_user("b_x")
    await make_user("bax")
    assert [u["username"] for u in await search(client, alice, "b_")] == ["b_x"]
    assert await search(client, alice, "b%") == []


async def test_search_respects_limit(client, alice, make_user):
    for i in range(5):
        await make_user(f"sam{i}")
    assert len(await search(client, alice, "sam", limit=3)) == 3


@pytest.mark.parametrize("limit", ["0", "51", "x"])
async def test_search_bad_limit_is_422(client, alice, limit):
    resp = await client.get("/api/v1/users/search", headers=alice.headers, params={"query": "ab", "limit": limit})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["query", "limit"]


async def test_search_applies_avatar_privacy(client, alice, bob, carol):
    picture = await avatar(client, bob)
    await put_profile(client, bob, avatar_url=picture, privacy_avatar="contacts")
    assert (await search(client, alice, "bob"))[0]["avatar_url"] is None
    await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)
    assert (await search(client, alice, "bob"))[0]["avatar_url"] == picture
    assert (await search(client, carol, "bob"))[0]["avatar_url"] is None


async def test_search_query_plan_uses_the_indexes(client):
    plan = await client.server.app[CTX].db.read(lambda c: c.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM users u WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.name LIKE ?1"
        " ESCAPE '\\') AND u.id <> ?2", ("ab%", 1)).fetchall())
    details = " ".join(r["detail"] for r in plan)
    assert "users_by_name" in details and "sqlite_autoindex_users" in details and "SCAN users" not in details


# user by id -----------------------------------------------------------------------------------
async def test_user_by_id_returns_user_read(client, alice, bob):
    resp = await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == USER_READ_FIELDS and body["username"] == "bob"


@pytest.mark.parametrize("mode, contact, visible", [
    ("everyone", False, True), ("contacts", False, False), ("contacts", True, True),
    ("nobody", False, False), ("nobody", True, False),
])
async def test_user_by_id_applies_avatar_privacy(client, alice, bob, mode, contact, visible):
    picture = await avatar(client, bob)
    await put_profile(client, bob, avatar_url=picture, privacy_avatar=mode)
    if contact:
        await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)
    body = await (await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)).json()
    assert body["avatar_url"] == (picture if visible else None)
    own = await (await client.get(f"/api/v1/users/{bob.id}", headers=bob.headers)).json()
    assert own["avatar_url"] == picture


async def test_contacts_mode_means_the_viewer_is_in_the_targets_contacts(client, alice, bob):
    await put_profile(client, bob, avatar_url=await avatar(client, bob), privacy_avatar="contacts")
    await client.post(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)  # alice lists bob: not enough
    body = await (await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)).json()
    assert body["avatar_url"] is None


async def test_a_blocked_viewer_does_not_see_the_avatar(client, alice, bob):
    await put_profile(client, bob, avatar_url=await avatar(client, bob))
    await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)
    resp = await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    # nothing of the profile at all: a user who blocked the viewer is not found
    assert resp.status == 404 and await resp.json() == {"detail": "User not found"}


async def test_unknown_or_disabled_user_is_404(client, alice, bob):
    assert (await client.get("/api/v1/users/999999", headers=alice.headers)).status == 404
    await client.server.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE id = ?", (bob.id,)))
    resp = await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert resp.status == 404
    assert await resp.json() == {"detail": "User not found"}


async def test_non_integer_user_id_is_422(client, alice):
    resp = await client.get("/api/v1/users/abc", headers=alice.headers)
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["path", "user_id"]


# contacts -------------------------------------------------------------------------------------
async def contacts(client, who):
    return await (await client.get("/api/v1/users/contacts", headers=who.headers)).json()


async def test_add_list_and_remove_contacts(client, alice, bob, carol):
    assert (await client.post(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)).status == 204
    assert (await client.post(f"/api/v1/users/{carol.id}/contacts", headers=alice.headers)).status == 204
    assert (await client.post(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)).status == 204  # idempotent
    listed = await contacts(client, alice)
    assert [u["username"] for u in listed] == ["bob", "carol"]
    assert set(listed[0]) == {"id", "name", "username", "email", "avatar_url"}
    assert await contacts(client, bob) == []  # one-way
    assert (await client.delete(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)).status == 204
    assert [u["username"] for u in await contacts(client, alice)] == ["carol"]
    assert (await client.delete(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)).status == 204


async def test_add_contact_by_email(client, alice, bob):
    resp = await client.post("/api/v1/users/contacts/by-email", headers=alice.headers, json={"email": "BOB@example.com"})
    assert resp.status == 204
    assert [u["id"] for u in await contacts(client, alice)] == [bob.id]


async def test_add_contact_by_unknown_email_is_404(client, alice):
    resp = await client.post("/api/v1/users/contacts/by-email", headers=alice.headers, json={"email": "x@example.com"})
    assert resp.status == 404
    assert await resp.json() == {"detail": "User not found"}


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": "no-at-sign"}, {"email": 5}, {"email": "a@b", "x": 1}])
async def test_add_contact_by_email_validates_the_body(client, alice, body):
    resp = await client.post("/api/v1/users/contacts/by-email", headers=alice.headers, json=body)
    assert resp.status == 422


async def test_adding_yourself_as_a_contact_is_400(client, alice):
    for resp in (await client.post(f"/api/v1/users/{alice.id}/contacts", headers=alice.headers),
                 await client.post("/api/v1/users/contacts/by-email", headers=alice.headers,
                                   json={"email": alice.email})):
        assert resp.status == 400
        assert await resp.json() == {"detail": "You cannot add yourself to your contacts"}


async def test_contact_of_an_unknown_user_is_404(client, alice):
    assert (await client.post("/api/v1/users/424242/contacts", headers=alice.headers)).status == 404
    assert (await client.delete("/api/v1/users/424242/contacts", headers=alice.headers)).status == 404


async def test_contact_list_applies_avatar_privacy(client, alice, bob):
    await put_profile(client, bob, avatar_url=await avatar(client, bob), privacy_avatar="nobody")
    await client.post(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)
    assert (await contacts(client, alice))[0]["avatar_url"] is None


# blocks ---------------------------------------------------------------------------------------
async def blocked(client, who):
    return await (await client.get("/api/v1/users/blocked", headers=who.headers)).json()


async def test_block_list_and_unblock(client, alice, bob, carol):
    assert (await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 204
    assert (await client.post(f"/api/v1/users/{carol.id}/block", headers=alice.headers)).status == 204
    assert (await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 204  # idempotent
    listed = await blocked(client, alice)
    assert {u["username"] for u in listed} == {"bob", "carol"}
    assert set(listed[0]) == {"id", "name", "username", "email", "avatar_url"}
    assert (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 204
    assert [u["username"] for u in await blocked(client, alice)] == ["carol"]
    assert (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 204


async def test_blocking_yourself_is_400(client, alice):
    resp = await client.post(f"/api/v1/users/{alice.id}/block", headers=alice.headers)
    assert resp.status == 400
    assert await resp.json() == {"detail": "You cannot block yourself"}


async def test_blocking_an_unknown_user_is_404(client, alice):
    assert (await client.post("/api/v1/users/424242/block", headers=alice.headers)).status == 404
    assert (await client.delete("/api/v1/users/424242/block", headers=alice.headers)).status == 404


async def test_user_endpoints_need_authentication(client, alice):
    for method, path in [("GET", "/api/v1/users/search?query=ab"), ("PUT", "/api/v1/users/profile"),
                         ("GET", "/api/v1/users/blocked"), ("GET", "/api/v1/users/contacts"),
                         ("POST", f"/api/v1/users/{alice.id}/contacts"), ("POST", "/api/v1/users/contacts/by-email"),
                         ("DELETE", f"/api/v1/users/{alice.id}/contacts"), ("POST", f"/api/v1/users/{alice.id}/block"),
                         ("DELETE", f"/api/v1/users/{alice.id}/block"), ("GET", f"/api/v1/users/{alice.id}")]:
        assert (await client.request(method, path, json={})).status == 401, path
