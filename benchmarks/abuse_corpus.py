"""Hostile GraphQL documents: the worst of each kind a client could send the gateway anonymously.

The fragment bombs are the gateway's unit tests' own (``tests/unit/test_gateway_limits.py``); the
other kinds are written here, each as large or as deep as the gateway's limits let it be before
the cheapest check refuses it (2,000 tokens, 100,000 characters, depth 10, 30 aliases, 5,000
fields once fragments are written out), since that is where refusing costs the most. Some are
valid and under every limit (many copies of one field, overlapping fragments, a full
introspection query, a padded document): those are answered.

:func:`request` makes every one new (a leading comment), so no cache answers it.
"""

from __future__ import annotations

from typing import Any

from graphql import get_introspection_query

from tests.unit.test_gateway_limits import BOMBS

# the parameters are near the limits: 2,000 tokens (e.g. 10 a copy of ORGANIZATIONS), 100,000
# characters, and the parser's own nesting limit
ORGANIZATIONS = "organizations { edges { node { id } } } "
CYCLE = "activities { edges { node { host { "  # Organization → Activity → Organization


def _corpus() -> dict[str, tuple[str, str | None]]:
    corpus: dict[str, tuple[str, str | None]] = {}
    for name, document in BOMBS.items():
        corpus[f"fragment bomb, {name}"] = (document, "Bomb" if "operations" in name else None)
    documents = {
        "aliases, 3,000 (over the token limit)": "{ "
        + " ".join(f"a{i}: __typename" for i in range(3000))
        + " }",
        "aliases, 600": "{ " + " ".join(f"a{i}: __typename" for i in range(600)) + " }",
        "aliases, one alias 300 times on a subgraph field": "{ "
        + "x: regionSummaries { regionCode } " * 300
        + "}",
        "nesting, 400 levels of unknown fields": "{ " + "a { " * 400 + "b" + " }" * 400 + " }",
        "nesting, 20 levels of organization → activity → host": "{ organizations { edges { node { "
        + CYCLE * 20
        + "id"
        + " } } } }" * 20
        + " } } } }",
        "overlapping fields, one field 199 times": "{ " + ORGANIZATIONS * 199 + "}",
        "overlapping fields, one field 498 times": "{ " + "regionSummaries { regionCode } " * 498 + "}",
        "overlapping fields, 190 copies in a fragment": "{ ...A } fragment A on Query { "
        + ORGANIZATIONS * 190
        + "}",
        "overlapping fragments on a type, 150": "{ organizations(first: 1) { edges { node { "
        + " ".join(f"...O{i}" for i in range(150))
        + " } } } } "
        + " ".join(f"fragment O{i} on Organization {{ id shortName }}" for i in range(150)),
        "overlapping fragments on a type, 150 in conflict": "{ organizations(first: 1) { edges { node { "
        + " ".join(f"...O{i}" for i in range(150))
        + " } } } } "
        + " ".join(
            f"fragment O{i} on Organization {{ x: {'id' if i % 2 else 'shortName'} }}" for i in range(150)
        ),
        "inline fragments on a type, 320": "{ organizations { edges { node { "
        + "... on Organization { id } " * 320
        + "} } } }",
        "size, 99,000 characters of comment": "#" + "x" * 99_000 + "\n{ __typename }",
        "size, 99,000 commas": "{ __typename " + "," * 99_000 + " }",
        "size, 150,000 characters (over the limit)": "{ __typename " + " " * 150_000 + " }",
        "tokens, 5,000 fields (over the token limit)": "{ " + "__typename " * 5000 + "}",
        "directives, 270 @skip on a field": "{ __typename " + "@skip(if: false) " * 270 + "}",
        "directives, 900 unknown": "{ __typename " + " ".join(f"@d{i}" for i in range(900)) + " }",
        "introspection, the full query": get_introspection_query(),
        "introspection, lists nested 4 deep": "{ __schema { types { fields { type { fields { type "
        "{ fields { type { fields { name } } } } } } } } } }",
    }
    corpus.update((name, (document, None)) for name, document in documents.items())
    return corpus


CORPUS: dict[str, tuple[str, str | None]] = _corpus()
"""Each kind's worst document: name → (document, operation name)."""


def request(name: str, number: int) -> dict[str, Any]:
    """The request body of ``CORPUS[name]``, made new by a comment with ``number``."""
    document, operation = CORPUS[name]
    body: dict[str, Any] = {"query": f"# {number}\n{document}"}
    if operation is not None:
        body["operationName"] = operation
    return body
