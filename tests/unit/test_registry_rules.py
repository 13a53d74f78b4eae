import pytest
from setka_runtime.errors import DomainError

from services.registry import rules
from services.registry.demo import demo_organizations

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("inn", ["7707083893", "7736050003"])
def test_valid_inn_passes(inn: str) -> None:
    assert rules.check_inn(inn) == inn


@pytest.mark.parametrize(
    ("inn", "reason"),
    [
        ("390100454", "10 digits"),
        ("39010045401", "10 digits"),
        ("39O1004540", "10 digits"),
        ("7707083894", "checksum"),
    ],
)
def test_invalid_inn_is_refused_with_the_field(inn: str, reason: str) -> None:
    with pytest.raises(DomainError, match=reason) as error:
        rules.check_inn(inn)
    assert error.value.field == "inn"


def test_demo_organizations_have_valid_unique_inns() -> None:
    organizations = demo_organizations()
    inns = [o.inn for o in organizations if o.inn]
    assert len(inns) == len(set(inns)) == len(organizations)
    for inn in inns:
        rules.check_inn(inn)
    assert {o.region_code for o in organizations} == {"39", "08"}
