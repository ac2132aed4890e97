"""The body of a response that sends a stored file: downloads from the bucket and the public
avatars of federation."""
from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from pufferd import media
from pufferd.blobs import BlobError
from pufferd.context import Context
from pufferd.db.media_q import MediaObject

log = logging.getLogger("pufferd.media")


async def send(request: web.Request, resp: web.StreamResponse, ctx: Context, obj: MediaObject,
               start: int, end: int) -> web.StreamResponse:
    """Prepare RESP (its headers set by the caller) and send bytes START..END of OBJ's blob. A
    blob missing before the headers go is a 503 (media.open_blob); one that fails while streaming
    cuts the connection, so that the client sees a short body, and is logged."""
    reader = await media.open_blob(ctx, obj)
    try:
        await resp.prepare(request)
        async with contextlib.aclosing(reader.iter_range(start, end)) as pieces:
            async for piece in pieces:
                await resp.write(piece)
    except BlobError as exc:
        log.error("blob %s of %s failed while streaming: %s (run pufferd doctor)", obj.sha256, obj.object_key, exc)
        resp.force_close()
        return resp
    finally:
        await reader.close()
    await resp.write_eof()
    return resp
