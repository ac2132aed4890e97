"""The command line end to end: real `pufferd` subprocesses (CONTRACT.md, "CLI"; issue 2)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import apsw
import pytest
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, clean_env, pufferd_command, run_pufferd, snapshot

from pufferd import __version__, passwords
from pufferd.db import users_q
from pufferd.db.database import open_connection
from pufferd.keys import db_key_hex


def open_db(data_dir: Path, env_key: str | None = None) -> apsw.Connection:
    """A connection to DATA_DIR's encrypted database, opened the way the server opens it."""
    return open_connection(data_dir / "pufferd.db", db_key_hex(data_dir / "keys", env_key))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, object]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_json(url: str, body: object, headers: dict[str, str] | None = None) -> tuple[int, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def assert_one_error_line(result, *fragments: str) -> None:
    """Bad input: non-zero exit and exactly one clear `pufferd: error:` line, no traceback."""
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pufferd: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr


def init_args(directory: Path, *extra: str) -> list[object]:
    return ["init", "--data-dir", directory, "--non-interactive", "--bcrypt-rounds", "4",
            "--admin-username", "admin", "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD,
            *extra]


# version -------------------------------------------------------------------------------------------

def test_version_prints_the_version():
    result = run_pufferd("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"pufferd {__version__} (Python 3.")
    assert "SQLite 3." in result.stdout


# init ------------------------------------------------------------------------------------------------

def test_init_non_interactive_creates_the_layout_with_private_modes(tmp_path):
    directory = tmp_path / "new"
    result = run_pufferd(*init_args(directory, "--server-name", "Club", "--port", "7600"))
    assert result.returncode == 0, result.stderr
    assert f"initialised {directory}" in result.stdout
    assert mode(directory) == 0o700
    assert mode(directory / "keys") == 0o700
    assert sorted(p.name for p in (directory / "keys").iterdir()) == ["db.key", "jwt.key", "master.key"]
    assert all(mode(p) == 0o600 for p in (directory / "keys").iterdir())
    assert mode(directory / "pufferd.toml") == 0o600
    assert mode(directory / "pufferd.db") == 0o600
    assert (directory / "blobs").is_dir() and (directory / "mail" / "outbox").is_dir()
    config = tomllib.loads((directory / "pufferd.toml").read_text())
    assert config["server_name"] == "Club" and config["port"] == 7600 and config["db_encryption"] is True
    conn = open_db(directory)
    admin = users_q.get_by_email(conn, ADMIN_EMAIL)
    conn.close()
    assert admin is not None and admin.is_admin and admin.username == "admin"
    assert passwords.verify_sync(ADMIN_PASSWORD, admin.password_hash)


def test_init_interactive_reads_the_answers_from_its_prompts(tmp_path):
    directory = tmp_path / "asked"
    answers = "Family Chat\n\nboss\nboss@example.com\nsecret-pass-1\nsecret-pass-1\n"
    result = run_pufferd("init", "--data-dir", directory, "--bcrypt-rounds", "4", input=answers)
    assert result.returncode == 0, result.stderr
    assert "Server name" in result.stdout and "Administrator e-mail" in result.stdout
    assert "administrator: boss <boss@example.com>" in result.stdout
    assert tomllib.loads((directory / "pufferd.toml").read_text())["server_name"] == "Family Chat"
    conn = open_db(directory)
    boss = users_q.get_by_email(conn, "boss@example.com")
    conn.close()
    assert boss is not None and boss.is_admin
    assert passwords.verify_sync("secret-pass-1", boss.password_hash)


def test_init_interactive_with_input_ending_early_creates_nothing(tmp_path):
    directory = tmp_path / "half"
    result = run_pufferd("init", "--data-dir", directory, "--bcrypt-rounds", "4", input="Name\n\nboss\n")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert not directory.exists()


def test_init_refuses_an_initialised_directory(initialised_dir):
    before = snapshot(initialised_dir)
    result = run_pufferd(*init_args(initialised_dir))
    assert result.returncode == 1
    assert_one_error_line(result, "already initialised")
    assert snapshot(initialised_dir) == before


def test_init_non_interactive_without_admin_values_is_refused(tmp_path):
    directory = tmp_path / "missing"
    result = run_pufferd("init", "--data-dir", directory, "--non-interactive")
    assert_one_error_line(result, "--admin-username", "--admin-email", "--admin-password")
    assert not directory.exists()


def test_init_with_a_short_admin_password_creates_nothing(tmp_path):
    directory = tmp_path / "short"
    args = init_args(directory)
    args[args.index(ADMIN_PASSWORD)] = "short"
    result = run_pufferd(*args)
    assert_one_error_line(result, "admin password")
    assert not directory.exists()


def test_init_with_an_invalid_setting_names_it_and_creates_nothing(tmp_path):
    directory = tmp_path / "badport"
    result = run_pufferd(*init_args(directory, "--port", "70000"))
    assert_one_error_line(result, "port")
    assert not directory.exists()


# serve -----------------------------------------------------------------------------------------------

def test_serve_logs_the_listening_line_and_answers(server: ServerProcess):
    host_port = server.base_url.removeprefix("http://")
    host, port = host_port.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert f"listening on http://{host_port}" in server.log()
    assert get_json(server.base_url + "/health/live") == (200, {"status": "ok"})
    assert get_json(server.base_url + "/health/ready")[0] == 200


def test_serve_auto_initialises_and_prints_the_admin_credentials_once(tmp_path, start_server):
    directory = tmp_path / "fresh"
    env = {"PUFFERD_BCRYPT_ROUNDS": "4"}
    first = start_server(directory, env=env)
    log = first.log()
    assert f"initialised a new data directory at {directory}" in log
    line = next(ln for ln in log.splitlines() if ln.startswith("administrator login:"))
    password = line.rsplit("password ", 1)[1].strip()
    assert len(password) >= 16
    assert first.stop() == 0
    assert mode(directory) == 0o700 and mode(directory / "keys" / "db.key") == 0o600
    conn = open_db(directory)
    admin = users_q.get_by_email(conn, "admin@localhost")
    conn.close()
    assert admin is not None and admin.is_admin
    assert passwords.verify_sync(password, admin.password_hash)
    second = start_server(directory, env=env)
    assert "administrator login" not in second.log() and "initialised" not in second.log()
    assert get_json(second.base_url + "/health/ready")[0] == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_exits_cleanly_on_signal(server: ServerProcess, sig):
    assert get_json(server.base_url + "/health/live")[0] == 200
    assert server.stop(sig) == 0
    log = server.log()
    assert "shutting down" in log and "stopped" in log
    assert "Traceback" not in log
    wal = server.data_dir / "pufferd.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed at shutdown
    assert run_pufferd("doctor", "--data-dir", server.data_dir).returncode == 0


def test_signals_repeated_during_shutdown_do_not_cut_it_short(server: ServerProcess):
    status, body = post_json(server.base_url + "/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert status == 200, body
    # a WebSocket client that never answers the server's closing frame holds the shutdown open
    # for the close timeout, so the repeated signals surely land during it (on a loaded machine
    # an idle server could stop before the second signal is even sent)
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    silent = socket.create_connection((host, int(port)), timeout=10)
    silent.sendall((f"GET /api/v1/ws?token={body['access_token']} HTTP/1.1\r\nHost: {host}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
    assert silent.recv(4096).startswith(b"HTTP/1.1 101")
    deadline = time.monotonic() + 20
    while server.process.poll() is None and time.monotonic() < deadline:
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.002)
    assert server.stop() == 0, server.log()
    log = server.log()
    assert "stopped" in log and "Traceback" not in log
    assert "already shutting down" in log
    silent.close()


def test_serve_on_port_0_builds_links_with_the_port_it_got(server: ServerProcess):
    status, body = post_json(server.base_url + "/api/v1/media/upload-url",
                             {"file_name": "a.png", "file_type": "image/png", "file_size": 10},
                             headers=server.headers())
    assert status == 200, body
    assert body["upload_url"].startswith(server.base_url + "/")
    assert body["file_url"].startswith(server.base_url + "/")


# doctor ----------------------------------------------------------------------------------------------

def test_doctor_passes_on_a_fresh_directory_and_changes_nothing(initialised_dir):
    before = snapshot(initialised_dir)
    result = run_pufferd("doctor", "--data-dir", initialised_dir)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.strip().splitlines()
    checks = [ln for ln in lines[:-1]]
    assert [ln.split(":")[0].split(None, 1)[1] for ln in checks] == [
        "data directory", "permissions", "settings", "keys", "database", "integrity", "migrations", "disk",
        "blobs"]
    assert all(ln.startswith("ok ") for ln in checks), result.stdout
    assert lines[-1] == f"doctor: all {len(checks)} checks ok"
    assert snapshot(initialised_dir) == before


def test_doctor_passes_while_the_server_runs(server: ServerProcess):
    result = run_pufferd("doctor", "--data-dir", server.data_dir)
    assert result.returncode == 0, result.stdout


def _record_newer_schema(d: Path) -> None:
    conn = open_db(d)
    conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 0)")
    conn.close()


def _forget_last_migration(d: Path) -> None:
    conn = open_db(d)
    conn.execute("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)")
    conn.close()


def _break_a_foreign_key(d: Path) -> None:
    conn = open_db(d)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO notifications(user_id, event_type, payload, created_at) VALUES (424242, 'x', '{}', 0)")
    conn.close()


def _damage_a_page(d: Path) -> None:
    """Fill a new table (its pages land at the end of the file), then scramble the last page."""
    conn = open_db(d)
    conn.execute("CREATE TABLE filler(x BLOB)")
    conn.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(300),) for _ in range(200)])
    conn.close()  # checkpoints the WAL into the file
    db = d / "pufferd.db"
    data = bytearray(db.read_bytes())
    start = len(data) - 4096 + 100
    data[start:start + 64] = os.urandom(64)
    db.write_bytes(bytes(data))


DOCTOR_FAILURES = {
    "toml readable by others": (lambda d: os.chmod(d / "pufferd.toml", 0o644), {}, "permissions",
                                "pufferd.toml is 0644"),
    "key readable by group": (lambda d: os.chmod(d / "keys" / "jwt.key", 0o640), {}, "permissions",
                              "keys/jwt.key is 0640"),
    "directory open to others": (lambda d: os.chmod(d, 0o755), {}, "permissions",
                                 "the data directory is 0755"),
    "database key deleted": (lambda d: (d / "keys" / "db.key").unlink(), {}, "keys", "key file missing"),
    "wrong PUFFERD_DB_KEY": (lambda d: None, {"PUFFERD_DB_KEY": "not the key"}, "database",
                             "does not open with the key from PUFFERD_DB_KEY"),
    "corrupt pufferd.toml": (lambda d: (d / "pufferd.toml").write_text("port = [\n"), {}, "settings",
                             "not valid TOML"),
    "newer schema": (_record_newer_schema, {}, "migrations", "newer pufferd"),
    "pending migration": (_forget_last_migration, {}, "migrations", "1 pending"),
    "foreign key broken": (_break_a_foreign_key, {}, "integrity", "break a foreign key"),
    "damaged page": (_damage_a_page, {}, "integrity", "integrity_check"),
    "disk nearly full": (lambda d: None, {"PUFFERD_MIN_FREE_DISK_BYTES": str(2**62)}, "disk",
                         "below min_free_disk_bytes"),
}


@pytest.mark.parametrize("case", DOCTOR_FAILURES, ids=list(DOCTOR_FAILURES))
def test_doctor_reports_the_failing_check_and_exits_non_zero(initialised_dir, case):
    damage, env, failing, fragment = DOCTOR_FAILURES[case]
    damage(initialised_dir)
    result = run_pufferd("doctor", "--data-dir", initialised_dir, env=env)
    assert result.returncode == 1, result.stdout
    lines = {ln.split(":")[0].split(None, 1)[1]: ln for ln in result.stdout.strip().splitlines()[:-1]}
    assert lines[failing].startswith("FAIL "), result.stdout
    assert fragment in lines[failing], result.stdout
    assert "failed" in result.stdout.strip().splitlines()[-1]
    # every other check either passed or could not run because of this failure
    assert all(ln.split()[0] in ("ok", "skip") for name, ln in lines.items() if name != failing), result.stdout


def test_doctor_on_a_missing_directory_fails_and_skips_the_rest(tmp_path):
    result = run_pufferd("doctor", "--data-dir", tmp_path / "nothing")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("FAIL  data directory:") and "does not exist" in lines[0]
    assert all(ln.startswith("skip ") for ln in lines[1:-1])
    assert not (tmp_path / "nothing").exists()


# backup ----------------------------------------------------------------------------------------------

def _insert_users(data_dir: Path, prefix: str, stop: threading.Event, counter: list[int]) -> None:
    """Commit one new user at a time until STOP, counting the commits (a live writer)."""
    conn = open_db(data_dir)
    try:
        while not stop.is_set():
            n = counter[0]
            with conn:
                users_q.insert(conn, email=f"{prefix}{n}@example.com", username=f"{prefix}{n}",
                               name=f"{prefix} {n}", password_hash="x", now=time.time())
            counter[0] = n + 1
    finally:
        conn.close()


def test_backup_while_serving_is_consistent_and_serves(server: ServerProcess, tmp_path, start_server):
    blob = server.data_dir / "blobs" / "ab" / ("ab" + "0" * 62)
    blob.parent.mkdir(mode=0o700)
    blob.write_bytes(os.urandom(70_000))
    (server.data_dir / "blobs" / "tmp" / "upload-in-progress").write_bytes(b"partial")
    # a second writer commits rows while the backup runs: the copy must be one committed state
    stop, counter = threading.Event(), [0]
    writer = threading.Thread(target=_insert_users, args=(server.data_dir, "bulk", stop, counter))
    writer.start()
    try:
        while counter[0] < 50:
            time.sleep(0.01)
        dest = tmp_path / "backups" / "today"
        result = run_pufferd("backup", dest, "--data-dir", server.data_dir)
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    assert f"written to {dest}" in result.stdout and "blobs: 1 files, 70000 bytes" in result.stdout

    assert mode(dest) == 0o700 and mode(dest / "keys") == 0o700 and mode(dest / "blobs") == 0o700
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files)
    assert (dest / "blobs" / "ab" / blob.name).read_bytes() == blob.read_bytes()
    assert not (dest / "blobs" / "tmp" / "upload-in-progress").exists()
    assert sorted(p.name for p in (dest / "keys").iterdir()) == ["db.key", "jwt.key", "master.key"]
    assert not (dest / "pufferd.db-wal").exists()

    conn = open_db(dest)
    names = [r["username"] for r in conn.execute("SELECT username FROM users WHERE username LIKE 'bulk%'")]
    conn.close()
    copied = len(names)
    assert 50 <= copied <= counter[0]
    assert sorted(names) == sorted(f"bulk{i}" for i in range(copied))  # a prefix: no gap, no torn row

    doctor = run_pufferd("doctor", "--data-dir", dest)
    assert doctor.returncode == 0, doctor.stdout
    restored = start_server(dest)
    status, body = get_json(restored.base_url + "/health/ready")
    assert status == 200, body
    assert restored.stop() == 0


