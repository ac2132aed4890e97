"""Media endpoints (API reference section 9) and the bucket of this server (CONTRACT.md "Uploads").

    POST /api/v1/media/upload-url               reserve an object, get a signed single-use PUT URL
    PUT  /media/bucket/uploads/{name}?exp&sig   store the bytes (the signature authenticates)
    POST /api/v1/media/attachments              attach an uploaded file to one's own message
    GET  /api/v1/media/chats/{id}/attachments   a chat's attachments, for members
    POST /api/v1/media/download-url             a short-lived signed GET URL (no header needed)
    GET|HEAD /media/bucket/uploads/{name}       download: bearer token or ?uid&sid&exp&sig
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from pufferd import auth, media
from pufferd.errors import BadRequest
from pufferd.web import filestream, ranges
from pufferd.web.keys import CLAIMS, CTX, USER
from pufferd.web.route import Router, bearer_token
from pufferd.web.schemas.media import (
    AttachmentCreateRequest,
    AttachmentRead,
    ChatAttachmentRead,
    ChatAttachmentsQuery,
    DownloadUrlRequest,
    DownloadUrlResponse,
    UploadRead,
    UploadUrlRequest,
    UploadUrlResponse,
)

routes = Router("media")

FILE_PATH = f"{media.BUCKET_PATH}/{media.KEY_PREFIX}{{name}}"
# an uploaded file must never run as a page of this origin, whatever a browser makes of it
CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
INLINE = ("image/", "video/", "audio/")

_ERR = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_NAME = {"name": "name", "in": "path", "required": True,
         "description": "the last segment of file_url / object_key: 32 URL-safe characters and the extension",
         "schema": {"type": "string", "pattern": media.NAME_RE.pattern}}
_GET_PARAMS = [
    _NAME,
    {"name": "uid", "in": "query", "required": False, "schema": {"type": "integer"},
     "description": "signed download URL: the user it was issued to"},
    {"name": "sid", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "signed download URL: the sign-in session it was issued to (ending it ends the URL)"},
    {"name": "exp", "in": "query", "required": False, "schema": {"type": "integer"},
     "description": "signed download URL: expiry, unix seconds"},
    {"name": "sig", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "signed download URL: signature (from POST /api/v1/media/download-url)"},
    {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "one byte range, e.g. bytes=0-1023"},
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"}},
]
_GET_OPENAPI: dict[str, Any] = {
    "parameters": _GET_PARAMS,
    "security": [{"bearerAuth": []}, {}],
    "responses": {
        "200": {"description": "The file's bytes, with ETag, Content-Disposition and nosniff", "content": _BINARY},
        "206": {"description": "The requested byte range (Content-Range)", "content": _BINARY},
        "304": {"description": "If-None-Match matched the ETag"},
        "401": {"description": "Neither a bearer token nor a signed URL", "content": _ERR},
        "403": {"description": "Bad or expired signed URL", "content": _ERR},
        "404": {"description": "Unknown file, or one the caller may not see", "content": _ERR},
        "416": {"description": "Range not satisfiable (Content-Range: bytes */size)", "content": _ERR},
    },
}
_HEAD_OPENAPI = {**_GET_OPENAPI, "responses": {k: {"description": v["description"]}
                                               for k, v in _GET_OPENAPI["responses"].items()}}
_PUT_OPENAPI = {
    "parameters": [
        _NAME,
        {"name": "exp", "in": "query", "required": True, "schema": {"type": "integer"}},
        {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
    ],
    "requestBody": {"required": True, "description": "The file's bytes, exactly file_size of them, sent with "
                    "the Content-Type signed in the URL (required_headers)", "content": _BINARY},
    "responses": {
        "400": {"description": "Content-Type differs from the signed one, or the body is shorter than "
                               "file_size", "content": _ERR},
        "403": {"description": "Missing, tampered, expired or already used signature", "content": _ERR},
        "404": {"description": "Unknown object key", "content": _ERR},
        "413": {"description": "Body longer than file_size", "content": _ERR},
        "422": {"description": "The bytes do not match the signed type (magic signature)", "content": _ERR},
        "503": {"description": "Not enough free disk space", "content": _ERR},
    },
}


@routes.post("/api/v1/media/upload-url", body=UploadUrlRequest, response=UploadUrlResponse)
async def create_upload_url(request: web.Request, body: UploadUrlRequest) -> UploadUrlResponse:
    """Reserve an upload and return its signed, single-use PUT URL.

    422 for a type outside the allow-list or a size over MAX_UPLOAD_SIZE_BYTES. The file becomes
    downloadable at `file_url` once PUT; if it is never attached to a message or used as an avatar
    it is deleted after unattached_upload_ttl_seconds (default 24 h).
    """
    ticket = await media.create_upload_url(request.app[CTX], request[USER], file_name=body.file_name,
                                           file_type=body.file_type, file_size=body.file_size)
    return UploadUrlResponse.of(ticket)


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives (never all of it in memory); a stalled upload is dropped."""
    while True:
        try:
            async with asyncio.timeout(media.UPLOAD_IDLE_TIMEOUT):
                # readchunk hands over buffers as received (readany would join them: a copy)
                data, chunk_end = await request.content.readchunk()
        except TimeoutError:
            raise BadRequest("Upload stalled: no data received for a minute") from None
        except (ConnectionError, web.HTTPException):
            raise
        except Exception as exc:  # a malformed chunked body and the like
            raise BadRequest("The request body could not be read") from exc
        if not data:
            if chunk_end:  # the end of one HTTP chunk of a chunked body, not of the body
                continue
            return
        yield data


