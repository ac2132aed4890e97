"""Creating and opening a data directory (CONTRACT.md, "Data directory layout")."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from pufferd import keys as keys_mod
from pufferd import passwords
from pufferd.config import CONFIG_FILE, Settings
from pufferd.db import migrate, users_q
from pufferd.db.database import Database, DatabaseKeyError, open_connection

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")


class DataDirError(Exception):
    """The data directory cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Admin:
    username: str
    email: str
    password: str


def is_initialised(data_dir: Path) -> bool:
    return (data_dir / CONFIG_FILE).exists() or (data_dir / "pufferd.db").exists()


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_owner(data_dir: Path, st: os.stat_result) -> None:
    """Refuse a directory of another user: files created there would lock its owner out."""
    if st.st_uid != os.geteuid():
        raise DataDirError(
            f"{data_dir} belongs to {user_name(st.st_uid)}, not to {user_name(os.geteuid())}; "
            "run pufferd as the owner of the data directory")


def check_usable(data_dir: Path) -> None:
    """Refuse a data directory this process cannot or must not use, before anything touches it."""
    try:
        st = data_dir.stat()
    except FileNotFoundError:
        raise DataDirError(f"{data_dir} does not exist") from None
    except OSError as exc:
        raise DataDirError(f"{data_dir}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise DataDirError(f"{data_dir} exists and is not a directory")
    check_owner(data_dir, st)
    if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        raise DataDirError(f"{data_dir} is not writable")
    db = data_dir / "pufferd.db"
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        raise DataDirError(f"{db} is not writable")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_config(values: dict[str, object]) -> str:
    lines = ["# pufferd settings; environment variables (PUFFERD_<NAME>) and flags override these.",
             "# Keys and passwords never live here: see keys/."]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def validate_admin(admin: Admin) -> None:
    if not USERNAME_RE.match(admin.username):
        raise DataDirError("admin username: 3-32 characters, letters, digits and _, starting with a letter")
    if "@" not in admin.email or len(admin.email) > 254:
        raise DataDirError("admin e-mail: not a valid e-mail address")
    if len(admin.password) < 8:
        raise DataDirError("admin password: at least 8 characters")
    if len(admin.password.encode()) > passwords.BCRYPT_MAX_BYTES:
        raise DataDirError("admin password: at most 72 bytes in UTF-8")


def initialise(data_dir: Path, config: dict[str, object], admin: Admin, *,
               encryption: bool = True, env_db_key: str | None = None) -> None:
    """Create DATA_DIR with config, keys, blob store, outbox, database and the administrator.

    On any failure everything created here is removed again: nothing is left half-written.
    """
    validate_admin(admin)
    if is_initialised(data_dir):
        raise DataDirError(f"{data_dir} is already initialised (found {CONFIG_FILE}); refusing to overwrite")
    existed = data_dir.exists()
    if existed and not data_dir.is_dir():
        raise DataDirError(f"{data_dir} exists and is not a directory")
    if existed:
        check_owner(data_dir, data_dir.stat())
    if existed and any(data_dir.iterdir()):
        raise DataDirError(f"{data_dir} is not empty and is not a pufferd data directory")
    created: list[Path] = []
    try:
        if not existed:
            data_dir.mkdir(mode=0o700, parents=True)
            created.append(data_dir)
        elif not os.access(data_dir, os.W_OK | os.X_OK):
            raise DataDirError(f"{data_dir} is not writable")
        os.chmod(data_dir, 0o700)
        config = dict(config)
        config["db_encryption"] = encryption
        keys_mod.generate(data_dir / "keys", db_key_on_disk=encryption and not env_db_key)
        created.append(data_dir / "keys")
        for sub in ("blobs", "mail"):
            (data_dir / sub).mkdir(mode=0o700)
            created.append(data_dir / sub)
        (data_dir / "blobs" / "tmp").mkdir(mode=0o700)
        (data_dir / "mail" / "outbox").mkdir(mode=0o700)
        created.append(data_dir / "pufferd.db")
        key_hex = keys_mod.db_key_hex(data_dir / "keys", env_db_key) if encryption else None
        configured = config.get("bcrypt_rounds")
        rounds = int(configured) if isinstance(configured, (int, str)) and configured else passwords.calibrate()
        config["bcrypt_rounds"] = rounds
        os.close(os.open(data_dir / "pufferd.db", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = open_connection(data_dir / "pufferd.db", key_hex)
        try:
            migrate.migrate(conn)
            pw_hash = passwords.hash_sync(admin.password, rounds)
            with conn:
                users_q.insert(conn, email=admin.email, username=admin.username, name=admin.username,
                               password_hash=pw_hash, now=time.time(), role="owner", email_verified=True)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
        keys_mod.write_secret(data_dir / CONFIG_FILE, render_config(config))
    except BaseException:
        for path in reversed(created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        raise


def open_database(settings: Settings, *, migrate_now: bool = True) -> Database:
    """Open the database of an initialised directory, applying pending migrations."""
    check_usable(settings.data_dir)
    if not is_initialised(settings.data_dir):
        raise DataDirError(f"{settings.data_dir} is not an initialised pufferd data directory (run pufferd init)")
    key_hex, source = database_key(settings)
    try:
        db = Database(settings.db_path, key_hex, readers=settings.db_readers)
    except DatabaseKeyError:
        raise DatabaseKeyError(f"{settings.db_path}: cannot open the database with {source} "
                               "(wrong key, or not a pufferd database)") from None
    if migrate_now:
        try:
            db.migrate()
        except migrate.MigrationError:
            db.close()
            raise
    return db


def database_key(settings: Settings) -> tuple[str | None, str]:
    """The database key (hex, or None when encryption is off) and where it came from, for messages."""
    if not settings.db_encryption:
        return None, "no key (db_encryption is off)"
    env_key = settings.db_key.get_secret_value() if settings.db_key else None
    try:
        key_hex = keys_mod.db_key_hex(settings.keys_dir, env_key)
    except keys_mod.KeyError_ as exc:
        raise DataDirError(f"{exc} (or set PUFFERD_DB_KEY)") from None
    return key_hex, ("the key from PUFFERD_DB_KEY" if env_key else f"the key in {settings.keys_dir / keys_mod.DB}")
