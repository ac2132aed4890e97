"""The pufferd command line (CONTRACT.md, "CLI")."""
from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from pufferd import __version__, tls
from pufferd import backup as backup_mod
from pufferd.config import Settings, SettingsError, load_settings, resolve_data_dir
from pufferd.datadir import Admin, DataDirError, check_usable, initialise, is_initialised
from pufferd.db.database import DatabaseOpenError
from pufferd.db.migrate import MigrationError
from pufferd.keys import KeyError_

log = logging.getLogger("pufferd")

# failures that deserve one clear line and exit 1, never a traceback
USER_ERRORS = (SettingsError, DataDirError, DatabaseOpenError, MigrationError, KeyError_,
               backup_mod.BackupError, tls.TLSError)


def fail(message: str) -> NoReturn:
    click.echo(f"pufferd: error: {message}", err=True)
    sys.exit(1)


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.INFO)


def data_dir_option(fn: Any) -> Any:
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="data directory (default $PUFFERD_DATA_DIR or ./pufferd-data)")(fn)


def settings_for(data_dir: Path | None, **flags: Any) -> Settings:
    try:
        return load_settings(resolve_data_dir(data_dir), **flags)
    except SettingsError as exc:
        fail(str(exc))


# subcommands whose module (and what it imports) loads only when they run or --help lists them:
# `pufferd serve` and `pufferd version` do not pay for the administration commands (issue 17)
LAZY_COMMANDS = {"admin": "pufferd.admin_cli"}


class Group(click.Group):
    """Click's group, with usage errors as one `pufferd: error:` line instead of a usage block."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            command: click.Command = getattr(importlib.import_module(LAZY_COMMANDS[cmd_name]), cmd_name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            return super().main(args, prog_name or "pufferd", complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
            click.echo(f"pufferd: error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"pufferd: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("pufferd: aborted", err=True)
            sys.exit(1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """pufferd: a self-hosted chat server in one executable."""


@main.command()
def version() -> None:
    """Print the version."""
    import apsw

    click.echo(f"pufferd {__version__} (Python {sys.version.split()[0]}, SQLite {apsw.sqlite_lib_version()})")


@main.command()
@data_dir_option
@click.option("--server-name", default=None, help="name shown to users and as the 2FA issuer")
@click.option("--public-url", default=None, help="absolute URL clients use, e.g. https://chat.example.org")
@click.option("--host", default=None, help="address to bind (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port to bind (default 7575)")
@click.option("--admin-username", default=None)
@click.option("--admin-email", default=None)
@click.option("--admin-password", default=None, help="prefer the prompt: flags are visible to other users")
@click.option("--no-encryption", is_flag=True, help="store the database unencrypted")
@click.option("--bcrypt-rounds", type=int, default=None, help="bcrypt cost (default: calibrated to ≈250 ms)")
@click.option("--non-interactive", is_flag=True, help="never prompt; missing values are an error")
def init(data_dir: Path | None, server_name: str | None, public_url: str | None, host: str | None,
         port: int | None, admin_username: str | None, admin_email: str | None,
         admin_password: str | None, no_encryption: bool, bcrypt_rounds: int | None,
         non_interactive: bool) -> None:
    """Create a data directory and its first user, the server administrator."""
    directory = resolve_data_dir(data_dir)
    try:
        if is_initialised(directory):
            fail(f"{directory} is already initialised; refusing to overwrite it")
    except OSError as exc:
        fail(f"{directory}: {exc.strerror}")
    if not non_interactive:
        server_name = server_name or click.prompt("Server name", default="pufferd")
        public_url = public_url if public_url is not None else click.prompt(
            "Public URL (empty: http://host:port)", default="", show_default=False)
        admin_username = admin_username or click.prompt("Administrator username", default="admin")
        admin_email = admin_email or click.prompt("Administrator e-mail")
        admin_password = admin_password or click.prompt("Administrator password", hide_input=True,
                                                        confirmation_prompt=True)
    missing = [n for n, v in (("--admin-username", admin_username), ("--admin-email", admin_email),
                              ("--admin-password", admin_password)) if not v]
    if missing:
        fail(f"missing {', '.join(missing)} (required with --non-interactive)")
    config: dict[str, Any] = {k: v for k, v in (("server_name", server_name), ("public_url", public_url),
                                ("host", host), ("port", port), ("bcrypt_rounds", bcrypt_rounds))
              if v not in (None, "")}
    try:
        # validate every value before anything touches the disk
        Settings(data_dir=directory, **config)
    except ValidationError as exc:
        fail(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    except Exception as exc:
        fail(str(exc))
    env_key = os.environ.get("PUFFERD_DB_KEY") or None
    try:
        initialise(directory, config, Admin(admin_username, admin_email, admin_password),  # type: ignore[arg-type]
                   encryption=not no_encryption, env_db_key=env_key)
    except USER_ERRORS as exc:
        fail(str(exc))
    except PermissionError as exc:
        fail(f"{directory}: permission denied ({exc.filename})")
    except OSError as exc:
        fail(f"{directory}: {exc.strerror}")
    click.echo(f"initialised {directory}")
    click.echo(f"administrator: {admin_username} <{admin_email}>")
    click.echo(f"start the server with: pufferd serve --data-dir {directory}")


def auto_initialise(directory: Path, settings: Settings) -> None:
    """First `pufferd serve` without a data directory: safe defaults and a printed admin password."""
    password = secrets.token_urlsafe(15)
    admin = Admin("admin", "admin@localhost", password)
    env_key = settings.db_key.get_secret_value() if settings.db_key else None
    # a bcrypt cost set in the environment is used for the admin's hash too; otherwise calibrate
    config: dict[str, object] = {}
    if "bcrypt_rounds" in settings.model_fields_set:
        config["bcrypt_rounds"] = settings.bcrypt_rounds
    initialise(directory, config, admin, encryption=settings.db_encryption, env_db_key=env_key)
    click.echo(f"initialised a new data directory at {directory}", err=True)
    click.echo(f"administrator login: e-mail admin@localhost, password {password}", err=True)
    click.echo("this password is shown only once; change it after the first login", err=True)


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on HOST:PORT, or raise OSError with a message for the user."""
    try:
        family, type_, proto, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(f"{host}:{port} is already in use") from None
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


