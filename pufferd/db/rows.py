"""Typed access to rows: every connection returns rows as dicts (database._row_as_dict).

apsw's type stubs describe rows as tuples, since the row factory is chosen at run time; these
helpers state the shape once instead of each query module casting on its own.
"""
from __future__ import annotations

from typing import Any, cast

import apsw

Row = dict[str, Any]


def one(cursor: apsw.Cursor) -> Row:
    """The first row of CURSOR, for a query that always yields one (an aggregate, RETURNING)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return cast(Row, row)


def every(cursor: apsw.Cursor) -> list[Row]:
    """Every row of CURSOR."""
    return cast(list[Row], cursor.fetchall())
