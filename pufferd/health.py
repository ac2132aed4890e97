"""Readiness checks of the embedded parts: database, blob store, free disk."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile

from pufferd.context import Context


def _blobs_writable(path: str) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ready-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
        return True
    except OSError:
        return False


def _disk_ok(path: str, minimum: int) -> bool:
    try:
        return shutil.disk_usage(path).free >= minimum
    except OSError:
        return False


async def readiness(ctx: Context) -> dict[str, bool]:
    """Check each part for real; True means healthy."""
    async def db_ok() -> bool:
        try:
            rows = await asyncio.wait_for(ctx.db.read(
                lambda c: c.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()), 5)
            return rows is not None and rows["v"] is not None
        except Exception:
            return False

    s = ctx.settings
    loop = asyncio.get_running_loop()
    db, blobs, disk = await asyncio.gather(
        db_ok(),
        loop.run_in_executor(None, _blobs_writable, os.fspath(s.blobs_dir)),
        loop.run_in_executor(None, _disk_ok, os.fspath(s.data_dir), s.min_free_disk_bytes),
    )
    return {"db": db, "blobs": blobs, "disk": disk}
