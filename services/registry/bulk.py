"""Bulk writes of the batch domain functions (an import's chunk): the rows go to the database
while Python builds what comes after them (the events), instead of one waiting for the other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from setka_runtime.sql import insert_many
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

_GO_ON_EVERY = 32
"""Items built between two chances for the insert to go on (send its rows, read the answer)."""


async def insert_while_building(
    session: AsyncSession, writes: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]], build: Iterable[T]
) -> list[T]:
    """Insert each table's rows (:func:`insert_many`, in the given order) while ``build`` is
    iterated; returns what it built, once the rows are in. ``build`` must not use the session.
    An insert that fails raises its error; so does ``build``, once the inserts have ended."""
    inserting = asyncio.ensure_future(_insert_all(session, writes))
    built: list[T] = []
    try:
        for count, item in enumerate(build, start=1):
            built.append(item)
            if count % _GO_ON_EVERY == 0 and not inserting.done():
                await asyncio.sleep(0)
    except BaseException:
        await asyncio.gather(inserting, return_exceptions=True)  # the connection is left idle
        raise
    await inserting
    return built


async def _insert_all(
    session: AsyncSession, writes: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    for table, rows in writes:
        await insert_many(session, table, rows)
