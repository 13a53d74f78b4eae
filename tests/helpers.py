"""Helpers the tests share: reading topics, publishing like a regional system, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def read_topic(bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from the beginning, once at least ``at_least`` have arrived."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    return records
                await asyncio.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while len(records) < at_least and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
        # then on to the end of every partition as it is now: ``at_least`` may count re-sent
        # copies, and what lies beyond it is what the test should see too
        ends = await consumer.end_offsets(assigned)

        async def behind() -> bool:
            return any([await consumer.position(partition) < end for partition, end in ends.items()])

        while time.monotonic() < deadline and await behind():
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
        # a short grace period: anything beyond what was expected is a defect the test should see
        batch = await consumer.getmany(timeout_ms=500)
        for part in batch.values():
            records.extend(part)
        return records
    finally:
        await consumer.stop()


async def produce(
    bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes, dict[str, str]]]
) -> None:
    """Publish (key, value, headers) messages with a plain aiokafka producer, as an outsider would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(
                topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
    finally:
        await producer.stop()


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, interval: float = 0.3
) -> Any:
    """Wait until ``check()`` returns a truthy value; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def headers_of(record: Any) -> dict[str, str]:
    return {name: (value or b"").decode() for name, value in record.headers}


class TcpProxy:
    """A loopback TCP proxy that can cut every connection, to stage a network outage.

    The broker advertises the proxy's address, so every client connection goes through it.
    """

    def __init__(self, target_port: int, listen_port: int) -> None:
        self.target_port = target_port
        self.listen_port = listen_port
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.asynccontextmanager
async def served(app: Any, *, lifespan: str = "on") -> AsyncIterator[str]:
    """An ASGI app served by uvicorn on a free loopback port of this event loop; yields its base URL."""
    import uvicorn
    from setka_runtime.cli import KEEP_ALIVE_SECONDS
    from setka_runtime.local_broker import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan=lifespan,
            ws="websockets-sansio",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def tables_holding(url: str, needles: list[str]) -> list[str]:
    """Every table.column (text, JSON or bytes) whose value contains one of ``needles``."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        columns = await connection.fetch(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'public' and data_type in "
            "('text', 'character varying', 'json', 'jsonb', 'bytea', 'character')"
        )
        found = []
        for column in columns:
            name = f'"{column["table_name"]}"."{column["column_name"]}"'
            for needle in needles:
                if column["data_type"] == "bytea":
                    condition = f"position(convert_to($1, 'UTF8') in {name}) > 0"
                else:
                    condition = f"{name}::text like '%' || $1 || '%'"
                query = f'select count(*) from "{column["table_name"]}" where {condition}'
                if await connection.fetchval(query, needle):
                    found.append(f"{name} holds {needle}")
        return found
    finally:
        await connection.close()
