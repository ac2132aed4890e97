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
    target: str | None = None


def insert(conn: apsw.Connection, *, event: str, user_id: int | None, actor: str, ip_address: str | None,
           user_agent: str | None, detail: dict[str, Any] | None, now: float, target: str | None = None) -> None:
    conn.execute(
        "INSERT INTO audit_log(created_at, event, user_id, actor, ip_address, user_agent, detail, target)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (now, event, user_id, actor, ip_address, user_agent,
         json.dumps(detail, separators=(",", ":"), sort_keys=True) if detail else None, target))


def latest(conn: apsw.Connection, *, limit: int, user_id: int | None = None,
           event: str | None = None) -> list[AuditEntry]:
    """The newest entries first, optionally only for one user and/or one event type."""
    where: list[str] = []
    args: list[Any] = []
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


def page(conn: apsw.Connection, *, limit: int, actor: str | None = None, events: tuple[str, ...] | None = None,
         user_id: int | None = None, target: str | None = None, since: float | None = None,
         until: float | None = None, before_id: int | None = None) -> list[AuditEntry]:
    """Entries newest first by (created_at, id), every filter given applied; BEFORE_ID continues
    after that entry. An index leads each filter (migration 0051; tests/db/test_system_q.py)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("actor", actor), ("user_id", user_id), ("target", target)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if events is not None:
        where.append(f"event IN ({','.join('?' * len(events))})")
        args.extend(events)
    if since is not None:
        where.append("created_at >= ?")
        args.append(since)
    if until is not None:
        where.append("created_at < ?")
        args.append(until)
    if before_id is not None:
        where.append("(created_at, id) < (SELECT created_at, id FROM audit_log WHERE id = ?)")
        args.append(before_id)
    sql = ("SELECT id, created_at, event, user_id, actor, ip_address, user_agent, detail, target FROM audit_log"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at DESC, id DESC LIMIT ?")
    out = []
    for r in conn.execute(sql, (*args, limit)):
        r["detail"] = json.loads(r["detail"]) if r["detail"] else {}
        out.append(AuditEntry(**r))
    return out
