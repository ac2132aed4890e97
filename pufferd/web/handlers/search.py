"""Global search endpoint (API reference section 11)."""
from __future__ import annotations

from aiohttp import web

from pufferd import search
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.search import GlobalSearchQuery, GlobalSearchRead

routes = Router("search")


@routes.get("/api/v1/search", query=GlobalSearchQuery, response=GlobalSearchRead)
async def global_search(request: web.Request, query: GlobalSearchQuery) -> GlobalSearchRead:
    """Users, the caller's chats and the caller's messages matching the query, each list bounded
    by its own limit (0 leaves it empty).

    Users as GET /users/search finds them (prefix of username or name, at least 2 characters;
    never users who blocked the caller). Chats the caller is in, by a word prefix of title or
    handle, or of the counterpart's name for private chats, most recently active first. Messages
    as GET /messages/search finds them.
    """
    result = await search.global_search(request.app[CTX], request[USER], query.query,
                                        users_limit=query.users_limit, chats_limit=query.chats_limit,
                                        messages_limit=query.messages_limit)
    return GlobalSearchRead.of(result)
