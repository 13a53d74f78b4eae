"""The demo generator: deterministic, clearly synthetic, and consistent with the registry's rules."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from services.registry import rules
from services.registry.demo.dataset import (
    SYNTHETIC,
    generate,
    national_educators,
    national_organizations,
)

pytestmark = pytest.mark.unit


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    assert generate(2026) == generate(2026)
    assert generate(2026) != generate(2027)
    first = list(itertools.islice(national_organizations(500, seed=5), 500))
    assert first == list(national_organizations(500, seed=5))
    assert list(national_educators(50, organizations=10, seed=5)) == list(
        national_educators(50, organizations=10, seed=5)
    )


def test_demo_covers_both_regions_with_dozens_of_schools_and_hundreds_of_educators() -> None:
    data = generate()
    schools = [o for o in data.organizations if o.kind == "school"]
    assert {o.region_code for o in data.organizations} == {"39", "08"}
    assert 30 <= len(schools) <= 100
    assert 300 <= len(data.educators) <= 1000
    assert {n.level for n in data.networks} == {"municipal", "regional"}
    assert data.resources and data.agreements and data.risk_profiles and data.groups
    assert all(o.full_name.endswith(SYNTHETIC) for o in data.organizations)
    assert all(o.website.endswith(".example.org") for o in data.organizations)
    kinds = Counter(o.kind for o in data.organizations)
    assert kinds["education_authority"] >= 2 and kinds["development_institute"] == 1
    assert kinds["methodological_service"] == 1


def test_identifiers_are_valid_and_unique() -> None:
    data = generate()
    for org in data.organizations:
        rules.check_inn(org.inn)
        rules.check_ogrn(org.ogrn)
        if org.school_code:
            rules.check_school_code(org.school_code)
    for field in ("inn", "ogrn", "school_code"):
        values = [getattr(o, field) for o in data.organizations if getattr(o, field)]
        assert len(values) == len(set(values)), field
    national = list(national_organizations(3000))
    assert len({o.inn for o in national}) == 3000
    assert len({o.school_code for o in national}) == 3000
    for org in national[:200]:
        rules.check_inn(org.inn)
        rules.check_school_code(org.school_code)


def test_memberships_follow_the_status_rules() -> None:
    data = generate()
    by_key = {o.key: o for o in data.organizations}

    def holds(key: str, status: str, on: object) -> bool:
        return any(
            s.status == status and s.since <= on and (s.until is None or on < s.until)  # type: ignore[operator]
            for s in by_key[key].statuses
        )

    centres = [m for m in data.memberships if m.role == "centre"]
    assert {by_key[m.organization].municipality for m in centres} >= {"г. Элиста"}
    assert len({by_key[m.organization].municipality for m in centres}) >= 3  # Elista and the districts
    for membership in data.memberships:
        if membership.role == "centre":
            assert holds(membership.organization, "stable_results", membership.joined_on)
        if membership.role == "supported":
            assert holds(membership.organization, "low_results", membership.joined_on) or holds(
                membership.organization, "adverse_social_conditions", membership.joined_on
            )
    for org in data.organizations:
        for a, b in itertools.combinations(org.statuses, 2):
            if {a.status, b.status} == {"low_results", "stable_results"}:
                assert (a.until is not None and a.until <= b.since) or (
                    b.until is not None and b.until <= a.since
                )


def test_scale_multiplies_the_regions() -> None:
    small, large = generate(scale=1), generate(scale=3)
    assert len(large.organizations) > 2 * len(small.organizations)
    assert len({o.inn for o in large.organizations}) == len(large.organizations)