def test_backup_refuses_a_non_empty_destination(initialised_dir, tmp_path):
    dest = tmp_path / "occupied"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    before, source_before = snapshot(dest), snapshot(initialised_dir)
    result = run_pufferd("backup", dest, "--data-dir", initialised_dir)
    assert_one_error_line(result, "not empty")
    assert snapshot(dest) == before
    assert snapshot(initialised_dir) == source_before


def test_backup_into_an_empty_directory_works(initialised_dir, tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir(mode=0o755)
    result = run_pufferd("backup", dest, "--data-dir", initialised_dir)
    assert result.returncode == 0, result.stderr
    assert mode(dest) == 0o700
    assert run_pufferd("doctor", "--data-dir", dest).returncode == 0


def test_backup_copies_the_acme_account_key_and_certificates(initialised_dir, tmp_path):
    acme = initialised_dir / "acme"
    acme.mkdir(mode=0o700)
    (acme / "account.key").write_bytes(b"account key")
    (acme / "chat.example.crt").write_bytes(b"certificate chain")
    dest = tmp_path / "copy"
    result = run_pufferd("backup", dest, "--data-dir", initialised_dir)
    assert result.returncode == 0, result.stderr
    assert (dest / "acme" / "account.key").read_bytes() == b"account key"
    assert (dest / "acme" / "chat.example.crt").read_bytes() == b"certificate chain"
    assert mode(dest / "acme") == 0o700
    assert mode(dest / "acme" / "account.key") == 0o600


def test_backup_without_acme_makes_no_acme_directory(initialised_dir, tmp_path):
    dest = tmp_path / "copy"
    assert run_pufferd("backup", dest, "--data-dir", initialised_dir).returncode == 0
    assert not (dest / "acme").exists()


def test_backup_refuses_a_destination_inside_the_data_directory(initialised_dir):
    result = run_pufferd("backup", initialised_dir / "blobs" / "copy", "--data-dir", initialised_dir)
    assert_one_error_line(result, "inside the data directory")
    assert not (initialised_dir / "blobs" / "copy").exists()


def test_backup_with_a_wrong_key_leaves_no_destination(initialised_dir, tmp_path):
    dest = tmp_path / "never"
    result = run_pufferd("backup", dest, "--data-dir", initialised_dir, env={"PUFFERD_DB_KEY": "wrong"})
    assert_one_error_line(result, "PUFFERD_DB_KEY")
    assert not dest.exists()


def test_backup_of_a_directory_keyed_from_the_environment_says_the_key_is_not_included(tmp_path, start_server):
    key = "a" * 64
    source = tmp_path / "envkey"
    assert run_pufferd(*init_args(source), env={"PUFFERD_DB_KEY": key}).returncode == 0
    assert not (source / "keys" / "db.key").exists()
    dest = tmp_path / "envkey-backup"
    result = run_pufferd("backup", dest, "--data-dir", source, env={"PUFFERD_DB_KEY": key})
    assert result.returncode == 0, result.stderr
    assert "needs the same PUFFERD_DB_KEY" in result.stdout
    assert run_pufferd("doctor", "--data-dir", dest, env={"PUFFERD_DB_KEY": key}).returncode == 0
    assert run_pufferd("doctor", "--data-dir", dest).returncode == 1
    restored = start_server(dest, env={"PUFFERD_DB_KEY": key})
    assert get_json(restored.base_url + "/health/ready")[0] == 200


# bad input: one clear line, non-zero exit, data directory unchanged ---------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["serve", "--bogus"], "No such option '--bogus'"),
    (["init", "--colour", "blue"], "No such option '--colour'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["serve", "--port", "abc"], "'abc' is not a valid integer"),
    (["backup"], "Missing argument 'DEST'"),
], ids=["serve-flag", "init-flag", "command", "port-type", "backup-dest"])
def test_bad_command_line_is_one_line_and_touches_nothing(tmp_path, args, fragment):
    result = run_pufferd(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert_one_error_line(result, fragment)
    assert list(tmp_path.iterdir()) == []  # not even ./pufferd-data was created


def _serve_once(data_dir: Path, *args: str, env: dict[str, str] | None = None):
    """`pufferd serve` that must refuse to start (bounded: a server that starts is a failure)."""
    return run_pufferd("serve", "--data-dir", data_dir, *args, env=env, timeout=30)


def test_serve_refuses_a_corrupt_pufferd_toml(initialised_dir):
    with (initialised_dir / "pufferd.toml").open("a") as fh:
        fh.write('server_name = "unterminated\n')
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir)
    assert_one_error_line(result, "pufferd.toml: not valid TOML")
    assert snapshot(initialised_dir) == before


