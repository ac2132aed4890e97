"""The one Settings object: defaults < pufferd.toml < environment < CLI flags (CONTRACT.md)."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_FILE = "pufferd.toml"


class SettingsError(Exception):
    """Settings cannot be loaded; the message is one line naming the setting."""


def _env(name: str) -> AliasChoices:
    """Accept the field name (flags, toml), PUFFERD_<NAME> and the API reference's bare name."""
    return AliasChoices(name.lower(), f"PUFFERD_{name}", name)


class Settings(BaseSettings):
    """Every setting of the server, typed; the only place defaults live."""

    model_config = SettingsConfigDict(
        env_prefix="PUFFERD_", extra="forbid", populate_by_name=True, validate_default=True
    )

    data_dir: Path = Path("pufferd-data")
    server_name: str = Field("pufferd", min_length=1, max_length=64)
    server_description: str = Field("", max_length=1000)
    server_avatar_url: str = Field("", max_length=2048)  # an http(s) URL anyone may fetch, or ""
    server_banner_url: str = Field("", max_length=2048)
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(7575, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True

    # storage
    db_encryption: bool = True
    db_key: SecretStr | None = None
    db_readers: int = Field(4, ge=1, le=64)
    min_free_disk_bytes: int = Field(100 * 1024 * 1024, ge=0)
    # new blobs written with O_DIRECT, past the page cache (README "Storage"); off, they go through
    # it with early write-back, which measured faster where the disk answers one write at a time
    blob_direct_io: bool = False

    # HTTP
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    cors_origins: list[str] = []
    trusted_proxies: list[str] = []

    # HTTPS (README "HTTPS"): serve TLS on `port` with these files (PEM; reloaded on SIGHUP) or
    # with certificates from an ACME CA; without either, plain HTTP (the default for a first run)
    tls_cert_file: Path | None = None  # the certificate chain, leaf first
    tls_key_file: Path | None = None
    # a second port on `host` serving plain HTTP: 308 to HTTPS, and the ACME HTTP-01 challenges
    http_port: int | None = Field(None, ge=0, le=65535)
    hsts_max_age_seconds: int = Field(365 * 24 * 3600, ge=0)  # Strict-Transport-Security; 0: no header
    acme_enabled: bool = False  # a certificate for public_url's host name, renewed in the background
    acme_directory_url: str = "https://acme-v02.api.letsencrypt.org/directory"
    acme_email: str = ""  # the CA's contact for expiry notices; empty: none
    acme_ca_bundle: Path | None = None  # PEM roots to trust for the directory URL (a test CA)

    # registration: open to anyone, by server invite code only, or closed (README "Administration")
    registration_mode: Literal["open", "invite_only", "closed"] = "open"
    max_users: int = Field(0, ge=0)  # accounts registration may create up to; 0: no limit

    # accounts
    bcrypt_rounds: int = Field(12, ge=4, le=16)  # init calibrates (never below 10); tests use 4
    bcrypt_concurrency: int = Field(2, ge=1, le=64)
    bcrypt_nice: int = Field(10, ge=0, le=19)  # bcrypt threads run this much below the event loop
    access_token_ttl_seconds: int = Field(15 * 60, ge=30)
    refresh_token_ttl_seconds: int = Field(30 * 24 * 3600, ge=60)
    auth_cache_seconds: float = Field(1.0, ge=0, le=60)  # verified tokens reused this long; 0: off
    require_verified_email: bool = False
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=120)
    mail_from: str = ""
    email_verification_ttl_seconds: int = Field(24 * 3600, ge=60)
    password_reset_ttl_seconds: int = Field(3600, ge=60)
    # 2FA is turned on or off only this long after a login, or with the account password
    twofa_recent_login_seconds: int = Field(600, ge=0)
    # wrong 2FA codes per account (whatever the client IP): this many within twofa_lockout_seconds
    # lock 2FA sign-in (and turning 2FA off) for twofa_lockout_seconds; 0 turns the lock-out off
    twofa_max_failures: int = Field(5, ge=0)
    twofa_lockout_seconds: int = Field(900, ge=1)

    # rate limits (0 disables a limit) — names from the API reference, section 12
    login_rate_limit_per_minute: int = Field(10, ge=0, validation_alias=_env("LOGIN_RATE_LIMIT_PER_MINUTE"))
    register_rate_limit_per_minute: int = Field(5, ge=0, validation_alias=_env("REGISTER_RATE_LIMIT_PER_MINUTE"))
    refresh_rate_limit_per_minute: int = Field(30, ge=0, validation_alias=_env("REFRESH_RATE_LIMIT_PER_MINUTE"))
    reset_rate_limit_per_minute: int = Field(5, ge=0, validation_alias=_env("RESET_RATE_LIMIT_PER_MINUTE"))
    message_rate_limit_per_minute: int = Field(120, ge=0, validation_alias=_env("MESSAGE_RATE_LIMIT_PER_MINUTE"))
    duplicate_message_cooldown_seconds: int = Field(
        3, ge=0, validation_alias=_env("DUPLICATE_MESSAGE_COOLDOWN_SECONDS")
    )
    # POST /users/contacts/by-email per user: the answer tells whether an address is registered
    contact_by_email_rate_limit_per_minute: int = Field(10, ge=0)

    # messages
    max_message_length: int = Field(4096, ge=1, le=65536)

    # chats
    max_pinned_chats: int = Field(10, ge=1, le=100)  # per user; pin-chat beyond is 422

    # media
    max_upload_size_bytes: int = Field(
        50 * 1024 * 1024, ge=1, validation_alias=_env("MAX_UPLOAD_SIZE_BYTES")
    )
    upload_url_ttl_seconds: int = Field(900, ge=30)
    unattached_upload_ttl_seconds: int = Field(24 * 3600, ge=60)
    download_url_ttl_seconds: int = Field(300, ge=10, le=24 * 3600)
    upload_url_rate_limit_per_minute: int = Field(60, ge=0)
    unattached_upload_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1)  # per user, pending or never attached
    media_janitor_interval_seconds: float = Field(60.0, gt=0)

    # chats with more members than this store only `mention` notifications, not one per message
    notify_every_message_max_members: int = Field(200, ge=0)
    # notifications older than this are deleted by an hourly pass (0 keeps them forever)
    notification_retention_days: float = Field(30.0, ge=0)

    # realtime (README "Realtime" explains each)
    ws_heartbeat_seconds: float = Field(30.0, ge=1, le=3600)  # ping period; silent peer dropped after 1.5x
    ws_resume_events: int = Field(1000, ge=1, le=100_000)     # per-user resume log: newest N events...
    ws_resume_seconds: float = Field(300.0, ge=1, le=86_400)  # ...no older than this
    ws_send_queue_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)  # per-socket send buffer; over: 4008
    ws_max_frame_bytes: int = Field(4096, ge=256, le=65536)   # larger client frames get an `error` event
    ws_max_sockets_per_user: int = Field(20, ge=1, le=1000)
    presence_grace_seconds: float = Field(5.0, ge=0, le=300)
    presence_max_group_members: int = Field(200, ge=0)         # presence goes to shared groups up to this size
    typing_interval_seconds: float = Field(2.0, ge=0, le=60)   # one relay per user and chat per interval
    typing_expires_seconds: int = Field(6, ge=1, le=60)

    # voice (README "Voice"): a room per group and channel, calls in private chats, peer to peer
    voice_max_participants: int = Field(6, ge=2, le=50)      # per room (a full mesh: keep it small)
    voice_ring_seconds: float = Field(30.0, gt=0, le=600)    # an unanswered call ends after this
    voice_signal_max_bytes: int = Field(16384, ge=1024, le=65536)  # a voice_signal frame (SDP) up to this
    voice_stun_urls: list[str] = []                          # e.g. ["stun:turn.example.org:3478"]; a LAN needs none
    voice_turn_urls: list[str] = []                          # e.g. ["turn:turn.example.org:3478"]
    voice_turn_secret: SecretStr | None = None               # coturn's static-auth-secret (use-auth-secret)
    voice_turn_ttl_seconds: int = Field(3600, ge=60, le=7 * 86_400)  # lifetime of derived TURN credentials

    # administration (README "Analytics", "File management", "Maintenance and backups", "Metrics")
    analytics_timezone: str = "UTC"  # IANA zone of the charts when the caller names none
    user_storage_quota_bytes: int = Field(5 * 1024**3, ge=0)  # per user, all their files; 0: no quota
    backup_interval_hours: float = Field(0.0, ge=0, le=24 * 366)  # scheduled backups; 0: off
    backup_dir: Path | None = None  # where scheduled backups go: a directory outside data_dir
    backup_keep: int = Field(7, ge=1, le=1000)  # scheduled backups kept; older ones are deleted
    metrics_enabled: bool = True  # GET /metrics and the request metrics middleware; off: 404
    metrics_token: SecretStr | None = None  # GET /metrics needs it as a Bearer token; unset: loopback only
    loop_lag_interval_seconds: float = Field(0.5, ge=0.05, le=60)  # event-loop lag sampling period

    # federation (README "Federation"): ActivityPub identity, follows and direct messages with
    # other servers; handles are user@server_name, so server_name must be this server's host name
    federation_enabled: bool = False
    federation_allow_http: bool = False  # fetch and deliver over plain http (tests, a LAN)
    federation_allow_private_addresses: bool = False  # loopback/private/link-local peers (tests)
    federation_timeout_seconds: float = Field(10.0, gt=0, le=120)  # connect and read, per request
    federation_max_body_bytes: int = Field(1024 * 1024, ge=1024)  # remote documents and inbox posts
    federation_actor_refresh_seconds: int = Field(24 * 3600, ge=0)  # a remote profile is refetched after
    federation_retry_base_seconds: float = Field(60.0, gt=0)  # first retry; doubles per attempt
    federation_retry_max_seconds: float = Field(24 * 3600.0, gt=0)  # longest wait between attempts
    federation_retry_give_up_seconds: float = Field(7 * 24 * 3600.0, gt=0)  # then the delivery fails
    federation_queue_interval_seconds: float = Field(5.0, gt=0)  # the worker looks for due deliveries
    federation_host_down_after_hours: float = Field(48.0, gt=0)  # failing this long: the host is marked down
    federation_host_down_retry_seconds: float = Field(24 * 3600.0, gt=0)  # a down host is retried this often
    federation_host_concurrency: int = Field(2, ge=1, le=64)  # deliveries at once per remote host
    federation_inbound_per_minute: int = Field(300, ge=0)  # inbox posts per remote host; 0: no limit
    # "authorized fetch": users' actor documents and collections only to signed GETs of servers
    # the domain list allows (inbox.verify_fetch); off, anyone may read them
    federation_authorized_fetch: bool = False
    federation_domain_mode: Literal["blocklist", "allowlist"] = "blocklist"  # admins edit the list
    federation_attachment_url_ttl_seconds: int = Field(7 * 24 * 3600, ge=1, le=90 * 24 * 3600)  # Document links
    # incoming remote media (README "Federation"): each file of a Note is fetched up to this size
    # (0: never fetched, they stay links), all of a Note's files within the fetch budget
    federation_media_max_bytes: int = Field(16 * 1024 * 1024, ge=0)
    # a remote actor's icon, kept as its avatar (federation/remote_media.fetch_avatar); 0: none fetched
    federation_avatar_max_bytes: int = Field(4 * 1024 * 1024, ge=0)
    federation_media_fetch_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("server_avatar_url", "server_banner_url")
    @classmethod
    def _image_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty or start with http:// or https://")
        return value

    @field_validator("analytics_timezone")
    @classmethod
    def _analytics_timezone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
        return value

    @model_validator(mode="after")
    def _tls(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.http_port is not None and not self.tls_enabled:
            raise ValueError("http_port redirects to HTTPS: set tls_cert_file and tls_key_file, or acme_enabled")
        if self.acme_enabled:
            if self.tls_cert_file is not None:
                raise ValueError("acme_enabled and tls_cert_file exclude each other")
            if not self.acme_domain:
                raise ValueError("acme_enabled needs public_url = https://<public host name>")
            if self.http_port is None:
                raise ValueError("acme_enabled needs http_port (80, or the port 80 is forwarded to)")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # flags (init kwargs) > environment > pufferd.toml (passed in as _toml) > defaults
        return (init_settings, env_settings)

    @property
    def tls_enabled(self) -> bool:
        """`port` serves HTTPS (certificate files or ACME)."""
        return self.tls_cert_file is not None or self.acme_enabled

    @property
    def acme_domain(self) -> str:
        """The name ACME certificates are for: public_url's host, when it is https."""
        from urllib.parse import urlsplit

        url = urlsplit(self.public_url)
        return url.hostname or "" if url.scheme == "https" else ""

    @property
    def base_url(self) -> str:
        """The absolute URL clients use to reach this server."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{'https' if self.tls_enabled else 'http'}://{host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "pufferd.db"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "mail" / "outbox"

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE


# Settings an administrator may change while the server runs (PUT /api/v1/system/settings):
# stored in the database, they take effect at once, because every reader looks the value up on
# ctx.settings when it needs it (pufferd/livesettings.py). One line per setting.
RUNTIME_SETTINGS = frozenset({
    "server_name", "server_description", "server_avatar_url", "server_banner_url",
    "registration_mode", "max_users", "require_verified_email",
    "access_token_ttl_seconds", "refresh_token_ttl_seconds",
    "email_verification_ttl_seconds", "password_reset_ttl_seconds",
    "login_rate_limit_per_minute", "register_rate_limit_per_minute", "refresh_rate_limit_per_minute",
    "reset_rate_limit_per_minute", "message_rate_limit_per_minute", "duplicate_message_cooldown_seconds",
    "upload_url_rate_limit_per_minute",
    "max_message_length", "max_pinned_chats",
    "max_upload_size_bytes", "upload_url_ttl_seconds", "download_url_ttl_seconds",
    "unattached_upload_ttl_seconds", "unattached_upload_quota_bytes", "min_free_disk_bytes",
    "notify_every_message_max_members", "notification_retention_days",
    "presence_max_group_members", "typing_interval_seconds", "typing_expires_seconds",
    "ws_max_sockets_per_user",
    "analytics_timezone", "user_storage_quota_bytes", "backup_keep",
})

# Settings an administrator may change over the API that are read once at start-up: stored in
# the database and applied at the next start (the answer says `restart_required`).
RESTART_SETTINGS = frozenset({
    "max_body_bytes", "auth_cache_seconds", "bcrypt_concurrency",
    "ws_heartbeat_seconds", "ws_resume_events", "ws_resume_seconds", "ws_send_queue_bytes",
    "ws_max_frame_bytes", "presence_grace_seconds", "media_janitor_interval_seconds",
})
# Every other setting (addresses, paths, keys, secrets, mail, proxies, ...) is changed only in
# pufferd.toml, the environment or a flag, and needs a restart.


def resolve_data_dir(flag: str | os.PathLike | None) -> Path:
    """--data-dir, else $PUFFERD_DATA_DIR, else ./pufferd-data."""
    if flag:
        return Path(flag)
    return Path(os.environ.get("PUFFERD_DATA_DIR") or "pufferd-data")


def read_toml(path: Path) -> dict[str, Any]:
    """Read pufferd.toml; a syntax error becomes one SettingsError line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror})") from None


def load_settings(data_dir: Path, **flags: Any) -> Settings:
    """Build Settings for DATA_DIR with the documented precedence; raise SettingsError on bad values."""
    file_values = read_toml(data_dir / CONFIG_FILE)
    file_values.pop("data_dir", None)
    flags = {k: v for k, v in flags.items() if v is not None}
    try:
        # toml values are the lowest layer: fill only what env and flags leave unset
        env_keys = _env_overrides()
        merged = {k: v for k, v in file_values.items() if k not in env_keys}
        merged.update(flags)
        merged["data_dir"] = data_dir
        return Settings(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        raise SettingsError(f"invalid setting {name}: {err['msg']}") from None


def _env_overrides() -> set[str]:
    """Field names that the environment sets (so toml must not shadow them)."""
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        candidates = {f"PUFFERD_{field.upper()}"}
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            candidates |= {c for c in alias.choices if isinstance(c, str) and c.isupper()}
        if any(c in os.environ for c in candidates):
            names.add(field)
    return names
