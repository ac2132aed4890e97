"""`pufferd backup DEST`: an online, consistent copy of a data directory, taken while it serves.

What makes the copy consistent:
1. The database is copied first, with SQLite's online backup API in a single step, i.e. inside
   one read transaction: the copy is one committed state of the database. In WAL mode a reader
   does not block the server's writer, so the server keeps serving. The copy is written through a
   connection keyed with the same key, so it is encrypted exactly like the original.
2. Blobs are copied after that snapshot. A blob is immutable, named by its content, and appears
   by atomic rename before any row refers to it, so every blob the snapshot refers to exists
   when the copy starts. Blobs stored after the snapshot are copied too (unreferenced, harmless).
   Limit: a blob that the server deletes between the snapshot and its copy (because its last
   reference was deleted meanwhile) is missing from the backup; it is counted and reported.
   Uploads in progress (blobs/tmp/) are not copied.
3. keys/, acme/ (the ACME account key and the certificates it issued, when HTTPS uses ACME) and
   pufferd.toml are copied last; they change rarely (a renewal replaces a certificate whole).

Directories are created 0700 and files 0600. DEST must be absent or an empty directory; if the
backup fails, everything it created is removed again.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import apsw

from pufferd.config import CONFIG_FILE, Settings
from pufferd.datadir import check_usable, database_key, is_initialised
from pufferd.db import migrate
from pufferd.db.database import DatabaseKeyError, open_connection

DB_FILE = "pufferd.db"
ACME_DIR = "acme"  # pufferd/acme_certs.py keeps its account key and certificates there
COPY_CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup cannot be made; the message is one line for the user."""


@dataclass(frozen=True)
class BackupReport:
    destination: Path
    db_bytes: int
    schema_version: int
    blobs: int
    blob_bytes: int
    blobs_vanished: int
    key_files: int
    db_key_in_backup: bool


def _copy_file(src: Path, dst: Path) -> int:
    """Copy SRC to a new file DST created 0600, flushed to disk; return the bytes copied."""
    with src.open("rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
            return fout.tell()


def _mkdir(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # the umask may have taken bits away, never added: make it exact


def _prepare_destination(dest: Path, data_dir: Path) -> bool:
    """Check DEST and create it if absent; return whether it was created here."""
    resolved, source = dest.resolve(), data_dir.resolve()
    if resolved == source or source in resolved.parents:
        raise BackupError(f"{dest} is inside the data directory {data_dir}; choose a place outside it")
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise BackupError(f"{dest} exists and is not a directory")
        if any(dest.iterdir()):
            raise BackupError(f"{dest} is not empty; a backup goes into a new or empty directory")
        if not os.access(dest, os.W_OK | os.X_OK):
            raise BackupError(f"{dest} is not writable")
        os.chmod(dest, 0o700)
        return False
    dest.mkdir(mode=0o700, parents=True)
    os.chmod(dest, 0o700)
    return True


def _copy_database(settings: Settings, dest_db: Path) -> tuple[int, str | None]:
    """Snapshot the live database into DEST_DB with the same key; return (schema version, key)."""
    key_hex, source = database_key(settings)
    try:
        src = open_connection(settings.db_path, key_hex)
    except DatabaseKeyError:
        raise BackupError(f"{settings.db_path}: cannot open the database with {source} "
                          "(wrong key, or not a pufferd database)") from None
    try:
        os.close(os.open(dest_db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        dst = open_connection(dest_db, key_hex)
        try:
            # one step copies every page inside one read transaction: a single committed state
            with dst.backup("main", src, "main") as job:
                while not job.done:
                    job.step(-1)
            check = [next(iter(r.values())) for r in dst.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise BackupError(f"the copied database fails PRAGMA quick_check: {check[0]}")
            version = max(migrate.applied_versions(dst), default=0)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            dst.close()
    except apsw.Error as exc:
        raise BackupError(f"copying the database failed: {exc}") from None
    finally:
        src.close()
    with dest_db.open("rb+") as fh:
        os.fsync(fh.fileno())
    return version, key_hex


def _copy_blobs(blobs_dir: Path, dest: Path) -> tuple[int, int, int]:
    """Copy every stored blob (not blobs/tmp/); return (files, bytes, vanished meanwhile)."""
    _mkdir(dest)
    _mkdir(dest / "tmp")
    files = total = vanished = 0
    for root, dirs, names in os.walk(blobs_dir):
        here = Path(root)
        rel = here.relative_to(blobs_dir)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d != "tmp"]
        dirs.sort()
        for d in dirs:
            _mkdir(dest / rel / d)
        for name in sorted(names):
            path = here / name
            if not path.is_file() or path.is_symlink():
                continue
            try:
                total += _copy_file(path, dest / rel / name)
                files += 1
            except FileNotFoundError:  # deleted by the server after the snapshot (see above)
                vanished += 1
    return files, total, vanished


def _copy_acme(src: Path, dest: Path) -> None:
    """The ACME account key and certificates, when there are any (a restored server then renews
    with the same account instead of asking the CA for a new certificate at once)."""
    if not src.is_dir() or src.is_symlink():
        return
    _mkdir(dest)
    for path in sorted(src.iterdir()):
        if path.is_file() and not path.is_symlink():
            _copy_file(path, dest / path.name)


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copy the data directory of SETTINGS to DEST while the server may be running."""
    data_dir = settings.data_dir
    check_usable(data_dir)
    if not is_initialised(data_dir):
        raise BackupError(f"{data_dir} is not an initialised pufferd data directory")
    created_dest = _prepare_destination(dest, data_dir)
    try:
        version, _ = _copy_database(settings, dest / DB_FILE)
        blobs, blob_bytes, vanished = _copy_blobs(settings.blobs_dir, dest / "blobs")
        _mkdir(dest / "keys")
        key_files = 0
        for path in sorted(settings.keys_dir.iterdir()):
            if path.is_file() and not path.is_symlink():
                _copy_file(path, dest / "keys" / path.name)
                key_files += 1
        _copy_acme(settings.data_dir / ACME_DIR, dest / ACME_DIR)
        _copy_file(settings.config_path, dest / CONFIG_FILE)
        _mkdir(dest / "mail")
        _mkdir(dest / "mail" / "outbox")
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        if created_dest:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in list(dest.iterdir()):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
    return BackupReport(dest, (dest / DB_FILE).stat().st_size, version, blobs, blob_bytes, vanished,
                        key_files, db_key_in_backup=(dest / "keys" / "db.key").exists())