@pytest.mark.parametrize("line, setting", [
    ("port = 99999", "port"), ("log_level = \"loud\"", "log_level"), ("no_such_setting = 1", "no_such_setting"),
])
def test_serve_refuses_an_invalid_setting_in_pufferd_toml_naming_it(initialised_dir, line, setting):
    with (initialised_dir / "pufferd.toml").open("a") as fh:
        fh.write(line + "\n")
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir)
    assert_one_error_line(result, f"invalid setting {setting}")
    assert snapshot(initialised_dir) == before


def test_serve_refuses_an_invalid_environment_setting_before_creating_anything(tmp_path):
    directory = tmp_path / "fresh"
    result = _serve_once(directory, env={"PUFFERD_PORT": "many"})
    assert_one_error_line(result, "invalid setting port")
    assert not directory.exists()


def test_serve_refuses_a_port_in_use(initialised_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = snapshot(initialised_dir)
        result = _serve_once(initialised_dir, "--port", str(port))
        assert_one_error_line(result, f"127.0.0.1:{port} is already in use")
        assert snapshot(initialised_dir) == before
        fresh = tmp_path / "fresh"
        result = _serve_once(fresh, "--port", str(port))
        assert_one_error_line(result, "already in use")
        assert not fresh.exists()


def test_serve_refuses_a_wrong_database_key(initialised_dir):
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir, env={"PUFFERD_DB_KEY": "f" * 64})
    assert_one_error_line(result, "cannot open the database with the key from PUFFERD_DB_KEY")
    assert snapshot(initialised_dir) == before


