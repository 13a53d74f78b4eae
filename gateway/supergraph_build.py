"""Build the committed supergraph: each subgraph's SDL, composed by The Guild's composition library.

The SDL of a subgraph is what its ``{ _service { sdl } }`` answers; it is printed here from the
service's strawberry schema in this process, so no service needs to run. The composition itself
is ``tools/graphql/compose.mjs`` under Node, with the packages ``make env`` installs.

This is a build step: it imports the services' schemas, which the gateway never does at run time.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from strawberry.federation import Schema as FederationSchema

from .settings import GatewaySettings

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "graphql"
COMPOSE = TOOLS / "compose.mjs"
SUPERGRAPH = ROOT / "supergraph.graphql"

SCHEMAS = {
    "registry": ("services.registry.schema", "registry_url"),
    "events": ("services.events.schema", "events_url"),
    "analytics": ("services.analytics.schema", "analytics_url"),
}
"""Each subgraph: the module holding its strawberry ``schema`` and the gateway setting of its URL."""


class CompositionError(Exception):
    """The subgraphs do not compose, or the composition could not run; the message says which."""


@dataclass(frozen=True)
class Subgraph:
    name: str
    url: str
    sdl: str


def schema_of(name: str) -> FederationSchema:
    module, _ = SCHEMAS[name]
    schema: FederationSchema = importlib.import_module(module).schema
    return schema


def subgraph_sdl(schema: FederationSchema) -> str:
    """The SDL the subgraph announces through ``_service { sdl }`` (strawberry prints both alike)."""
    return schema.as_str()


def default_url(name: str) -> str:
    """The subgraph's URL by the gateway's default settings (the environment does not change it)."""
    _, setting = SCHEMAS[name]
    url: str = GatewaySettings.model_fields[setting].default
    return url


def subgraphs() -> list[Subgraph]:
    return [Subgraph(name=name, url=default_url(name), sdl=subgraph_sdl(schema_of(name))) for name in SCHEMAS]


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise CompositionError("node is not installed; the composition runs on Node.js (20 or newer)")
    if not (TOOLS / "node_modules" / "@theguild" / "federation-composition").is_dir():
        raise CompositionError(
            f"the composition library is not installed: run `make env` (npm ci in {TOOLS.name})"
        )
    return found


def compose(parts: list[Subgraph]) -> str:
    """The supergraph SDL of ``parts``; :class:`CompositionError` lists every composition error."""
    payload = json.dumps({"subgraphs": [asdict(part) for part in parts]})
    completed = subprocess.run(
        [node(), str(COMPOSE), "-"],
        input=payload,
        capture_output=True,
        text=True,
        cwd=TOOLS,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise CompositionError(completed.stderr.strip() or f"compose.mjs exited with {completed.returncode}")
    return completed.stdout


def build(*, check: bool = False, target: Path = SUPERGRAPH) -> int:
    """Write the supergraph (exit status 0), or with ``check`` report whether the committed one is stale."""
    try:
        supergraph = compose(subgraphs())
    except CompositionError as error:
        print(f"the subgraphs do not compose:\n{error}", file=sys.stderr)
        return 1
    if check:
        committed = target.read_text(encoding="utf-8") if target.exists() else None
        if committed != supergraph:
            what = "is missing" if committed is None else "is stale (the subgraphs' schemas changed)"
            print(f"{target.name} {what}: run `make supergraph` and commit it", file=sys.stderr)
            return 1
        print(f"{target.name} is up to date")
        return 0
    target.write_text(supergraph, encoding="utf-8")
    print(f"wrote {target.name}")
    return 0
