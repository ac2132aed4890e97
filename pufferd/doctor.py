"""`pufferd doctor`: self-checks of a data directory, one line per check (CONTRACT.md, "CLI").

Each check is a function ``check(inspection) -> str`` that returns a short detail when the check
passes and raises ``CheckFailed`` when it does not. ``CHECKS`` is the ordered list the command
runs; a new check (for example the blob store's integrity) is one function and one entry there.
The parts checks share (settings, keys, an open database connection) are loaded once by
``Inspection``; a check whose part could not be loaded is reported as skipped, because the check
that loads that part has already failed and said why.

Doctor only reads: it never migrates, repairs or creates anything, and it is safe to run while
the server is serving the same directory (the database is read inside one read transaction).
"""
from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import apsw

from pufferd import keys as keys_mod
from pufferd import media
from pufferd.blobs import LocalBlobStore
from pufferd.config import CONFIG_FILE, Settings, load_settings
from pufferd.datadir import check_usable, database_key, is_initialised, user_name
from pufferd.db import migrate, rows
from pufferd.db.database import DatabaseKeyError, open_connection

Status = Literal["ok", "FAIL", "skip"]


class CheckFailed(Exception):
    """The check found a problem; the message is one line saying what and, if possible, the fix."""


class PartUnavailable(Exception):
    """A part that checks share (settings, keys, database) could not be loaded."""

    def __init__(self, part: str, cause: BaseException) -> None:
        super().__init__(f"{part}: {cause}")
        self.part = part
        self.cause = cause


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


class Inspection:
    """The data directory under inspection and its shared parts, each loaded once on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._loaded: dict[str, tuple[Any, PartUnavailable | None]] = {}

    def _part(self, name: str, load: Callable[[], Any]) -> Any:
        if name not in self._loaded:
            try:
                self._loaded[name] = (load(), None)
            except PartUnavailable as exc:  # a part this one needs is missing: pass that on
                self._loaded[name] = (None, exc)
            except Exception as exc:  # remembered: every check that needs this part is skipped
                self._loaded[name] = (None, PartUnavailable(name, exc))
        value, error = self._loaded[name]
        if error is not None:
            raise error
        return value

    def directory(self) -> Path:
        """The data directory, usable by this user and initialised."""
        def load() -> Path:
            check_usable(self.data_dir)
            if not is_initialised(self.data_dir):
                raise CheckFailed(f"{self.data_dir} is not an initialised pufferd data directory")
            return self.data_dir
        return self._part("data directory", load)

    def settings(self) -> Settings:
        return self._part("settings", lambda: load_settings(self.directory()))

    def keys(self) -> keys_mod.Keys:
        return self._part("keys", lambda: keys_mod.Keys.load(self.settings().keys_dir))

    def database_key(self) -> tuple[str | None, str]:
        return self._part("database key", lambda: database_key(self.settings()))

    def connection(self) -> apsw.Connection:
        def load() -> apsw.Connection:
            key_hex, source = self.database_key()
            path = self.settings().db_path
            try:
                return open_connection(path, key_hex)
            except DatabaseKeyError:
                raise CheckFailed(f"{path} does not open with {source} "
                                  "(wrong key, or not a pufferd database)") from None
        return self._part("database", load)

    def close(self) -> None:
        value, _ = self._loaded.get("database", (None, None))
        if value is not None:
            value.close()


Check = Callable[[Inspection], str]


def check_data_directory(insp: Inspection) -> str:
    """The directory exists, belongs to this user, is writable and holds a pufferd installation."""
    try:
        directory = insp.directory()
    except PartUnavailable as exc:
        raise CheckFailed(str(exc.cause)) from None
    return f"{directory.resolve()} (owner {user_name(directory.stat().st_uid)})"


def _mode_problem(path: Path, expected: int, base: Path) -> str | None:
    """Why PATH's owner or mode is unsafe, or None; group and other must have no access at all."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    rel = path.relative_to(base).as_posix()
    rel = "the data directory" if rel == "." else rel
    if stat.S_ISLNK(st.st_mode):
        return f"{rel} is a symbolic link"
    if st.st_uid != os.geteuid():
        return f"{rel} belongs to {user_name(st.st_uid)}"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return f"{rel} is {mode:04o}, expected {expected:04o} (chmod {expected:o} {path})"
    if mode & expected != expected:
        return f"{rel} is {mode:04o}, the owner needs {expected:04o}"
    return None


def check_permissions(insp: Inspection) -> str:
    """Directory and keys/ 0700; key files, pufferd.toml and the database files 0600."""
    directory = insp.directory()
    keys_dir = directory / "keys"
    wanted: list[tuple[Path, int]] = [(directory, 0o700), (keys_dir, 0o700),
                                      (directory / CONFIG_FILE, 0o600)]
    for suffix in ("", "-wal", "-shm"):
        wanted.append((directory / f"pufferd.db{suffix}", 0o600))
    key_files = sorted(p for p in keys_dir.iterdir()) if keys_dir.is_dir() else []
    wanted += [(p, 0o600) for p in key_files]
    problems = [p for p in (_mode_problem(path, mode, directory) for path, mode in wanted) if p]
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"directory and keys/ 0700; {len(key_files)} key files, {CONFIG_FILE} and the database 0600"


def check_settings(insp: Inspection) -> str:
    """pufferd.toml parses and every setting (with the environment) is valid."""
    try:
        s = insp.settings()
    except PartUnavailable as exc:
        if exc.part != "settings":
            raise
        raise CheckFailed(str(exc.cause)) from None
    return f"{CONFIG_FILE} valid (server {s.server_name!r}, binds {s.host}:{s.port})"


