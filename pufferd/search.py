"""Search (API reference 8 `GET /messages/search` and 11 `GET /search`) over the FTS5 indexes.

Query language: none. The user's text is split on whitespace; every piece that holds a letter or
digit becomes a quoted FTS5 string with a prefix star ("hel wor" → `"hel"* "wor"*`), and all
pieces must match (AND). Quotes inside a piece are doubled, so `"`, `*`, `NEAR`, `AND`, `-`,
`:`, `^` and parentheses are plain text and never an FTS syntax error. Matching folds case and
diacritics (unicode61, remove_diacritics 2): "cafe" finds "Café". Emoji and punctuation are not
indexed, so a query made only of them finds nothing (an empty list, not an error).

Results are what the caller may see: messages of chats they are in, newer than their
clear-history mark and not deleted for them, newest first; users who have not blocked the
caller (and are not disabled); chats the caller is in.
"""
from __future__ import annotations

from dataclasses import dataclass

import apsw

from pufferd import messages
from pufferd.context import Context
from pufferd.db import search_q
from pufferd.db.users_q import User

MAX_TERMS = 16      # pieces of a query that are matched; the rest is ignored
MAX_TERM_CHARS = 64


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH string for the user's TEXT, or None when nothing in it can match."""
    terms = []
    for piece in text.split():
        if any(ch.isalnum() for ch in piece):
            piece = piece[:MAX_TERM_CHARS]
            terms.append('"' + piece.replace('"', '""') + '"*')
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
            messages.member_or_404(conn, chat_id, viewer.id)
        if match is None:
            return []
        found = search_q.messages(conn, viewer_id=viewer.id, match=match, limit=limit, chat_id=chat_id)
        return messages.views(conn, viewer.id, found)

    return await ctx.db.read(search_txn)


@dataclass(frozen=True, slots=True)
class GlobalResult:
    user_ids: list[int]
    chat_ids: list[int]
    messages: list[messages.MessageView]


def global_txn(conn: apsw.Connection, viewer: User, query: str, *, users_limit: int, chats_limit: int,
               messages_limit: int) -> GlobalResult:
    """Ids of matching users and chats, and matching messages, in one read transaction."""
    match = fts_query(query)
    if match is None:
        return GlobalResult([], [], [])
    users = search_q.user_ids(conn, viewer_id=viewer.id, match=match, limit=users_limit) if users_limit else []
    chats = search_q.chat_ids(conn, viewer_id=viewer.id, match=match, limit=chats_limit) if chats_limit else []
    found = (search_q.messages(conn, viewer_id=viewer.id, match=match, limit=messages_limit)
             if messages_limit else [])
    return GlobalResult(users, chats, messages.views(conn, viewer.id, found))
