"""The subgraphs compose, with the standard composition library, into the committed supergraph."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway import supergraph_build

pytestmark = pytest.mark.unit

needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed: the composition library runs on Node.js"
)


@pytest.mark.parametrize("name", list(supergraph_build.SCHEMAS))
async def test_the_sdl_composed_is_what_the_subgraph_announces(name: str) -> None:
    schema = supergraph_build.schema_of(name)
    result = await schema.execute("{ _service { sdl } }")
    assert result.errors is None
    assert result.data == {"_service": {"sdl": supergraph_build.subgraph_sdl(schema)}}


@pytest.mark.parametrize("name", list(supergraph_build.SCHEMAS))
def test_every_subgraph_speaks_federation_2_9(name: str) -> None:
    sdl = supergraph_build.subgraph_sdl(supergraph_build.schema_of(name))
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9"' in sdl


@needs_node
def test_the_subgraphs_compose_without_errors() -> None:
    supergraph = supergraph_build.compose(supergraph_build.subgraphs())
    for name in supergraph_build.SCHEMAS:
        url = supergraph_build.default_url(name)
        assert f'@join__graph(name: "{name}", url: "{url}")' in supergraph


@needs_node
def test_the_committed_supergraph_is_not_stale() -> None:
    committed = supergraph_build.SUPERGRAPH.read_text(encoding="utf-8")
    fresh = supergraph_build.compose(supergraph_build.subgraphs())
    assert committed == fresh, "supergraph.graphql is stale: run `make supergraph` and commit it"


@needs_node
def test_composition_errors_are_reported() -> None:
    clash = supergraph_build.Subgraph(
        name="clash", url="http://127.0.0.1:9/graphql", sdl="type Query { eventsStatus: Int }"
    )
    with pytest.raises(supergraph_build.CompositionError) as raised:
        supergraph_build.compose([*supergraph_build.subgraphs(), clash])
    assert "eventsStatus" in str(raised.value)


@needs_node
def test_check_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "supergraph.graphql"
    target.write_text("type Query { stale: Int }\n", encoding="utf-8")
    assert supergraph_build.build(check=True, target=target) == 1
    assert "stale" in capsys.readouterr().err
    assert supergraph_build.build(target=target) == 0
    assert supergraph_build.build(check=True, target=target) == 0