def check_keys(insp: Inspection) -> str:
    """The master and token keys are present and well-formed, and so is the database key."""
    try:
        insp.keys()
        _, source = insp.database_key()
    except PartUnavailable as exc:
        if exc.part not in ("keys", "database key"):
            raise
        raise CheckFailed(str(exc.cause)) from None
    if not insp.settings().db_encryption:
        return "master and token keys present; the database is not encrypted (db_encryption = false)"
    return f"master and token keys present; database key {source.removeprefix('the key ')}"


def check_database(insp: Inspection) -> str:
    """The database opens and reads with the configured key."""
    try:
        conn = insp.connection()
    except PartUnavailable as exc:
        if exc.part != "database":
            raise
        raise CheckFailed(str(exc.cause)) from None
    tables = rows.one(conn.execute("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'"))["n"]
    if insp.settings().db_encryption:
        cipher = next(iter(rows.one(conn.execute("PRAGMA cipher")).values()))
        how = f"encrypted ({cipher})"
    else:
        how = "not encrypted"
    return f"opens with the key, {how}, {tables} tables"


def check_integrity(insp: Inspection) -> str:
    """PRAGMA integrity_check finds nothing, and no row breaks a foreign key."""
    conn = insp.connection()
    try:
        found = [next(iter(r.values())) for r in rows.every(conn.execute("PRAGMA integrity_check(100)"))]
    except apsw.Error as exc:  # damage bad enough that the check itself cannot read the file
        raise CheckFailed(f"PRAGMA integrity_check: {exc}") from None
    if found != ["ok"]:
        # one report may span several lines; doctor prints one line per check
        problems = [ln.strip() for row in found for ln in str(row).splitlines()
                    if ln.strip() and not ln.startswith("***")]
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckFailed(f"PRAGMA integrity_check: {'; '.join(problems[:3])}{more}")
    broken = rows.every(conn.execute("PRAGMA foreign_key_check"))
    if broken:
        tables = sorted({r["table"] for r in broken})
        raise CheckFailed(f"{len(broken)} rows break a foreign key (tables: {', '.join(tables)})")
    return "PRAGMA integrity_check ok, no foreign key violations"


def check_migrations(insp: Inspection) -> str:
    """Every migration this version ships is applied, and none the version does not know."""
    conn = insp.connection()
    known = {m.version for m in migrate.available()}
    applied = migrate.applied_versions(conn)
    newer = [v for v in applied if v not in known]
    if newer:
        raise CheckFailed(f"schema version {max(newer)} was written by a newer pufferd "
                          f"(this one knows up to {max(known)}); upgrade pufferd")
    todo = migrate.pending(conn)
    if todo:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
        raise CheckFailed(f"{len(todo)} pending ({names}); pufferd serve applies them at start")
    return f"{len(applied)} applied, none pending (schema version {max(applied, default=0)})"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError


def check_free_disk(insp: Inspection) -> str:
    """The file system of the data directory has more free space than min_free_disk_bytes."""
    s = insp.settings()
    free = shutil.disk_usage(s.data_dir).free
    if free < s.min_free_disk_bytes:
        raise CheckFailed(f"{_size(free)} free, below min_free_disk_bytes ({_size(s.min_free_disk_bytes)})")
    return f"{_size(free)} free (minimum {_size(s.min_free_disk_bytes)})"


def check_blobs(insp: Inspection) -> str:
    """Every recorded blob decrypts: each chunk authenticates, digest and size match (media area)."""
    conn = insp.connection()
    try:
        store = LocalBlobStore(insp.settings().blobs_dir, insp.keys().derive("blob encryption"))
        report = media.verify_blobs(store, conn)
    except apsw.Error as exc:  # the blob table cannot be read: the integrity check says why
        raise PartUnavailable("database", exc) from None
    orphans = f"; {len(report.orphans)} unrecorded files (removed at the next start)" if report.orphans else ""
    if not report.ok:
        problems = [f"{len(report.missing)} missing ({', '.join(d[:12] for d in report.missing[:3])})"] \
            if report.missing else []
        if report.corrupt:
            problems.append(f"{len(report.corrupt)} corrupt ({'; '.join(report.corrupt[:3])})")
        raise CheckFailed(f"{', '.join(problems)} of {len(report.missing) + len(report.corrupt) + report.checked}"
                          f" blobs{orphans}")
    return f"{report.checked} blobs ({_size(report.bytes)}) authenticate{orphans}"


# The checks `pufferd doctor` runs, in order. Add a check here: ("name", function).
CHECKS: list[tuple[str, Check]] = [
    ("data directory", check_data_directory),
    ("permissions", check_permissions),
    ("settings", check_settings),
    ("keys", check_keys),
    ("database", check_database),
    ("integrity", check_integrity),
    ("migrations", check_migrations),
    ("disk", check_free_disk),
    ("blobs", check_blobs),
]


def run(data_dir: Path, checks: list[tuple[str, Check]] | None = None) -> list[CheckResult]:
    """Run CHECKS against DATA_DIR; every check yields exactly one result."""
    insp = Inspection(data_dir)
    results: list[CheckResult] = []
    try:
        for name, check in checks if checks is not None else CHECKS:
            try:
                results.append(CheckResult(name, "ok", check(insp)))
            except CheckFailed as exc:
                results.append(CheckResult(name, "FAIL", str(exc)))
            except PartUnavailable as exc:
                results.append(CheckResult(name, "skip", f"not checked: {exc.part} unavailable"))
            except Exception as exc:  # a check must never end doctor with a traceback
                results.append(CheckResult(name, "FAIL", f"{type(exc).__name__}: {exc}"))
    finally:
        insp.close()
    return results
