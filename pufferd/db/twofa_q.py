"""Query functions for 2FA recovery codes (migration 0012) and wrong-code counts (0013)."""
from __future__ import annotations

from dataclasses import dataclass

import apsw


@dataclass(frozen=True, slots=True)
class Failures:
    failures: int
    first_at: float
    locked_until: float | None


def replace_recovery_codes(conn: apsw.Connection, user_id: int, code_hashes: list[str], now: float) -> None:
    """The user's recovery codes become CODE_HASHES; earlier codes stop working."""
    conn.execute("DELETE FROM twofa_recovery_codes WHERE user_id = ?", (user_id,))
    conn.executemany("INSERT INTO twofa_recovery_codes(user_id, code_hash, created_at) VALUES (?, ?, ?)",
                     [(user_id, h, now) for h in code_hashes])


def take_recovery_code(conn: apsw.Connection, user_id: int, code_hash: str) -> bool:
    """Use up one recovery code; False when the user has no such (unused) code."""
    row = conn.execute("DELETE FROM twofa_recovery_codes WHERE user_id = ? AND code_hash = ? RETURNING user_id",
                       (user_id, code_hash)).fetchone()
    return row is not None


def recovery_codes_left(conn: apsw.Connection, user_id: int) -> int:
    row = conn.execute("SELECT count(*) AS n FROM twofa_recovery_codes WHERE user_id = ?", (user_id,)).fetchone()
    return int(row["n"]) if row else 0


def delete_recovery_codes(conn: apsw.Connection, user_id: int) -> None:
    conn.execute("DELETE FROM twofa_recovery_codes WHERE user_id = ?", (user_id,))


# wrong codes ---------------------------------------------------------------------------------
def get_failures(conn: apsw.Connection, user_id: int) -> Failures | None:
    row = conn.execute("SELECT failures, first_at, locked_until FROM twofa_failures WHERE user_id = ?",
                       (user_id,)).fetchone()
    return None if row is None else Failures(**row)


def put_failures(conn: apsw.Connection, user_id: int, state: Failures) -> None:
    conn.execute("INSERT INTO twofa_failures(user_id, failures, first_at, locked_until) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT(user_id) DO UPDATE SET failures = excluded.failures, first_at = excluded.first_at,"
                 " locked_until = excluded.locked_until",
                 (user_id, state.failures, state.first_at, state.locked_until))


def clear_failures(conn: apsw.Connection, user_id: int) -> None:
    conn.execute("DELETE FROM twofa_failures WHERE user_id = ?", (user_id,))
