"""``python -m gateway serve`` runs the gateway; ``token`` prints a signed token for a role;
``supergraph`` composes the subgraphs into supergraph.graphql (``--check``: is it up to date?);
``router`` serves the same supergraph with Hive Gateway, a standard federation router."""

from __future__ import annotations

import argparse

import uvicorn
from setka_runtime import logs
from setka_runtime.access import Identity, Role, sign_internal

from .app import create_app
from .auth import issue_token
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the gateway")
    token = commands.add_parser("token", help="print a signed JWT for a role and its scope")
    token.add_argument("--subject", default="operator")
    token.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    token.add_argument("--region", help="the region code of a regional admin ('*': every region)")
    token.add_argument("--municipality", help="the municipality id of a municipal coordinator")
    token.add_argument("--organization", help="the organization id of a school representative")
    token.add_argument("--hours", type=int, default=12)
    token.add_argument(
        "--internal",
        action="store_true",
        help="sign an internal token with INTERNAL_TOKEN_SECRET instead, as the gateway passes to the"
        " services (for a standard router in front of them, or a direct call in a test)",
    )
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
    if args.command == "token":
        if args.internal:
            identity = Identity.from_claims(
                {
                    "sub": args.subject,
                    "region": args.region,
                    "municipality": args.municipality,
                    "org": args.organization,
                },
                roles=args.role,
            )
            secret = settings.internal_token_secret.get_secret_value()
            print(sign_internal(identity, secret, ttl_seconds=args.hours * 3600))
            return
        print(
            issue_token(
                settings,
                subject=args.subject,
                roles=args.role,
                region_code=args.region,
                municipality_id=args.municipality,
                organization_id=args.organization,
                ttl_seconds=args.hours * 3600,
            )
        )
        return
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
        log_config=None,
    )


main()
