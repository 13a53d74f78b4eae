"""``python -m gateway serve`` runs the gateway (tokens come from ``setka token issue``);
``supergraph`` composes the subgraphs into supergraph.graphql (``--check``: is it up to date?);
``router`` serves the same supergraph with Hive Gateway, a standard federation router."""

from __future__ import annotations

import argparse
import sys

from setka_runtime import logs
from setka_runtime.cli import serve_http

from .app import create_app
from .settings import GatewaySettings


def serve_router(settings: GatewaySettings, port: int) -> None:
    import tempfile
    from pathlib import Path

    from . import router

    urls = {
        "registry": settings.registry_url,
        "events": settings.events_url,
        "analytics": settings.analytics_url,
    }
    with tempfile.TemporaryDirectory(prefix="setka-router-") as workdir:
        process = router.start_hive_gateway(settings.supergraph, urls, port=port, workdir=Path(workdir))
        print(f"Hive Gateway on the supergraph: http://127.0.0.1:{port}/graphql (Ctrl-C stops it)")
        try:
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            router.stop(process)


PREPARING_SWITCH_SECONDS = 0.001
"""How long a thread may hold the interpreter while another waits (Python's default: 5 ms)."""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the gateway")
    supergraph = commands.add_parser("supergraph", help="compose the subgraphs into supergraph.graphql")
    supergraph.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the committed supergraph is stale"
    )
    router = commands.add_parser(
        "router", help="serve the supergraph with Hive Gateway (a standard federation router)"
    )
    router.add_argument("--port", type=int, default=4000)
    args = parser.parse_args()
    if args.command == "router":
        serve_router(GatewaySettings(), args.port)
        return
    if args.command == "supergraph":
        from .supergraph_build import build

        raise SystemExit(build(check=args.check))
    settings = GatewaySettings()
    logs.configure(settings.log_level, fmt=settings.log_format, service="gateway")
    # new documents are prepared in a thread of this process (Engine.prepare_off_loop); a shorter
    # switch interval hands the interpreter back to the event loop sooner while one is read
    sys.setswitchinterval(PREPARING_SWITCH_SECONDS)
    serve_http(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


main()