# Young collections after every 50,000 new container objects instead of 700: a message to a
# large group allocates thousands of short-lived objects, and at the default the objects of
# requests still in flight were promoted again and again until a full collection ran (≈ 1 µs
# per live object on a small VM: 80 ms with 1,000 sockets open). Reference counting frees
# nearly everything anyway; the collector is only there for cycles.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_garbage_collector() -> None:
    """Once start-up is done: the tens of thousands of objects it made (modules, pydantic schemas,
    routes) live as long as the process. Moved out of the collector's sight, a full collection no
    longer walks them (≈ 60 ms on a small VM, a pause every client would feel), only what serving
    creates; and young collections run at GC_THRESHOLDS."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@main.command()
@data_dir_option
@click.option("--host", default=None, help="address to bind")
@click.option("--port", type=int, default=None, help="port to bind (0 picks a free port)")
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Run the server until SIGTERM or SIGINT."""
    # until the event loop takes over, SIGTERM unwinds like Ctrl-C, so a half-done
    # initialisation is cleaned up instead of left behind
    signal.signal(signal.SIGTERM, _interrupted)
    directory = resolve_data_dir(data_dir)
    try:
        # everything is validated before the data directory or the network is touched
        if directory.exists() or directory.is_symlink():
            check_usable(directory)
        settings = load_settings(directory, host=host, port=port)
        ssl_context = (tls.load(settings.tls_cert_file, settings.tls_key_file)
                       if settings.tls_cert_file and settings.tls_key_file else None)
        sock = listen(settings.host, settings.port)
        http_sock = listen(settings.host, settings.http_port) if settings.http_port is not None else None
        if not is_initialised(directory):
            auto_initialise(directory, settings)
            settings = load_settings(directory, host=host, port=port)
    except USER_ERRORS as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        fail("interrupted during start-up")
    setup_logging(settings.log_level)
    try:
        import uvloop  # optional speed-up (NOTES-deps.md)
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        code = runner(_serve(settings, sock, ssl_context, http_sock))
        # the loop is gone and with it its signal handlers: what is left is only exiting
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except USER_ERRORS as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted during start-up")
    sys.exit(code)


