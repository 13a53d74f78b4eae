"""Dialect-aware statements that PostgreSQL and SQLite both support."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """``INSERT`` of the session's dialect, with its ``ON CONFLICT`` clauses."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignoring_conflicts(session: AsyncSession, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the dialect of the session's database."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def upsert(session: AsyncSession, table: Table, *, index: list[str], values: dict[str, Any]) -> Any:
    """``INSERT … ON CONFLICT (index) DO UPDATE`` setting every given non-key column."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in index}
    return statement.on_conflict_do_update(index_elements=index, set_=changes)


async def insert_many(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (all with the same keys) in the session's transaction, as fast as the database
    takes them: ``COPY`` on PostgreSQL, one compiled ``INSERT`` over many rows on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(insert(table), list(rows))
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    columns = list(rows[0])
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=[tuple(row[name] for name in columns) for row in rows], columns=columns
    )


def one_of(session: AsyncSession, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` for many values: one array parameter on PostgreSQL (``= ANY``), so a
    thousand values cost one bind, not a thousand; a plain ``IN`` on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))
