import pytest
from setka_runtime.errors import DomainError

from services.registry import rules
from services.registry.demo import demo_organizations

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("inn", ["7707083893", "7736050003"])
def test_valid_inn_passes(inn: str) -> None:
    assert rules.check_inn(inn) == inn


@pytest.mark.parametrize(
    ("inn", "code"),
    [
        ("390100454", "INN_FORMAT"),
        ("39010045401", "INN_FORMAT"),
        ("39O1004540", "INN_FORMAT"),
        ("7707083894", "INN_CHECKSUM"),
    ],
)
def test_invalid_inn_is_refused_with_the_field(inn: str, code: str) -> None:
    with pytest.raises(DomainError, match="ИНН") as error:
        rules.check_inn(inn)
    assert error.value.field == "inn"
    assert error.value.code == code


def test_demo_organizations_have_valid_unique_inns() -> None:
    organizations = demo_organizations()
    inns = [o.inn for o in organizations if o.inn]
    assert len(inns) == len(set(inns)) == len(organizations)
    for inn in inns:
        rules.check_inn(inn)
    assert {o.region_code for o in organizations} == {"39", "08"}
