"""The audit log of security-relevant events (issue 3, item 8): who, from where, when, what.

Entries are written inside the same transaction as the change they describe, so a change and
its record commit together. Secrets (passwords, tokens, TOTP codes or secrets) never go in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from pufferd.db import audit_q

USER_AGENT_MAX = 512

# the events this version records (the `event` column)
EVENTS = (
    "register", "register_rolled_back", "login_succeeded", "login_failed", "refresh_reuse_detected",
    "session_revoked", "sessions_revoked_all", "email_verified", "password_reset_requested",
    "password_reset", "twofa_enabled", "twofa_disabled",
    "admin_create_user", "admin_reset_password", "admin_set_admin", "admin_disable_user",
    "admin_reset_2fa", "twofa_locked",
    # file management and maintenance over the API (issue 13, items 7 and 8)
    "file_deleted", "media_cleanup", "task_run",
    # administration over the API (issue 13)
    "role_changed", "settings_changed", "server_info_changed", "invite_created", "invite_revoked",
    "ip_blocked", "ip_unblocked",
    # moderation and reports (issue 13, item 3)
    "user_banned", "user_unbanned", "user_timed_out", "timeout_lifted", "message_removed", "report_resolved",
)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from: the client IP (section 12: proxies honoured only when trusted)."""

    ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, ip: str | None, user_agent: str | None) -> ClientInfo:
        return cls(ip, user_agent[:USER_AGENT_MAX] if user_agent else None)

    @property
    def rate_key(self) -> str:
        """The key per-IP rate limits count under."""
        return self.ip or "unknown"


CLI = ClientInfo(None, "pufferd admin (command line)")


def record(conn: apsw.Connection, event: str, *, client: ClientInfo, now: float,
           user_id: int | None = None, actor: str | None = None,
           detail: dict[str, Any] | None = None, target: str | None = None) -> None:
    """Append one entry. ACTOR defaults to the user concerned, else 'anonymous'. TARGET names
    what was acted on when it is not (only) the user concerned: 'ip:<network>', 'invite:<id>'."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    if actor is None:
        actor = f"user:{user_id}" if user_id is not None else "anonymous"
    audit_q.insert(conn, event=event, user_id=user_id, actor=actor, ip_address=client.ip,
                   user_agent=client.user_agent, detail=detail, now=now, target=target)
