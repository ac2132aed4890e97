"""Query functions for the append-only audit log."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import apsw


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    created_at: float
    event: str
    user_id: int | None
    actor: str
    ip_address: str | None
    user_agent: str | None
    detail: dict[str, Any]


def insert(conn: apsw.Connection, *, event: str, user_id: int | None, actor: str, ip_address: str | None,
           user_agent: str | None, detail: dict[str, Any] | None, now: float) -> None:
    conn.execute(
        "INSERT INTO audit_log(created_at, event, user_id, actor, ip_address, user_agent, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, event, user_id, actor, ip_address, user_agent,
         json.dumps(detail, separators=(",", ":"), sort_keys=True) if detail else None))


def latest(conn: apsw.Connection, *, limit: int, user_id: int | None = None,
           event: str | None = None) -> list[AuditEntry]:
    """The newest entries first, optionally only for one user and/or one event type."""
    where, args = [], []
    if user_id is not None:
        where.append("user_id = ?")
        args.append(user_id)
    if event is not None:
        where.append("event = ?")
        args.append(event)
    sql = ("SELECT id, created_at, event, user_id, actor, ip_address, user_agent, detail FROM audit_log"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?")
    rows = conn.execute(sql, (*args, limit))
    out = []
    for r in rows:
        r["detail"] = json.loads(r["detail"]) if r["detail"] else {}
        out.append(AuditEntry(**r))
    return out
