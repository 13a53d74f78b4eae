"""Dialect-aware statements that PostgreSQL and SQLite both support."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
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
