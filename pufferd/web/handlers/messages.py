"""Messages endpoints (API reference section 8)."""
from __future__ import annotations

from aiohttp import web

from pufferd import messages, search
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.messages import (
    DeleteQuery,
    HistoryQuery,
    MessageCreate,
    MessageEdit,
    MessageForward,
    MessageForwardBulk,
    MessageReactionRead,
    MessageReactionToggle,
    MessageRead,
    MessageSearchQuery,
    MessageStatusRead,
    MessageStatusUpdate,
    ThreadQuery,
)

routes = Router("messages")

_REPLAY = {"responses": {"200": {
    "description": "Idempotent replay: this sender already sent this client_message_id; the stored "
                   "message is returned and nothing new is stored",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MessageRead"}}}}}}


@routes.post("/api/v1/messages", body=MessageCreate, response=MessageRead, status=201, openapi=_REPLAY)
async def send_message(request: web.Request, body: MessageCreate) -> MessageRead | web.Response:
    """Send a message to a chat the caller may post in.

    201 with the new message; 200 with the original message when the same sender already sent the
    same client_message_id (idempotent retry). 404 when the caller is not a member, 403 for a
    channel member who is not owner/admin or a private chat refused by blocks or privacy, 422 for
    empty text, text over the length limit or a reply_to_message_id outside the chat, 429 over
    MESSAGE_RATE_LIMIT_PER_MINUTE or for the same text in the same chat within
    DUPLICATE_MESSAGE_COOLDOWN_SECONDS.
    """
    view, created = await messages.send(
        request.app[CTX], request[USER], chat_id=body.chat_id, type_=body.type, text=body.text,
        client_message_id=body.client_message_id, reply_to_message_id=body.reply_to_message_id)
    read = MessageRead.of(view)
    if created:
        return read
    return web.Response(body=read.model_dump_json(), status=200, content_type="application/json")


# registered before /messages/{chat_id} so that "search" is not taken for a chat id
@routes.get("/api/v1/messages/search", query=MessageSearchQuery, response=list[MessageRead])
async def search_messages(request: web.Request, query: MessageSearchQuery) -> list[MessageRead]:
    """Full-text search in the messages the caller may see, newest first.

    Every word is a prefix match and all words must match; case and accents are ignored; FTS
    syntax characters are plain text. With chat_id, only that chat (404 if not a member).
    """
    found = await search.search_messages(request.app[CTX], request[USER], query.query,
                                         limit=query.limit, chat_id=query.chat_id)
    return [MessageRead.of(v) for v in found]


@routes.post("/api/v1/messages/status", body=MessageStatusUpdate, response=MessageStatusRead)
async def update_message_status(request: web.Request, body: MessageStatusUpdate) -> MessageStatusRead:
    """Move the caller's delivered/read cursor of a chat forward (never backwards); returns both.

    message_read also marks delivery. message_id must be a message of the chat (or a since-deleted
    one below the chat's newest), else 404.
    """
    cursors = await messages.update_status(request.app[CTX], request[USER], chat_id=body.chat_id,
                                           message_id=body.message_id, status=body.status)
    return MessageStatusRead.of(cursors)


@routes.get("/api/v1/messages/{chat_id}", query=HistoryQuery, response=list[MessageRead])
async def chat_history(request: web.Request, chat_id: int, query: HistoryQuery) -> list[MessageRead]:
    """A page of a chat's messages, newest first, older than before_id when given.

    Messages at or below the caller's clear-history mark and messages deleted for the caller are
    left out. 404 when the caller is not a member.
    """
    page = await messages.history(request.app[CTX], request[USER], chat_id, limit=query.limit,
                                  before_id=query.before_id)
    return [MessageRead.of(v) for v in page]


@routes.get("/api/v1/messages/{message_id}/thread", query=ThreadQuery, response=list[MessageRead])
async def message_thread(request: web.Request, message_id: int, query: ThreadQuery) -> list[MessageRead]:
    """The message and its replies, breadth-first by reply links (depth, then age), at most limit."""
    found = await messages.thread(request.app[CTX], request[USER], message_id, limit=query.limit)
    return [MessageRead.of(v) for v in found]


@routes.put("/api/v1/messages/{message_id}", body=MessageEdit, response=MessageRead)
async def edit_message(request: web.Request, message_id: int, body: MessageEdit) -> MessageRead:
    """Edit the text of the caller's own message; updated_at moves.

    The sending rules apply: 403 for someone else's message, a private chat refused by a block or
    privacy, or a channel where the caller may no longer post; 404 when the caller cannot see the
    message (left, banned); 429 over MESSAGE_RATE_LIMIT_PER_MINUTE, which edits share with sends.
    """
    view = await messages.edit(request.app[CTX], request[USER], message_id, body.text)
    return MessageRead.of(view)


@routes.delete("/api/v1/messages/{message_id}", query=DeleteQuery, status=204)
async def delete_message(request: web.Request, message_id: int, query: DeleteQuery) -> None:
    """Delete a message: for_all=false hides it for the caller; for_all=true removes it for everyone
    (its sender, or an owner/admin of a group or channel; else 403)."""
    await messages.delete(request.app[CTX], request[USER], message_id, for_all=query.for_all)


@routes.post("/api/v1/messages/{message_id}/forward", body=MessageForward, response=MessageRead, status=201)
async def forward_message(request: web.Request, message_id: int, body: MessageForward) -> MessageRead:
    """Forward a message into a chat where the caller may post.

    include_author=false leaves forwarded_from_sender_id null: the copy shows no original author.
    """
    views = await messages.forward(request.app[CTX], request[USER], message_id, [body.target_chat_id],
                                   include_author=body.include_author)
    return MessageRead.of(views[0])


@routes.post("/api/v1/messages/{message_id}/forward-bulk", body=MessageForwardBulk,
             response=list[MessageRead], status=201)
async def forward_message_bulk(request: web.Request, message_id: int,
                               body: MessageForwardBulk) -> list[MessageRead]:
    """Forward a message into several chats, all or nothing: if one target is refused, none gets it."""
    views = await messages.forward(request.app[CTX], request[USER], message_id, body.target_chat_ids,
                                   include_author=body.include_author)
    return [MessageRead.of(v) for v in views]


@routes.get("/api/v1/messages/{message_id}/reactions", response=list[MessageReactionRead])
async def message_reactions(request: web.Request, message_id: int) -> list[MessageReactionRead]:
    """Reactions on a message: per emoji the count and whether the caller reacted, most used first."""
    counts = await messages.reactions(request.app[CTX], request[USER], message_id)
    return [MessageReactionRead.of(c) for c in counts]


@routes.post("/api/v1/messages/{message_id}/reactions/toggle", body=MessageReactionToggle,
             response=list[MessageReactionRead])
async def toggle_reaction(request: web.Request, message_id: int,
                          body: MessageReactionToggle) -> list[MessageReactionRead]:
    """Add the caller's reaction with this emoji, or remove it if present; returns all reactions."""
    counts = await messages.toggle_reaction(request.app[CTX], request[USER], message_id, body.emoji)
    return [MessageReactionRead.of(c) for c in counts]
