"""Which failures belong to the infrastructure (wait and try the same message again) and which to
the message itself (retry a bounded number of times, then the dead-letter topic).

A message must never be dead-lettered because PostgreSQL restarted or the broker was away: those
faults say nothing about the message, and once they pass the message applies as it would have.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError
from sqlalchemy import exc as sa

# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator intervention
# (a server shutting down or a backend terminated), 40 transaction rollback (serialization, deadlock).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")
_ASYNCPG_TRANSIENT = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TransactionRollbackError,
)
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error", "unable to open")


def _one(error: BaseException) -> bool:
    if isinstance(error, OSError | asyncpg.exceptions.ConnectionDoesNotExistError):
        return True  # ConnectionRefusedError, ConnectionResetError, TimeoutError, socket errors
    if isinstance(error, _ASYNCPG_TRANSIENT):
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa.DisconnectionError | sa.TimeoutError):
        return True  # a dropped connection, or the pool had none to give in time
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
        return True
    if isinstance(error, sa.OperationalError) and "sqlite" in type(error.orig).__module__:
        return any(text in str(error.orig).lower() for text in _SQLITE_TRANSIENT)
    if isinstance(error, KafkaConnectionError):
        return True
    return isinstance(error, KafkaError) and bool(getattr(error, "retriable", False))


def is_infrastructure(error: BaseException) -> bool:
    """Whether ``error``, or anything that caused it, is a database or broker being unavailable."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _one(current):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])
    return False
