"""Scheduled backups (issue 13, item 8): every `backup_interval_hours` the online backup of
pufferd/backup.py copies the data directory into `backup_dir`, keeping the newest `backup_keep`.

Each backup is a directory `pufferd-backup-<UTC time>` (a data directory that `pufferd serve
--data-dir` can run from, as for `pufferd backup`). It is written under a `.partial-` name and
renamed when complete, so an interrupted backup never counts as one and never pushes a good one
out; rotation deletes the oldest complete backups beyond `backup_keep` and partial leftovers. The
copy runs on a worker thread (it reads the database through its own connection and copies files),
never on the event loop. A failure is logged and shown on the task list (`scheduled_backup`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pufferd import backup, periodic
from pufferd.config import Settings
from pufferd.context import Context
from pufferd.db.users_q import User
from pufferd.privileges import Privilege, require

log = logging.getLogger(__name__)

PREFIX = "pufferd-backup-"
PARTIAL = ".partial-"
TASK = "scheduled backup"


@dataclass(frozen=True)
class BackupEntry:
    name: str
    path: Path
    size_bytes: int
    created_at: float


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def list_sync(directory: Path | None) -> list[BackupEntry]:
    """The complete backups in DIRECTORY, newest first (reads the disk: call off the loop)."""
    if directory is None or not directory.is_dir():
        return []
    out = []
    for p in directory.iterdir():
        if p.name.startswith(PREFIX) and p.is_dir() and not p.is_symlink():
            out.append(BackupEntry(p.name, p, _du(p), p.stat().st_mtime))
    return sorted(out, key=lambda e: e.name, reverse=True)


def rotate_sync(directory: Path, keep: int) -> list[str]:
    """Delete complete backups beyond the newest KEEP, and partial leftovers; return their names."""
    removed = []
    complete = sorted((p for p in directory.iterdir() if p.name.startswith(PREFIX) and p.is_dir()),
                      key=lambda p: p.name)
    stale = [p for p in directory.iterdir() if p.name.startswith(PARTIAL) and p.is_dir()]
    for p in [*complete[:max(0, len(complete) - keep)], *stale]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    return removed


def make_sync(settings: Settings, now: float) -> dict[str, int | str]:
    """Take one backup into settings.backup_dir and rotate; return what was done."""
    directory = settings.backup_dir
    if directory is None:
        raise backup.BackupError("backup_dir is not set: scheduled backups need a destination directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = PREFIX + datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    final, n = directory / name, 1
    while final.exists() or (directory / f"{PARTIAL}{final.name}").exists():
        n += 1
        final = directory / f"{name}-{n}"
    partial = directory / f"{PARTIAL}{final.name}"
    t0 = time.monotonic()
    report = backup.backup(settings, partial)
    partial.rename(final)
    removed = rotate_sync(directory, settings.backup_keep)
    log.info("scheduled backup %s: database %d bytes, %d blobs (%d bytes) in %.1f s; %d old backups removed",
             final, report.db_bytes, report.blobs, report.blob_bytes, time.monotonic() - t0, len(removed))
    return {"name": final.name, "db_bytes": report.db_bytes, "blobs": report.blobs,
            "blob_bytes": report.blob_bytes, "removed": len(removed)}


async def make(ctx: Context) -> dict[str, int | str]:
    """One scheduled backup, on a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(None, make_sync, ctx.settings, ctx.clock.time())


async def list_backups(ctx: Context, viewer: User) -> list[BackupEntry]:
    """The scheduled backups kept in backup_dir, newest first (MANAGE_SETTINGS)."""
    require(viewer, Privilege.MANAGE_SETTINGS)
    return await asyncio.get_running_loop().run_in_executor(None, list_sync, ctx.settings.backup_dir)


async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """For the app's cleanup_ctx: the task is always listed (so it can be run now); it runs on its
    own every backup_interval_hours when that and backup_dir are set."""
    s = ctx.settings
    interval = s.backup_interval_hours * 3600 if s.backup_interval_hours and s.backup_dir else None
    async with periodic.running(TASK, interval, lambda: make(ctx), board=ctx.tasks):
        yield
