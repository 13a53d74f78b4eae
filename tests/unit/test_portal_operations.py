"""The workspace's operations are valid against the supergraph, so an API change that breaks a
page fails here, and every operation a page asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate

from gateway.federation.supergraph import Supergraph
from portal.gateway import OPERATIONS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(OPERATIONS.glob("*.graphql"))


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.load(ROOT / "supergraph.graphql")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_operation_is_valid_against_the_supergraph(path: Path, supergraph: Supergraph) -> None:
    document = parse(path.read_text(encoding="utf-8"))
    assert [e.message for e in validate(supergraph.schema, document)] == []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1 and operations[0].name and operations[0].name.value == path.stem, (
        "one operation per file, named as the file"
    )


def test_every_operation_a_page_asks_for_exists() -> None:
    asked = set()
    for source in (ROOT / "portal").rglob("*.py"):
        asked |= set(
            re.findall(r'gateway\.(?:run|ask)\(\s*"([A-Za-z]+)"', source.read_text(encoding="utf-8"))
        )
    assert asked, "the pages ask for no operation?"
    assert asked <= {p.stem for p in FILES}, sorted(asked - {p.stem for p in FILES})
