"""A segment's stored definition at a version, as the SQL compiler and the resolution queries
read it (store/segment_compiler.py, store/segment_sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson


@dataclass(frozen=True)
class SegmentDefinition:
    segment_type: str  # "DIMENSIONAL" | "IMPORT"
    dimensions: dict[str, Any] | None
    segment_groups: dict[str, Any] | None
    segment_id: str | None = None  # needed for IMPORT (its segment_members rows)


_LOAD = """
SELECT s.segment_type, v.dimensions, v.segment_groups
FROM segments s
JOIN segment_versions v ON v.app_id = s.app_id AND v.segment_id = s.id AND v.version = coalesce($3::int4, s.version)
WHERE s.app_id = $1 AND s.id = $2
"""


async def fetch_definition(
    pg: asyncpg.Connection, app_id: str, segment_id: str, version: int | None
) -> SegmentDefinition | None:
    row = await pg.fetchrow(_LOAD, app_id, segment_id, version)
    if row is None:
        return None
    return SegmentDefinition(
        row["segment_type"], _decoded(row["dimensions"]), _decoded(row["segment_groups"]), segment_id
    )


def _decoded(value: Any) -> dict[str, Any] | None:
    # Under SQLAlchemy's asyncpg dialect JSONB arrives decoded; a bare asyncpg connection gives text.
    if isinstance(value, str):
        decoded: dict[str, Any] | None = orjson.loads(value)
        return decoded
    return value  # type: ignore[no-any-return]