def test_serve_refuses_a_missing_database_key(initialised_dir):
    (initialised_dir / "keys" / "db.key").unlink()
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir)
    assert_one_error_line(result, "db.key: key file missing", "PUFFERD_DB_KEY")
    assert snapshot(initialised_dir) == before


def test_serve_refuses_a_missing_token_key(initialised_dir):
    (initialised_dir / "keys" / "jwt.key").unlink()
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir)
    assert_one_error_line(result, "jwt.key: key file missing")
    assert snapshot(initialised_dir) == before


def test_serve_refuses_a_foreign_non_empty_directory(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8 not a database")
    before = snapshot(foreign)
    result = _serve_once(foreign)
    assert_one_error_line(result, "is not empty and is not a pufferd data directory")
    assert snapshot(foreign) == before


def test_serve_refuses_a_data_directory_of_another_user(initialised_dir):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    shutil.chown(initialised_dir, user=65534)
    before = snapshot(initialised_dir)
    result = _serve_once(initialised_dir)
    assert_one_error_line(result, "belongs to", "run pufferd as the owner")
    assert snapshot(initialised_dir) == before


def _as_unprivileged(args: list[str]) -> list[str]:
    """Run ARGS without the power to ignore file modes (root keeps its uid but loses DAC override)."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("as root, a non-writable directory needs setpriv to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *args]


def test_serve_refuses_a_non_writable_data_directory(initialised_dir):
    os.chmod(initialised_dir, 0o500)
    try:
        before = snapshot(initialised_dir)
        result = subprocess.run(
            _as_unprivileged([*pufferd_command(), "serve", "--data-dir", str(initialised_dir)]),
            env=clean_env(), capture_output=True, text=True, timeout=30, start_new_session=True)
        assert_one_error_line(result, "is not writable")
        assert snapshot(initialised_dir) == before
    finally:
        os.chmod(initialised_dir, 0o700)


def test_serve_refuses_a_data_directory_it_cannot_create(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o500)
    try:
        result = subprocess.run(
            _as_unprivileged([*pufferd_command(), "serve", "--data-dir", str(parent / "data")]),
            env=clean_env({"PUFFERD_BCRYPT_ROUNDS": "4"}), capture_output=True, text=True, timeout=30,
            start_new_session=True)
        assert_one_error_line(result, "Permission denied")
        assert list(parent.iterdir()) == []
    finally:
        os.chmod(parent, 0o700)


def test_serve_refuses_a_data_directory_path_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = _serve_once(path)
    assert_one_error_line(result, "--data-dir", "is a file")
    assert path.read_text() == "x"
