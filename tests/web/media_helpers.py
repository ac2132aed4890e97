"""Helpers for the media tests: chats and messages over the real HTTP API, uploads through the
signed PUT URL, and file bodies that carry the right magic bytes."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pufferd.web.keys import CTX

PNG = b"\x89PNG\r\n\x1a\n"


def png(size: int = 4096) -> bytes:
    return PNG + os.urandom(size - len(PNG))


def local(url: str) -> str:
    """The path and query of an absolute URL of the server, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def make_group(client, owner, *members) -> int:
    resp = await client.post("/api/v1/chats", json={"type": "group", "title": f"Group of {owner.username}",
                                                    "member_ids": [m.id for m in members]}, headers=owner.headers)
    assert resp.status in (200, 201), await resp.text()
    return (await resp.json())["id"]


async def send(client, user, chat_id: int, type_: str = "image", text: str | None = None) -> int:
    resp = await client.post("/api/v1/messages", json={"chat_id": chat_id, "type": type_, "text": text},
                             headers=user.headers)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def ticket(client, user, *, size: int, file_type: str = "image/png", name: str = "photo.png",
                 expect: int = 200) -> dict[str, Any]:
    resp = await client.post("/api/v1/media/upload-url", json={"file_name": name, "file_type": file_type,
                                                               "file_size": size}, headers=user.headers)
    body = await resp.json()
    assert resp.status == expect, body
    if expect == 200:  # remembered for the tests' convenience; not part of the response
        body = {**body, "file_size": size, "file_type": file_type}
    return body


async def put(client, t: dict[str, Any], data: bytes, *, content_type: str | None = None, **kw: Any):
    headers = dict(t["required_headers"])
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await client.put(local(t["upload_url"]), data=data, headers=headers, **kw)


async def upload(client, user, data: bytes, *, file_type: str = "image/png", name: str = "photo.png") -> dict[str, Any]:
    """upload-url then PUT; returns the ticket (file_url, object_key, ...)."""
    t = await ticket(client, user, size=len(data), file_type=file_type, name=name)
    resp = await put(client, t, data)
    assert resp.status == 200, await resp.text()
    return t


async def attach(client, user, message_id: int, t: dict[str, Any], *, expect: int = 200, **extra: Any) -> Any:
    body = {"message_id": message_id, "file_url": t["file_url"], "file_type": t["file_type"],
            "file_size": t["file_size"], **extra}
    resp = await client.post("/api/v1/media/attachments", json=body, headers=user.headers)
    data = await resp.json()
    assert resp.status == expect, data
    return data


async def download(client, user, t: dict[str, Any], **headers: str):
    h = dict(user.headers) if user is not None else {}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return await client.get(local(t["file_url"]), headers=h)


async def rows(client, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await client.app[CTX].db.read(lambda c: c.execute(sql, params).fetchall())


def blob_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"
            and len(p.name) == 64]


def temp_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs" / "tmp").iterdir()]