@routes.put(FILE_PATH, response=UploadRead, auth=False, openapi=_PUT_OPENAPI)
async def upload_file(request: web.Request, name: str) -> web.Response:
    """Store a file at a signed upload URL (the presigned-PUT emulation).

    The signature in the URL is the authentication; no bearer token is needed. A refused PUT
    stores nothing, and the URL stays usable for a retry until it expires.
    """
    ctx = request.app[CTX]
    obj = await media.receive_upload(ctx, name, exp=request.query.get("exp"), sig=request.query.get("sig"),
                                     content_type=request.headers.get("Content-Type"),
                                     content_length=request.content_length, body=_body(request))
    return web.Response(body=UploadRead.of(obj, ctx.settings).model_dump_json(), content_type="application/json",
                        headers={"ETag": f'"{obj.sha256}"'})


@routes.post("/api/v1/media/attachments", body=AttachmentCreateRequest, response=AttachmentRead)
async def create_attachment(request: web.Request, body: AttachmentCreateRequest) -> AttachmentRead:
    """Attach an uploaded file to a message.

    Only the message's sender (403), only a file_url of this server's bucket (422) that the caller
    uploaded (403) and finished uploading (409), with the stored file_type and file_size (422).
    404 when the message is not visible to the caller. At most 10 attachments per message.
    """
    ctx = request.app[CTX]
    attachment = await media.attach(ctx, request[USER], message_id=body.message_id, file_url=body.file_url,
                                    file_type=body.file_type, file_size=body.file_size,
                                    waveform=body.waveform_points)
    return AttachmentRead.of(attachment, ctx.settings)


@routes.get("/api/v1/media/chats/{chat_id}/attachments", query=ChatAttachmentsQuery,
            response=list[ChatAttachmentRead])
async def list_chat_attachments(request: web.Request, chat_id: int,
                                query: ChatAttachmentsQuery) -> list[ChatAttachmentRead]:
    """A chat's attachments, newest first (page with before_id); 404 for non-members."""
    ctx = request.app[CTX]
    rows = await media.chat_attachments(ctx, request[USER], chat_id, limit=query.limit, before_id=query.before_id)
    return [ChatAttachmentRead.of(a, ctx.settings) for a in rows]


@routes.post("/api/v1/media/download-url", body=DownloadUrlRequest, response=DownloadUrlResponse)
async def create_download_url(request: web.Request, body: DownloadUrlRequest) -> DownloadUrlResponse:
    """A short-lived signed GET URL for a file the caller may see, for browsers.

    An <img> or <video> element cannot send an Authorization header; the returned URL carries
    `uid`, `sid`, `exp` and `sig` instead (download_url_ttl_seconds, default 300 s); it stops
    working when the caller's session ends. 404 if the caller may not see the file.
    """
    url, ttl = await media.sign_download_url(request.app[CTX], request[USER], body.file_url,
                                             session=request[CLAIMS].session_jti)
    return DownloadUrlResponse(download_url=url, expires_in=ttl)


@routes.get(FILE_PATH, auth=False, openapi=_GET_OPENAPI)
async def download_file(request: web.Request, name: str) -> web.StreamResponse:
    """Download a file: bearer token or signed URL; Range, ETag and If-None-Match supported.

    Allowed: the uploader, members of a chat where it is attached, and whoever may see the user
    or chat whose avatar it is. Everyone else gets 404, as for an unknown file.
    """
    return await _serve(request, name, with_body=True)


@routes.route("HEAD", FILE_PATH, auth=False, openapi=_HEAD_OPENAPI)
async def head_file(request: web.Request, name: str) -> web.StreamResponse:
    """The headers a GET of the file would send, without the bytes."""
    return await _serve(request, name, with_body=False)


async def _serve(request: web.Request, name: str, *, with_body: bool) -> web.StreamResponse:
    ctx = request.app[CTX]
    viewer = None
    token = bearer_token(request)
    if token is not None:
        viewer, _ = await auth.authenticate(ctx, token)
    q = request.query
    obj = await media.find_download(ctx, name, viewer=viewer,
                                    signed=media.SignedGet(q.get("uid"), q.get("exp"), q.get("sig"), q.get("sid")))
    etag = f'"{obj.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": CSP, "Accept-Ranges": "bytes", "Vary": "Authorization"}
    if ranges.not_modified(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    size = obj.file_size
    span = None
    if ranges.range_applies(request.headers.get("If-Range"), etag):
        try:
            span = ranges.parse_range(request.headers.get("Range"), size)
        except ranges.Unsatisfiable:
            raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}) from None
    start, end = span or (0, size)
    disposition = "inline" if obj.file_type.startswith(INLINE) else "attachment"
    headers["Content-Disposition"] = ranges.content_disposition(disposition, obj.file_name)
    headers["Content-Type"] = "text/plain; charset=utf-8" if obj.file_type == "text/plain" else obj.file_type
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    resp = web.StreamResponse(status=206 if span is not None else 200, headers=headers)
    resp.content_length = end - start
    if not with_body:
        await resp.prepare(request)
        await resp.write_eof()
        return resp
    return await filestream.send(request, resp, ctx, obj, start, end)
