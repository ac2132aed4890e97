"""The pufferd command line (CONTRACT.md, "CLI")."""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from pufferd import __version__
from pufferd.config import Settings, SettingsError, load_settings, resolve_data_dir
from pufferd.datadir import Admin, DataDirError, initialise, is_initialised
from pufferd.db.database import DatabaseKeyError
from pufferd.db.migrate import MigrationError
from pufferd.keys import KeyError_

log = logging.getLogger("pufferd")

# failures that deserve one clear line and exit 1, never a traceback
USER_ERRORS = (SettingsError, DataDirError, DatabaseKeyError, MigrationError, KeyError_)


def fail(message: str) -> None:
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
        raise AssertionError  # unreachable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    if is_initialised(directory):
        fail(f"{directory} is already initialised; refusing to overwrite it")
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
    config = {k: v for k, v in (("server_name", server_name), ("public_url", public_url),
                                ("host", host), ("port", port), ("bcrypt_rounds", bcrypt_rounds))
              if v not in (None, "")}
    try:
        # validate every value before anything touches the disk
        Settings(data_dir=directory, **config)
    except Exception as exc:
        fail(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"  # type: ignore[attr-defined]
             if hasattr(exc, "errors") else str(exc))
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


def auto_initialise(directory: Path) -> None:
    """First `pufferd serve` without a data directory: safe defaults and a printed admin password."""
    password = secrets.token_urlsafe(15)
    admin = Admin("admin", "admin@localhost", password)
    env_key = os.environ.get("PUFFERD_DB_KEY") or None
    initialise(directory, {}, admin, env_db_key=env_key)
    click.echo(f"initialised a new data directory at {directory}", err=True)
    click.echo(f"administrator login: e-mail admin@localhost, password {password}", err=True)
    click.echo("this password is shown only once; change it after the first login", err=True)


@main.command()
@data_dir_option
@click.option("--host", default=None, help="address to bind")
@click.option("--port", type=int, default=None, help="port to bind (0 picks a free port)")
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Run the server until SIGTERM or SIGINT."""
    directory = resolve_data_dir(data_dir)
    try:
        if not is_initialised(directory):
            auto_initialise(directory)
        settings = load_settings(directory, host=host, port=port)
    except USER_ERRORS as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{directory}: {exc.strerror}")
    setup_logging(settings.log_level)
    try:
        import uvloop  # optional speed-up (NOTES-deps.md)
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run  # type: ignore[assignment]
    try:
        code = runner(_serve(settings))
    except USER_ERRORS as exc:
        fail(str(exc))
    sys.exit(code)


async def _serve(settings: Settings) -> int:
    from aiohttp import web

    from pufferd.app import make_app

    app = make_app(settings)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
                           access_log_format='%a "%r" %s %b %Tfs', shutdown_timeout=10.0,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            click.echo(f"pufferd: error: {settings.host}:{settings.port} is already in use", err=True)
        else:
            click.echo(f"pufferd: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
                       err=True)
        return 1
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    bound = sockets[0].getsockname() if sockets else (settings.host, settings.port)
    shown = f"[{bound[0]}]" if sockets and sockets[0].family == socket.AF_INET6 else bound[0]
    log.info("listening on http://%s:%s", shown, bound[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    main()