def _shown(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"


def _reload_certificate(ssl_context: ssl.SSLContext, settings: Settings) -> None:
    """SIGHUP: load the certificate files again for new handshakes; open connections keep theirs."""
    assert settings.tls_cert_file and settings.tls_key_file
    try:
        tls.reload(ssl_context, settings.tls_cert_file, settings.tls_key_file)
    except tls.TLSError as exc:
        log.error("SIGHUP: %s; still serving the previous certificate", exc)
    else:
        log.info("SIGHUP: reloaded TLS certificate %s (expires %s UTC)", settings.tls_cert_file,
                 f"{tls.not_valid_after(settings.tls_cert_file.read_bytes()):%Y-%m-%d %H:%M}")


# a CA file that does not exist: OpenSSL skips it without an error (set_default_verify_paths)
NO_CA_FILE = "/nonexistent/pufferd-no-ca-file"


@contextlib.contextmanager
def _lean_aiohttp_import() -> Iterator[None]:
    """Import aiohttp inside this block to leave out what a server does not use (issue 17):
    - aiohttp builds two client SSLContexts when it is imported, each parsing the system's CA file
      (≈ 140 certificates, ≈ 1 MB each). pufferd never hands a request to them (federation's
      fetcher makes its own context on its first request, pufferd/federation/http.py), so
      SSL_CERT_FILE names a file that does not exist meanwhile: they keep only the default CA
      directory, looked up lazily.
    - frozenlist (aiohttp's signal lists, read a few times per request) as its pure-Python class
      (FROZENLIST_NO_EXTENSIONS, frozenlist's own switch): the compiled one is C++ and brings
      libstdc++ into the process (≈ 0.9 MB). The executable leaves it out altogether
      (packaging/pufferd.spec).
    The environment is put back on leaving, so a CA file the user names in SSL_CERT_FILE is the
    one the fetcher loads. Nothing changes when aiohttp is imported already."""
    if "aiohttp" in sys.modules:
        yield
        return
    changes = {"SSL_CERT_FILE": NO_CA_FILE}
    if "FROZENLIST_NO_EXTENSIONS" not in os.environ:
        changes["FROZENLIST_NO_EXTENSIONS"] = "1"
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


async def _serve(settings: Settings, sock: socket.socket, ssl_context: ssl.SSLContext | None = None,
                 http_sock: socket.socket | None = None) -> int:
    with _lean_aiohttp_import():
        from aiohttp import web

    from pufferd.app import make_app
    from pufferd.web import https
    from pufferd.web.accesslog import AccessLogBuffer, access_logger_class

    bound = sock.getsockname()
    if settings.port == 0:
        # links the server builds (uploads, downloads, invites) name the port it really got
        settings = settings.model_copy(update={"port": bound[1]})
    app = make_app(settings)
    access = AccessLogBuffer(sys.stderr)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
                           access_log_class=access_logger_class(access), shutdown_timeout=10.0,
                           handle_signals=False)
    await runner.setup()
    loop = asyncio.get_running_loop()
    challenges: dict[str, str] = {}  # ACME HTTP-01 tokens -> key authorizations
    acme_task: asyncio.Task[None] | None = None
    if settings.acme_enabled:
        from pufferd import acme_certs

        ssl_context = acme_certs.initial_context(settings)
        acme_task = asyncio.create_task(acme_certs.keep_certificate(settings, ssl_context, challenges))
    if ssl_context is not None and not settings.acme_enabled:
        loop.add_signal_handler(signal.SIGHUP, _reload_certificate, ssl_context, settings)
    else:  # `systemctl reload` must never stop a server (SIGHUP's default action)
        loop.add_signal_handler(signal.SIGHUP, log.info, "SIGHUP: no certificate files to reload")
    plain: web.AppRunner | None = None
    if http_sock is not None:
        plain = web.AppRunner(https.plain_app(settings, challenges), handle_signals=False,
                              access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
                              access_log_class=access_logger_class(access))
        await plain.setup()
        await web.SockSite(plain, http_sock).start()
        log.info("plain HTTP on http://%s: 308 to HTTPS%s", _shown(http_sock),
                 ", ACME challenges" if settings.acme_enabled else "")
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    settle_garbage_collector()
    log.info("listening on %s://%s", "https" if ssl_context is not None else "http", _shown(sock))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if acme_task is not None:
        acme_task.cancel()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # a second signal (an impatient operator, a service manager repeating itself) must not
        # cut the orderly shutdown short: sockets closed with 1001, queued writes committed
        loop.add_signal_handler(sig, log.info, "already shutting down")
    access.flush()
    log.info("shutting down")
    if plain is not None:
        await plain.cleanup()
    await runner.cleanup()
    access.flush()
    log.info("stopped")
    return 0


@main.command()
@data_dir_option
def doctor(data_dir: Path | None) -> None:
    """Check the data directory: permissions, keys, database integrity, migrations, free disk."""
    from pufferd import doctor as doctor_mod

    results = doctor_mod.run(resolve_data_dir(data_dir))
    for result in results:
        click.echo(result.line())
    failed = sum(1 for r in results if r.status == "FAIL")
    skipped = sum(1 for r in results if r.status == "skip")
    if failed or skipped:
        click.echo(f"doctor: {failed} failed, {skipped} not checked, of {len(results)} checks")
        sys.exit(1)
    click.echo(f"doctor: all {len(results)} checks ok")


@main.command()
@click.argument("dest", type=click.Path(path_type=Path))
@data_dir_option
def backup(dest: Path, data_dir: Path | None) -> None:
    """Copy the data directory to DEST (new or empty) while the server keeps running."""
    directory = resolve_data_dir(data_dir)
    try:
        check_usable(directory)
        settings = load_settings(directory)
        report = backup_mod.backup(settings, dest)
    except USER_ERRORS as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    click.echo(f"backup of {directory} written to {report.destination}")
    click.echo(f"database: {report.db_bytes} bytes, schema version {report.schema_version}, "
               "quick_check ok")
    blobs = f"blobs: {report.blobs} files, {report.blob_bytes} bytes"
    if report.blobs_vanished:
        blobs += f" ({report.blobs_vanished} deleted by the server during the copy, not included)"
    click.echo(blobs)
    click.echo(f"keys: {report.key_files} files; settings: pufferd.toml")
    if settings.db_encryption and not report.db_key_in_backup:
        click.echo("note: the database key is not in the backup (it comes from PUFFERD_DB_KEY); "
                   "serving the backup needs the same PUFFERD_DB_KEY")



if __name__ == "__main__":
    main()
