"""What part of the country a caller's roles reach, as SQL conditions for reads.

Each service keeps its own copy of where organizations and networks are (a table with ``id``,
``region_code`` and ``municipality_id``); :class:`Reach` turns a caller's roles and scope claims
into conditions over those tables, so every service filters reads by the same rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select

from .access import ALL_REGIONS, Identity, Role
from .graphql import to_uuid

READERS = (Role.expert, Role.viewer)
"""The read-only roles: where they read by region, their region claim is what they reach."""


@dataclass(frozen=True)
class Reach:
    """The part of the country some of a caller's roles cover: every region, a region, a
    municipality, an organization (each held through its role; any of them counts).

    ``roles`` are the roles that count; a regional admin reaches its region, a municipal
    coordinator its municipality, a school representative its organization, and the ``regional``
    roles (see :data:`READERS`) their region."""

    everything: bool = False
    region_code: str | None = None
    municipality_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None

    @classmethod
    def of(cls, caller: Identity, roles: Iterable[Role], *, regional: Iterable[Role] = ()) -> Reach:
        roles, regional = frozenset(roles), frozenset(regional)
        allowed = caller.roles.intersection(roles | regional) if caller.authenticated else frozenset()
        by_region = Role.regional_admin in allowed or bool(allowed & regional)
        region = caller.region_code if by_region else None
        if region == ALL_REGIONS:
            return cls(everything=True)
        municipality = caller.municipality_id if Role.municipal_coordinator in allowed else None
        organization = caller.organization_id if Role.school_representative in allowed else None
        return cls(
            region_code=region,
            municipality_id=to_uuid(municipality) if municipality else None,
            organization_id=to_uuid(organization) if organization else None,
        )

    @property
    def nothing(self) -> bool:
        return self == Reach()

    def _places(self, column: Any, places: Any) -> list[ColumnElement[bool]]:
        within: list[ColumnElement[bool]] = []
        if self.region_code:
            within.append(column.in_(select(places.id).where(places.region_code == self.region_code)))
        if self.municipality_id:
            within.append(column.in_(select(places.id).where(places.municipality_id == self.municipality_id)))
        return within

    def organizations(self, column: Any, places: Any) -> ColumnElement[bool] | None:
        """Rows whose organization ``column`` is within reach, by where ``places`` (the service's
        table of organizations) says they are; None when every row is."""
        if self.everything:
            return None
        within = self._places(column, places)
        if self.organization_id:
            within.append(column == self.organization_id)
        return or_(*within) if within else false()

    def networks(self, column: Any, places: Any) -> ColumnElement[bool] | None:
        """Rows whose network ``column`` is within reach (a region's, a municipality's), by the
        service's table of networks; None when every row is. An organization reaches no network
        as a whole."""
        if self.everything:
            return None
        within = self._places(column, places)
        return or_(*within) if within else false()
