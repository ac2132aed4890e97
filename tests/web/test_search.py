"""GET /api/v1/messages/search and GET /api/v1/search (API reference 8 and 11)."""
from __future__ import annotations

import pytest
from messages_helpers import block, db_write, make_chat, send

from pufferd.search import fts_query
from pufferd.web.keys import CTX


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0}


async def search(client, user, query, expect: int = 200, **params):
    resp = await client.get("/api/v1/messages/search", params={"query": query, **params}, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def ids(client, user, query, **params) -> list[int]:
    return [m["id"] for m in await search(client, user, query, **params)]


async def test_search_finds_word_prefixes_newest_first(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    a = await send(client, alice, chat, "The quick brown fox")
    b = await send(client, bob, chat, "quicksilver is a metal")
    await send(client, bob, chat, "nothing relevant")
    assert await ids(client, alice, "quick") == [b["id"], a["id"]]
    assert await ids(client, alice, "qui") == [b["id"], a["id"]]
    assert await ids(client, alice, "quick fox") == [a["id"]]          # all words must match
    assert await ids(client, alice, "BROWN") == [a["id"]]              # case folded
    found = await search(client, bob, "fox")
    assert found[0]["text"] == "The quick brown fox" and found[0]["delivery_status"] == "delivered"


async def test_search_folds_diacritics_both_ways(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "Un café à Zürich, señor")
    for q in ("cafe", "CAFÉ", "zurich", "Zür", "senor", "señor"):
        assert await ids(client, bob, q) == [m["id"]], q


async def test_search_in_rtl_and_non_latin_scripts(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    ar = await send(client, alice, chat, "مرحبا بالعالم")
    ru = await send(client, alice, chat, "Привет мир")
    assert await ids(client, bob, "مرحبا") == [ar["id"]]
    assert await ids(client, bob, "привет") == [ru["id"]]


@pytest.mark.parametrize("query", [
    '"', '""', '"unbalanced', "*", "**", "fox*", "*fox", "NEAR", "NEAR(fox brown)", "fox NEAR brown",
    "-fox", "fox -brown", "AND", "OR", "NOT", "fox AND", "fox OR NOT", "(", ")", "(fox", "text:fox",
    "^fox", "{text}: fox", "'; DROP TABLE messages; --", "\\", "%", "_", "fox\u0000", "😀", "🦊 fox",
    "\u200b", "a" * 256, " ".join(["fox"] * 40),
])
async def test_fts_syntax_in_a_query_never_errors(client, alice, bob, query):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "the quick brown fox")
    found = await search(client, bob, query)
    assert isinstance(found, list)


async def test_fts_operators_are_plain_words(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    near = await send(client, alice, chat, "come NEAR the fire")
    hot = await send(client, alice, chat, "the fire is hot")
    assert await ids(client, bob, "NEAR") == [near["id"]]
    assert await ids(client, bob, '"near" fire') == [near["id"]]
    assert await ids(client, bob, "fire -hot") == [hot["id"]]  # "-" is no NOT: the word "hot" must match
    assert await ids(client, bob, "fire OR hot") == []          # "OR" is a word to find, not an operator


def test_fts_query_quotes_every_piece():
    assert fts_query('say "hi" NEAR(x) -y *') == '"say"* """hi"""* "NEAR(x)"* "-y"*'
    assert fts_query("a bc") == '"a" "bc"*'
    assert fts_query("  ") is None and fts_query("*** ---") is None and fts_query("😀") is None


async def test_a_user_in_no_chat_finds_no_messages(client, alice, bob, carol, monkeypatch):
    from pufferd import search as search_mod

    monkeypatch.setattr(search_mod, "RECENT_WINDOW", 1)
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "lonely words")
    await send(client, alice, chat, "lonely again")
    assert await ids(client, carol, "lonely") == []
    assert (await global_search(client, carol, "lonely"))["messages"] == []


async def test_search_for_members_of_many_chats_filters_by_the_join(client, alice, bob, carol, monkeypatch):
    from pufferd import search as search_mod

    monkeypatch.setattr(search_mod, "MAX_CHAT_FILTER", 1)
    monkeypatch.setattr(search_mod, "RECENT_WINDOW", 1)
    ours = await make_chat(client, alice, bob)
    other = await make_chat(client, alice, carol)
    theirs = await make_chat(client, carol, bob)
    a = await send(client, alice, ours, "cherry one")
    b = await send(client, alice, other, "cherry two")
    await send(client, carol, theirs, "cherry three")
    assert await ids(client, alice, "cherry") == [b["id"], a["id"]]


async def test_search_finds_older_matches_beyond_the_recent_window(client, alice, bob, carol, monkeypatch):
    from pufferd import search as search_mod

    monkeypatch.setattr(search_mod, "RECENT_WINDOW", 3)
    ours = await make_chat(client, alice, bob)
    theirs = await make_chat(client, carol, bob)
    mine = [(await send(client, alice, ours, f"grape {i}"))["id"] for i in range(2)]
    for i in range(5):  # newer matches alice cannot see fill the window
        await send(client, carol, theirs, f"grape later {i}")
    assert await ids(client, alice, "grape") == mine[::-1]
    assert await ids(client, alice, "grape", limit=1) == mine[1:]
    assert len(await ids(client, carol, "grape")) == 5


async def test_message_text_cannot_match_a_chat_token(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "plain words")
    assert await ids(client, alice, f"c{chat}") == []


async def test_search_sees_only_chats_the_caller_is_in(client, alice, bob, carol):
    ours = await make_chat(client, alice, bob)
    theirs = await make_chat(client, carol, bob)
    mine = await send(client, alice, ours, "banana split")
    await send(client, carol, theirs, "banana bread")
    assert await ids(client, alice, "banana") == [mine["id"]]
    assert len(await ids(client, bob, "banana")) == 2


async def test_search_skips_cleared_hidden_and_deleted_messages(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "mango one")
    resp = await client.post(f"/api/v1/chats/{chat}/clear", headers=bob.headers)
    assert resp.status == 204
    hidden = await send(client, alice, chat, "mango two")
    gone = await send(client, alice, chat, "mango three")
    kept = await send(client, alice, chat, "mango four")
    await client.delete(f"/api/v1/messages/{hidden['id']}", headers=bob.headers)
    await client.delete(f"/api/v1/messages/{gone['id']}", params={"for_all": "true"}, headers=alice.headers)
    assert await ids(client, bob, "mango") == [kept["id"]]
    assert len(await ids(client, alice, "mango")) == 3


async def test_search_within_one_chat(client, alice, bob, carol):
    c1 = await make_chat(client, alice, bob)
    c2 = await make_chat(client, alice, carol)
    m1 = await send(client, alice, c1, "kiwi here")
    m2 = await send(client, alice, c2, "kiwi there")
    assert await ids(client, alice, "kiwi", chat_id=c1) == [m1["id"]]
    assert await ids(client, alice, "kiwi", chat_id=c2) == [m2["id"]]
    assert await search(client, bob, "kiwi", chat_id=c2, expect=404) == {"detail": "Chat not found"}


async def test_search_limit_is_bounded(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    for i in range(5):
        await send(client, alice, chat, f"plum {i}")
    assert len(await ids(client, alice, "plum", limit=2)) == 2
    for bad in (0, 101, "x"):
        data = await search(client, alice, "plum", limit=bad, expect=422)
        assert data["detail"][0]["loc"] == ["query", "limit"]
    resp = await client.get("/api/v1/messages/search", headers=alice.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "query"]
    data = await search(client, alice, "x" * 257, expect=422)
    assert data["detail"][0]["loc"] == ["query", "query"]


async def test_search_query_plan_walks_fts_by_rowid_without_sorting(client):
    plan = await client.app[CTX].db.read(lambda c: c.execute(
        "EXPLAIN QUERY PLAN SELECT m.id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        " JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = 1"
        " WHERE messages_fts MATCH 'text : (\"x\"*) AND fts_chat : (c1 OR c2)' AND m.id > cm.cleared_before_id"
        " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = 1 AND h.message_id = m.id)"
        " ORDER BY messages_fts.rowid DESC LIMIT 50").fetchall())
    details = [r["detail"] for r in plan]
    assert details[0].startswith("SCAN messages_fts VIRTUAL TABLE")
    assert not any("TEMP B-TREE" in d for d in details)


# global search ----------------------------------------------------------------------------------

async def global_search(client, user, query, expect: int = 200, **params):
    resp = await client.get("/api/v1/search", params={"query": query, **params}, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def test_global_search_returns_users_chats_and_messages(client, alice, bob, make_user):
    await make_user("robinson", name="Robin Son")
    group = await make_chat(client, alice, bob, title="Robotics Club")
    m = await send(client, bob, group, "robots are coming")
    data = await global_search(client, alice, "rob")
    assert set(data) == {"users", "chats", "messages"}
    assert [u["username"] for u in data["users"]] == ["robinson"]
    assert set(data["users"][0]) == {"id", "name", "username", "email", "avatar_url"}
    assert [c["id"] for c in data["chats"]] == [group]
    assert data["chats"][0]["display_title"] == "Robotics Club"
    assert [x["id"] for x in data["messages"]] == [m["id"]]


async def test_global_search_finds_private_chats_by_counterpart_name(client, alice, bob, carol):
    private = await make_chat(client, alice, bob, type="private")
    await make_chat(client, carol, bob, type="private")
    data = await global_search(client, alice, "bob")
    assert [c["id"] for c in data["chats"]] == [private]
    assert data["chats"][0]["counterpart_user_id"] == bob.id


async def test_global_search_leaves_out_users_who_blocked_the_caller(client, alice, bob, make_user):
    await make_user("bobby")
    await block(client, bob, alice)
    data = await global_search(client, alice, "bob")
    assert [u["username"] for u in data["users"]] == ["bobby"]


async def test_global_search_only_shows_the_callers_chats(client, alice, bob, carol):
    await make_chat(client, bob, carol, title="Secret Society")
    data = await global_search(client, alice, "secret")
    assert data == {"users": [], "chats": [], "messages": []}


async def test_global_search_limits_apply_per_list(client, alice, bob, make_user):
    for i in range(3):
        await make_user(f"zed{i}")
    chats = [await make_chat(client, alice, bob, title=f"Zed group {i}") for i in range(3)]
    for chat in chats:
        await send(client, alice, chat, "zed speaks")
    data = await global_search(client, alice, "zed", users_limit=2, chats_limit=1, messages_limit=0)
    assert (len(data["users"]), len(data["chats"]), len(data["messages"])) == (2, 1, 0)
    for bad in ({"users_limit": -1}, {"chats_limit": 51}, {"messages_limit": "x"}):
        assert (await global_search(client, alice, "zed", expect=422, **bad))["detail"][0]["loc"][0] == "query"


async def test_global_search_survives_fts_syntax(client, alice, bob):
    await make_chat(client, alice, bob, title='Quote "club"')
    for q in ['"', "NEAR(", "-", "*", "'; --", "😀"]:
        data = await global_search(client, alice, q)
        assert set(data) == {"users", "chats", "messages"}


async def test_renamed_users_and_chats_are_found_by_their_new_names(client, alice, bob):
    group = await make_chat(client, alice, bob, title="Old Name")
    await db_write(client, "UPDATE chats SET title = 'Fresh Title' WHERE id = ?", group)
    assert (await global_search(client, alice, "old"))["chats"] == []
    assert [c["id"] for c in (await global_search(client, alice, "fresh"))["chats"]] == [group]
