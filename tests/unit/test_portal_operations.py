"""The workspace's operations are valid against the supergraph, so an API change that breaks a
page fails here; every operation the portal's code names exists (however it is named: called
directly or handed to the form helper), and every operation is named somewhere."""

from __future__ import annotations

import ast
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


OPERATION_LIKE = re.compile(r"[A-Z][a-z][A-Za-z0-9]*")
"""A string that may name an operation (as the files are named: ``AddPlanItem``)."""


def named_in_portal() -> dict[str, set[str]]:
    """Every string literal of the portal's code that looks like an operation's name (a word in
    CamelCase), with the modules it is in: those passed to ``gateway.run``/``ask``, and those kept
    in tables and handed on (``forms.run``/``take``, a registry form's operation, a plan's steps).
    The parts of f-strings are not names."""
    found: dict[str, set[str]] = {}
    for source in sorted((ROOT / "portal").rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        in_fstrings = {
            id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in in_fstrings
                and OPERATION_LIKE.fullmatch(node.value)
            ):
                found.setdefault(node.value, set()).add(str(source.relative_to(ROOT)))
    return found


def test_every_operation_the_portal_names_exists_and_every_operation_is_named(supergraph: Supergraph) -> None:
    """Whatever way a page names an operation, the file exists: a name that is neither an
    operation nor one of the API's types (a ``__typename`` the pages compare with, as
    ``ValidationError``) is a misspelt operation. And no operation file is left that nothing
    names."""
    operations = {p.stem for p in FILES}
    named = named_in_portal()
    unknown = {
        name: sorted(where)
        for name, where in named.items()
        if name not in operations and name not in supergraph.schema.type_map
    }
    assert not unknown, f"no operations/<name>.graphql for these names in the portal: {unknown}"
    dead = sorted(operations - named.keys())
    assert not dead, f"operations no page uses (remove them, or use them): {dead}"


def test_the_names_are_found_where_the_pages_use_them() -> None:
    """The scan sees the names called directly and those handed to the form helper."""
    named = named_in_portal()
    called = set()
    for source in (ROOT / "portal").rglob("*.py"):
        called |= set(
            re.findall(r'gateway\.(?:run|ask)\(\s*"([A-Za-z]+)"', source.read_text(encoding="utf-8"))
        )
    assert called and called <= named.keys(), sorted(called - named.keys())
    # through portal/forms.py: a plan's item and steps, an activity's changes, a registry form
    assert {"AddPlanItem", "AgreePlan", "AnnounceActivity", "RecordAttendance", "JoinNetwork"} <= named.keys()
    assert "portal/pages/registry_forms.py" in named["JoinNetwork"]
