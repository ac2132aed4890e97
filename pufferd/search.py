"""Search (API reference 8 `GET /messages/search` and 11 `GET /search`) over the FTS5 indexes.

Query language: none. The user's text is split on whitespace; every piece that holds a letter or
digit becomes a quoted FTS5 string with a prefix star ("hel wor" → `"hel"* "wor"*`; a piece of
one character matches a whole word), and all pieces must match (AND). Quotes inside a piece are doubled, so `"`, `*`, `NEAR`, `AND`, `-`,
`:`, `^` and parentheses are plain text and never an FTS syntax error. Matching folds case and
diacritics (unicode61, remove_diacritics 2): "cafe" finds "Café". Emoji and punctuation are not
indexed, so a query made only of them finds nothing (an empty list, not an error).

Results are what the caller may see (pufferd/access.py; search_q applies the same rule in SQL):
messages of chats they are in, newer than their clear-history mark and not deleted for them,
newest first; users who have not blocked the caller (and are not disabled); chats the caller is in.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import apsw

from pufferd import access, chat_reads, messages, users
from pufferd.chat_reads import ChatView
from pufferd.context import Context
from pufferd.db import search_q
from pufferd.db.users_q import User

MAX_TERMS = 16      # pieces of a query that are matched; the rest is ignored
MAX_TERM_CHARS = 64
# A search over all the caller's chats first looks at the newest RECENT_WINDOW matches in the
# whole server (cheap, and enough whenever the caller's chats hold a fair share of them); only
# when that window is full and still leaves the page short does it name the caller's chats inside
# the FTS5 query (each chat token costs a lookup in every index segment, ~0.2-0.4 ms), up to
# MAX_CHAT_FILTER chats (a member of more chats is filtered by the SQL join alone).
RECENT_WINDOW = 256
MAX_CHAT_FILTER = 500


def _found_messages(conn: apsw.Connection, viewer: User, terms: str, limit: int,
                    chat_id: int | None = None) -> list[messages.MessageView]:
    if chat_id is not None:
        found = search_q.messages(conn, viewer_id=viewer.id, terms=terms, limit=limit, chat_ids=[chat_id])
    else:
        found, complete = search_q.recent_messages(conn, viewer_id=viewer.id, terms=terms, limit=limit,
                                                   window=RECENT_WINDOW)
        if len(found) < limit and not complete:
            chat_ids = search_q.member_chat_ids(conn, viewer.id, MAX_CHAT_FILTER)
            found = search_q.messages(conn, viewer_id=viewer.id, terms=terms, limit=limit, chat_ids=chat_ids)
    return messages.views(conn, viewer.id, found)


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH string for the user's TEXT, or None when nothing in it can match."""
    terms = []
    for piece in text.replace("\x00", " ").split():  # FTS5 would read NUL as the end of the query
        if any(ch.isalnum() for ch in piece):
            piece = piece[:MAX_TERM_CHARS]
            # a one-character prefix would merge the doclists of every term with that initial
            # (the prefix indexes start at 2): match such a piece as a whole word instead
            star = "*" if len(piece) > 1 else ""
            terms.append('"' + piece.replace('"', '""') + '"' + star)
        if len(terms) == MAX_TERMS:
            break
    return " ".join(terms) or None


async def search_messages(ctx: Context, viewer: User, query: str, *, limit: int,
                          chat_id: int | None = None) -> list[messages.MessageView]:
    """Messages matching QUERY that the viewer may see, newest first; only CHAT_ID when given
    (404 when the viewer is not a member of it)."""
    match = fts_query(query)

    def search_txn(conn: apsw.Connection) -> list[messages.MessageView]:
        if chat_id is not None:
            access.member_or_404(conn, chat_id, viewer.id)
        if match is None:
            return []
        return _found_messages(conn, viewer, match, limit, chat_id)

    return await ctx.db.read(search_txn)


@dataclass(frozen=True, slots=True)
class GlobalResult:
    users: list[users.Profile]
    chats: list[ChatView]
    messages: list[messages.MessageView]


async def global_search(ctx: Context, viewer: User, query: str, *, users_limit: int, chats_limit: int,
                        messages_limit: int) -> GlobalResult:
    """Users (exactly as GET /users/search finds them), the viewer's chats whose title or handle
    matches (or, for private chats, the counterpart's name or username), and messages; each list
    at most its own limit, a limit of 0 skipping that list. Two reads, run concurrently."""
    match = fts_query(query)

    def chats_and_messages_txn(conn: apsw.Connection) -> tuple[list[ChatView], list[messages.MessageView]]:
        if match is None:
            return [], []
        found_chats: list[ChatView] = []
        if chats_limit:
            ids = search_q.chat_ids(conn, viewer_id=viewer.id, match=match, limit=chats_limit)
            found_chats = chat_reads.views_txn(conn, ctx.presence, [(chat_id, viewer.id) for chat_id in ids])
        found = _found_messages(conn, viewer, match, messages_limit) if messages_limit else []
        return found_chats, found

    async def people() -> list[users.Profile]:
        return await users.search(ctx, viewer, query, users_limit) if users_limit else []

    found_users, (found_chats, found_messages) = await asyncio.gather(
        people(), ctx.db.read(chats_and_messages_txn))
    return GlobalResult(found_users, found_chats, found_messages)
