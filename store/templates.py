"""Message templates: one `templates` row per (type, name) saying which version is active and
which number was handed out last, and every version's content in `template_versions`.

Templates belong to the account, not to a project.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, BadRequest, NotFound
from rules.templates import parse_substitutions
from store.tables import Template, TemplateVersion

templates: Any = Template.__table__  # type: ignore[attr-defined]
versions: Any = TemplateVersion.__table__  # type: ignore[attr-defined]


def _key(table: Any, template_type: str, name: str) -> Any:
    return (table.c.template_type == template_type) & (table.c.name == name)


def _version_values(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": content,
        "default_substitutions": content.get("DefaultSubstitutions"),
        "description": content.get("TemplateDescription"),
    }


async def count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(templates))).scalar_one())


async def create(conn: AsyncConnection, *, template_type: str, name: str, content: dict[str, Any]) -> None:
    """Version 1, active. `content` is the request without its tags."""
    stmt = insert(templates).values(template_type=template_type, name=name, latest_version=1, active_version=1)
    created = await conn.execute(stmt.on_conflict_do_nothing().returning(templates.c.name))
    if created.first() is None:
        raise BadRequest(f"Invalid value for TemplateName: template {name} of type {template_type} already exists.")
    await conn.execute(
        insert(versions).values(template_type=template_type, name=name, version=1, **_version_values(content))
    )


async def head(conn: AsyncConnection, template_type: str, name: str, *, lock: bool = False) -> dict[str, Any]:
    """The template row plus its newest existing version and how many versions it has; with
    `lock`, writers to the same template wait for each other."""
    stmt = select(templates).where(_key(templates, template_type, name))
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    stats = (
        await conn.execute(
            select(func.max(versions.c.version), func.count()).where(_key(versions, template_type, name))
        )
    ).one()
    return {**row, "latest_existing": int(stats[0]), "version_count": int(stats[1])}


async def write_version(
    conn: AsyncConnection, *, template_type: str, name: str, version: int, new: bool, content: dict[str, Any]
) -> None:
    """Append version `version` (new) or overwrite it."""
    values = _version_values(content)
    if new:
        await conn.execute(insert(versions).values(template_type=template_type, name=name, version=version, **values))
    else:
        await conn.execute(
            update(versions)
            .where(_key(versions, template_type, name), versions.c.version == version)
            .values(updated_at=func.now(), **values)
        )
    await conn.execute(
        update(templates)
        .where(_key(templates, template_type, name))
        .values(latest_version=func.greatest(templates.c.latest_version, version), updated_at=func.now())
    )


async def set_active(conn: AsyncConnection, template_type: str, name: str, version: int) -> None:
    await _version_exists(conn, template_type, name, version)
    await conn.execute(
        update(templates)
        .where(_key(templates, template_type, name))
        .values(active_version=version, updated_at=func.now())
    )


async def _version_exists(conn: AsyncConnection, template_type: str, name: str, version: int) -> None:
    stmt = select(versions.c.version).where(_key(versions, template_type, name), versions.c.version == version)
    if (await conn.execute(stmt)).first() is None:
        raise NotFound(RESOURCE_NOT_FOUND)


def _joined() -> Any:
    """A version with its template's dates: CreationDate and LastModifiedDate of a template are
    the template's, those of a version in ListTemplateVersions the version's own."""
    return select(
        templates.c.template_type,
        templates.c.name,
        templates.c.active_version,
        templates.c.created_at,
        templates.c.updated_at,
        versions.c.version,
        versions.c.content,
        versions.c.default_substitutions,
        versions.c.description,
        versions.c.created_at.label("version_created_at"),
        versions.c.updated_at.label("version_updated_at"),
    ).join(versions, (versions.c.template_type == templates.c.template_type) & (versions.c.name == templates.c.name))


async def get(conn: AsyncConnection, template_type: str, name: str, version: int | None = None) -> dict[str, Any]:
    """The template at `version`, or at its active version when None."""
    stmt = _joined().where(_key(templates, template_type, name))
    stmt = stmt.where(versions.c.version == (version if version is not None else templates.c.active_version))
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


async def resolve(
    conn: AsyncConnection, template_type: str, name: str, version: str | None = None
) -> dict[str, Any] | None:
    """What the send path needs: the content of `version` (a campaign's or journey's pinned
    version) or, when None, of the version active now; None when there is no such template or
    version."""
    number: int | None = None
    if version is not None:
        if not version.isascii() or not version.isdigit():
            return None
        number = int(version)
    try:
        row = await get(conn, template_type.upper(), name, number)
    except NotFound:
        return None
    return {
        "name": row["name"],
        "template_type": row["template_type"],
        "version": row["version"],
        "content": row["content"],
        # Checked when written, so this parses.
        "default_substitutions": parse_substitutions(row["default_substitutions"], "DefaultSubstitutions"),
    }


async def page(
    conn: AsyncConnection,
    *,
    prefix: str | None,
    template_type: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Templates at their active versions, by name and then type."""
    # Names compare by code point ("C"), whatever the database's collation, so that the order
    # and the paging keyset agree.
    by_name = templates.c.name.collate("C")
    stmt = _joined().where(versions.c.version == templates.c.active_version)
    if prefix:
        stmt = stmt.where(templates.c.name.startswith(prefix, autoescape=True))
    if template_type is not None:
        stmt = stmt.where(templates.c.template_type == template_type)
    if after is not None:
        stmt = stmt.where(tuple_(by_name, templates.c.template_type) > tuple_(*after))
    stmt = stmt.order_by(by_name, templates.c.template_type).limit(limit)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def version_page(
    conn: AsyncConnection, template_type: str, name: str, *, after: int | None, limit: int
) -> list[dict[str, Any]]:
    stmt = _joined().where(_key(templates, template_type, name)).order_by(versions.c.version).limit(limit)
    if after is not None:
        stmt = stmt.where(versions.c.version > after)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def remove(conn: AsyncConnection, template_type: str, name: str) -> None:
    """Versions go with the template (the foreign key cascades)."""
    await conn.execute(delete(templates).where(_key(templates, template_type, name)))


async def remove_version(conn: AsyncConnection, template_type: str, name: str, version: int) -> None:
    await _version_exists(conn, template_type, name, version)
    await conn.execute(delete(versions).where(_key(versions, template_type, name), versions.c.version == version))
    await conn.execute(update(templates).where(_key(templates, template_type, name)).values(updated_at=func.now()))


async def exists(conn: AsyncConnection, template_type: str, name: str) -> bool:
    stmt = select(templates.c.name).where(_key(templates, template_type, name))
    return (await conn.execute(stmt)).first() is not None
