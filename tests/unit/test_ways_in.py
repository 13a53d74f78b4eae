"""Issue 19: what the other ways in make of their input before the consumer sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from setka_contracts import EnvelopeError, binary_of, parse, read_structured
from setka_contracts.identifiers import inn_check_digit

from operations import contract
from services.events import importing
from services.events.importing import ImportKind

pytestmark = pytest.mark.unit

INN = "39" + "0000001" + inn_check_digit("390000001")


def event(**data: object) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": "x-1",
        "source": "/regional/rcoi-39",
        "type": "setka.regional.assessment.published.v1",
        "data": {
            "source_system": "rcoi-39",
            "external_id": "A-1",
            "organization": {"inn": INN},
            "procedure": "vpr",
            "subject": "математика",
            "grade": 5,
            "year": 2025,
            "participants": 25,
            "mean_score": 3.7,
            "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            "recorded_at": "2026-01-10T10:00:00+03:00",
            **data,
        },
    }


def test_a_structured_event_becomes_the_binary_message_kafka_would_carry() -> None:
    headers, body = binary_of(event())
    parsed = parse(headers, body)
    assert (parsed.id, parsed.source, parsed.type) == ("x-1", "/regional/rcoi-39", event()["type"])
    assert parsed.data["organization"] == {"inn": INN}
    assert contract.check_event(event()) is None


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"data_base64": "e30="}, "data_base64 is not accepted"),
        ({"id": 5}, "attribute id must be a JSON string"),
        ({"Bad-Name": "x"}, "attribute names are"),
        ({"specversion": "0.3"}, "ce_specversion must be '1.0'"),
    ],
)
def test_what_the_binary_mode_cannot_carry_is_refused_with_a_reason(
    changed: dict[str, object], reason: str
) -> None:
    found = contract.check_event(event() | changed)
    assert found is not None and reason in found


def test_a_batch_is_read_as_strictly_as_a_body() -> None:
    with pytest.raises(EnvelopeError, match="twice"):
        read_structured(b'[{"id": "a", "id": "b"}]', batch=True)
    with pytest.raises(EnvelopeError, match="JSON array"):
        read_structured(json.dumps(event()).encode(), batch=True)
    with pytest.raises(EnvelopeError, match="not a JSON number"):
        read_structured(b'[{"data": {"x": NaN}}]', batch=True)


def test_contract_check_reads_json_lines_and_arrays_and_names_each_message(tmp_path: Path) -> None:
    lines = tmp_path / "facts.jsonl"
    lines.write_text(
        "\n".join([json.dumps(event()), json.dumps(event(grade="5")), "{not json"]) + "\n", encoding="utf-8"
    )
    results = contract.check_file(lines)
    assert [(r.where, r.reason is None) for r in results] == [
        ("line 1", True),
        ("line 2", False),
        ("line 3", False),
    ]
    assert "grade" in (results[1].reason or "")
    array = tmp_path / "facts.json"
    array.write_text(json.dumps([event(), event(mean_score=300)]), encoding="utf-8")
    assert [r.where for r in contract.check_file(array) if r.reason] == ["[1]"]


def test_an_assessment_centre_export_maps_by_its_russian_headings() -> None:
    header = ["Код ОО", "ИНН", "Процедура", "Предмет", "Класс", "Год", "Кол-во участников", "Средний балл"]
    header += ["% «2»", "% «3»", "% «4»", "% «5»"]
    row = ["390001", INN, "ВПР", "Математика", "5", "2024/2025", "25", "3,72", "10", "40", "35", "15"]
    columns = importing.map_header(ImportKind.assessment_results, header)
    values = {name: row[index] for name, index in columns.items()}
    data = importing.row_data(ImportKind.assessment_results, values, source_system="rcoi")
    assert data["procedure"] == "vpr" and data["year"] == 2025 and data["mean_score"] == 3.72
    assert data["mark_shares"] == {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15}
    assert data["organization"] == {"inn": INN, "school_code": "390001"}


def test_a_missing_column_is_named_in_russian() -> None:
    with pytest.raises(importing.UnmappableHeader, match="«предмет»"):
        importing.map_header(ImportKind.assessment_results, ["ИНН", "Процедура", "Класс"])


def test_the_same_row_is_the_same_fact() -> None:
    data = {"source_system": "s", "external_id": "1", "hours": 2.0}
    assert importing.fact_id(ImportKind.attendance, "/a", data) == importing.fact_id(
        ImportKind.attendance, "/a", dict(reversed(data.items()))
    )
    assert importing.fact_id(ImportKind.attendance, "/a", data) != importing.fact_id(
        ImportKind.attendance, "/a", data | {"hours": 3.0}
    )


def test_setka_contract_check_prints_each_refusal_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from operations import cli

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps(event()) + "\n", encoding="utf-8")
    bad.write_text(json.dumps(event()) + "\n" + json.dumps(event(year="2025")) + "\n", encoding="utf-8")
    assert cli.run(["contract", "check", str(good)]) == 0
    assert cli.run(["contract", "check", str(bad)]) == 1
    printed = capsys.readouterr().out
    assert "line 2 (x-1): does not match setka.regional.assessment.published.v1: year" in printed
    assert "2 messages, 1 accepted, 1 refused" in printed
