"""Version 2 of the regional facts: the references regional systems hold, each checked at the door
(СНИЛС and ОГРН check digits), and a СНИЛС that only ever leaves as its keyed hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from setka_contracts.identifiers import normalised_snils, snils_problem
from setka_contracts.regional import EducatorReference, OrganizationReference, TrainingCompletedV2
from setka_runtime.identities import SnilsRefused, snils_hash

from services.events.identities import seal_body

pytestmark = pytest.mark.unit

KEY = "unit-test-snils-key-0123456789abcdef0123"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("112-233-445 95", None),
        ("11223344595", None),
        ("112-233-445 96", "СНИЛС check digits do not match: check the number"),
        ("001-001-997 00", None),  # issued before check digits
        ("1122334459", "СНИЛС must be 11 digits (123-456-789 01)"),
    ],
)
def test_snils_is_checked_by_its_check_digits(text: str, problem: str | None) -> None:
    assert snils_problem(normalised_snils(text)) == problem


def test_an_educator_is_named_by_id_person_id_or_snils_and_never_shown_by_the_number() -> None:
    assert EducatorReference(snils="112-233-445 95").snils == "11223344595"
    assert "445" not in EducatorReference(snils="112-233-445 95").describe()
    assert EducatorReference(person_id="P-1").describe() == "собственный код системы P-1"
    with pytest.raises(ValidationError, match="give the educator's id, person_id or snils"):
        EducatorReference()
    with pytest.raises(ValidationError, match="check digits"):
        EducatorReference(snils="112-233-445 96")


def test_an_organization_is_named_by_inn_ogrn_school_code_or_own_id() -> None:
    assert OrganizationReference(school_code="390123").describe() == "код ФИС ОКО 390123"
    assert OrganizationReference(own_id="OO-17").describe() == "собственный код системы OO-17"
    with pytest.raises(ValidationError, match="ОГРН checksum"):
        OrganizationReference(ogrn="1020800000001")
    with pytest.raises(ValidationError, match="give the organization's id, inn, ogrn, school_code or own_id"):
        OrganizationReference()


def test_a_snils_is_replaced_by_its_keyed_hash_before_anything_keeps_the_fact() -> None:
    body = {
        "source_system": "courses",
        "external_id": "T-1",
        "educator": {"snils": "112-233-445 95"},
        "organization": {"school_code": "390123"},
        "course": "Курс",
        "provider": "ИРО",
        "hours": 36,
        "completed_on": "2026-01-10",
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    sealed = seal_body(json.dumps(body).encode(), KEY)
    assert b"11223344595" not in sealed and b"445" not in sealed
    digest = snils_hash("11223344595", KEY)
    assert json.loads(sealed)["educator"] == {"snils_hash": digest}
    assert digest != snils_hash("11223344595", KEY[::-1])  # keyed: another secret, another hash
    assert TrainingCompletedV2.model_validate_json(sealed).educator.snils_hash == digest
    with pytest.raises(SnilsRefused):
        seal_body(json.dumps(body).encode(), None)
