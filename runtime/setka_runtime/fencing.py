"""Who may relay the outbox: one relay per database, provably, and a deposed one stops at once.

PostgreSQL (replicas on several machines): a *lease* row, ``relay_lease``, with a holder, an
expiry by the database's clock and a *fencing token* that grows on every take-over. The holder
renews the lease before every batch and publishes that batch only until a deadline well inside
the lease (a third of it, on its own monotonic clock); a standby takes the lease only once it has
expired, so the two never publish at once. Rows are marked published in a statement that checks
the token: a relay that lost its lease (its connection killed, the database restarted, a pause
longer than the lease) marks nothing and stands by. No long-lived connection holds anything, so
losing one loses nothing silently.

SQLite (one machine): an exclusive ``flock`` on a file beside the database. The kernel drops it
only when its holder's process ends, so while a relay holds it no other relay on that file can.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import and_, exists, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database
from .sql import one_of
from .tables import outbox, relay_lease

LEASE_NAME = "outbox"


class LostFence(Exception):
    """Another relay holds the fence now: this one must not publish or mark anything."""


class Fence(Protocol):
    standby_seconds: float

    async def acquire(self) -> bool: ...

    async def renew(self, session: AsyncSession | None = None) -> float:
        """Confirm the fence is still ours; return the monotonic deadline for this batch's publishing.

        With ``session`` (in a transaction), in that transaction: the relay renews in the one it
        reads the batch in, one round trip of the database's instead of a transaction of its own."""
        ...

    async def mark(self, ids: set[int]) -> None: ...

    async def release(self) -> None: ...

    def describe(self) -> str: ...


async def _mark(db: Database, ids: set[int], *, guard: Any = None) -> int:
    async with db.session() as session, session.begin():
        statement = update(outbox).where(one_of(session, outbox.c.id, sorted(ids)))
        if guard is not None:
            statement = statement.where(guard)
        result = await session.execute(
            statement.values(published_at=datetime.now(UTC), attempts=outbox.c.attempts + 1)
        )
        return int(result.rowcount or 0)


class LeaseFence:
    """The lease row with a fencing token (PostgreSQL)."""

    def __init__(self, db: Database, *, lease_seconds: float = 15.0, holder: str | None = None) -> None:
        self._db = db
        self.lease_seconds = lease_seconds
        self.standby_seconds = max(0.2, lease_seconds / 5)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None

    def describe(self) -> str:
        return f"lease held by {self.holder}, token {self.token}"

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it, it expired, or it is ours already."""
        async with self._db.session() as session, session.begin():
            token = await session.scalar(
                text(
                    "INSERT INTO relay_lease (name, holder, token, expires_at)"
                    " VALUES (:name, :holder, 1, now() + make_interval(secs => :ttl))"
                    " ON CONFLICT (name) DO UPDATE SET holder = :holder,"
                    "  token = relay_lease.token + 1, expires_at = now() + make_interval(secs => :ttl)"
                    " WHERE relay_lease.expires_at < now() OR relay_lease.holder = :holder"
                    " RETURNING token"
                ),
                {"name": LEASE_NAME, "holder": self.holder, "ttl": self.lease_seconds},
            )
        self.token = token
        return token is not None

    async def renew(self, session: AsyncSession | None = None) -> float:
        if self.token is None:
            raise LostFence("the relay lease is not held")
        started = time.monotonic()  # before the statement: the lease runs at least this long
        statement = (
            update(relay_lease)
            .where(
                relay_lease.c.name == LEASE_NAME,
                relay_lease.c.holder == self.holder,
                relay_lease.c.token == self.token,
            )
            .values(expires_at=func.now() + timedelta(seconds=self.lease_seconds))
        )
        if session is not None:
            result = await session.execute(statement)
        else:
            async with self._db.session() as own, own.begin():
                result = await own.execute(statement)
        if not result.rowcount:
            self.token = None
            raise LostFence("another relay took the lease over")
        return started + self.lease_seconds / 3

    async def mark(self, ids: set[int]) -> None:
        held = exists(
            select(relay_lease.c.name).where(
                and_(
                    relay_lease.c.name == LEASE_NAME,
                    relay_lease.c.holder == self.holder,
                    relay_lease.c.token == self.token,
                )
            )
        )
        if await _mark(self._db, ids, guard=held) == 0:
            self.token = None
            raise LostFence("another relay took the lease over before the batch was marked")

    async def release(self) -> None:
        """Let a standby take over at once (on a clean stop)."""
        if self.token is None:
            return
        with contextlib.suppress(Exception):
            async with self._db.session() as session, session.begin():
                await session.execute(
                    update(relay_lease)
                    .where(relay_lease.c.holder == self.holder, relay_lease.c.token == self.token)
                    .values(expires_at=func.now() - timedelta(seconds=1))
                )
        self.token = None


class FileLockFence:
    """An exclusive lock on a file beside the SQLite database."""

    def __init__(self, db: Database, path: Path, *, lease_seconds: float = 15.0) -> None:
        self._db = db
        self.path = path
        self.lease_seconds = lease_seconds
        self.standby_seconds = 1.0
        self._file: IO[bytes] | None = None

    def describe(self) -> str:
        return f"file lock {self.path}"

    async def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = open(self.path, "a+b")  # noqa: ASYNC230 - a local lock file, opened once
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    async def renew(self, session: AsyncSession | None = None) -> float:
        if self._file is None:
            raise LostFence("the relay file lock is not held")
        return time.monotonic() + self.lease_seconds / 3

    async def mark(self, ids: set[int]) -> None:
        await _mark(self._db, ids)

    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class NoFence:
    """A private in-memory database has one relay by construction."""

    standby_seconds = 1.0

    def __init__(self, db: Database, *, lease_seconds: float = 15.0) -> None:
        self._db = db
        self.lease_seconds = lease_seconds

    def describe(self) -> str:
        return "in-memory database"

    async def acquire(self) -> bool:
        return True

    async def renew(self, session: AsyncSession | None = None) -> float:
        return time.monotonic() + self.lease_seconds / 3

    async def mark(self, ids: set[int]) -> None:
        await _mark(self._db, ids)

    async def release(self) -> None:
        return None


def fence_for(db: Database, *, lease_seconds: float = 15.0) -> Fence:
    """The fence that fits the database: a lease on PostgreSQL, a file lock on a SQLite file."""
    if not db.is_sqlite:
        return LeaseFence(db, lease_seconds=lease_seconds)
    database = make_url(db.url).database
    if not database or database == ":memory:":
        return NoFence(db, lease_seconds=lease_seconds)
    path = Path(database).resolve()
    return FileLockFence(db, path.with_name(path.name + ".relay-lock"), lease_seconds=lease_seconds)
