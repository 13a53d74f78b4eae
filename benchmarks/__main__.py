"""``make bench``: import, queries, inbound events, the analytics projection, the effectiveness analysis,
the gateway, the gateway under abuse and the workspace's pages, each next to a reference measured in
the same run.

Needs a PostgreSQL server (``SETKA_BENCH_POSTGRES_URL``, else the test server's URL, else the
local one); creates scratch databases on it and drops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    analysis_speed,
    analytics_projection,
    events_inbound,
    gateway_abuse,
    gateway_speed,
    import_speed,
    query_speed,
    workspace_speed,
)
from benchmarks.databases import ScratchDatabases  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--import-rows", type=int, default=20_000, help="rows in the imported CSV")
    parser.add_argument("--organizations", type=int, default=40_000, help="organizations for the queries")
    parser.add_argument("--educators", type=int, default=200_000, help="educators for the queries")
    parser.add_argument(
        "--national", action="store_true", help="national scale: 40,000 organizations, 1,000,000 educators"
    )
    parser.add_argument("--times", type=int, default=30, help="runs of each query (the median is shown)")
    parser.add_argument(
        "--only",
        choices=["import", "queries", "events", "analytics", "analysis", "gateway", "abuse", "workspace"],
        help="run one of them",
    )
    parser.add_argument(
        "--projected-events", type=int, default=20_000, help="registrations for the analytics run"
    )
    parser.add_argument(
        "--inbound-messages", type=int, default=20_000, help="messages for the events inbound run"
    )
    parser.add_argument(
        "--attendance-rows", type=int, default=10_000_000, help="attendance rows for the analysis run"
    )
    parser.add_argument(
        "--analysis-runs", type=int, default=5, help="runs of the analysis (the median is shown)"
    )
    parser.add_argument("--gateway-clients", type=int, default=8, help="concurrent clients of the gateway")
    parser.add_argument("--gateway-requests", type=int, default=400, help="requests per gateway line")
    parser.add_argument(
        "--abuse-clients", type=int, default=4, help="well-behaved clients of the gateway under abuse"
    )
    parser.add_argument(
        "--abuse-seconds", type=float, default=10.0, help="seconds of each phase of the gateway under abuse"
    )
    parser.add_argument(
        "--abuse-websocket",
        action="store_true",
        help="the gateway under abuse: also a phase with the hostile client on a WebSocket",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SETKA_BENCH_POSTGRES_URL")
        or os.environ.get("SETKA_TEST_POSTGRES_URL")
        or DEFAULT_SERVER,
    )
    args = parser.parse_args(argv)
    if args.national:
        args.organizations, args.educators = 40_000, 1_000_000
    return args


async def main(args: argparse.Namespace) -> None:
    dbs = ScratchDatabases(args.postgres_url)
    print("Setka registry benchmarks (timings are this machine's; compare the ratios)")
    try:
        with tempfile.TemporaryDirectory(prefix="setka-bench-") as workdir:
            if args.only in (None, "import"):
                await import_speed.run(dbs, args.import_rows, Path(workdir))
            if args.only in (None, "queries"):
                await query_speed.run(
                    dbs,
                    organizations_count=args.organizations,
                    educators_count=args.educators,
                    times=args.times,
                )
            if args.only in (None, "events"):
                await events_inbound.run(dbs, args.inbound_messages, Path(workdir))
            if args.only in (None, "analytics"):
                await analytics_projection.run(dbs, args.projected_events, Path(workdir))
            if args.only in (None, "analysis"):
                await analysis_speed.run(
                    dbs,
                    organizations=args.organizations,
                    educators=args.educators,
                    attendance_rows=args.attendance_rows,
                    times=args.analysis_runs,
                )
            if args.only in (None, "gateway"):
                await gateway_speed.run(
                    Path(workdir), clients=args.gateway_clients, requests=args.gateway_requests
                )
            if args.only in (None, "abuse"):
                await gateway_abuse.run(
                    Path(workdir),
                    clients=args.abuse_clients,
                    seconds=args.abuse_seconds,
                    websocket=args.abuse_websocket,
                )
            if args.only in (None, "workspace"):
                await workspace_speed.run(Path(workdir))
    finally:
        await dbs.drop_all()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(arguments(None)))
