"""Organizations and educators as regions know them, resolved to Setka's ids.

An organization is named by Setka's id, its ИНН, ОГРН or federal school code (all learned from
the registry's events, in the local copy) or by the sending system's own id; an educator by
Setka's id, the sending system's own person id, or the СНИЛС. A system's own ids are learned
from imports (:func:`learn`: a mapping of (source system, its id) to Setka's id). A СНИЛС is
never kept: the registry publishes the keyed hash of its educators' СНИЛС, an import keeps the
hash, and a fact's СНИЛС is replaced by the hash as it is received (:func:`seal`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from setka_contracts.regional import LATEST, EducatorReference, OrganizationRef
from setka_runtime.consumer import Item
from setka_runtime.identities import SnilsRefused, snils_hash
from setka_runtime.sql import upsert
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import IdentityMapping, KnownEducator, KnownOrganization, now

ORGANIZATION_FIELDS = ("host", "organization")
"""The fields of the regional facts that name the organization a fact is about."""
CHUNK = 1000


class MappingKind(StrEnum):
    organization = "organization"
    educator = "educator"
    educator_snils = "educator_snils"
    """An educator by the keyed hash of the СНИЛС (the same in every system)."""


def _refusal(message: str, code: str) -> str:
    return f"{message} [{code}]"


# -- СНИЛС: sealed as it arrives -----------------------------------------------------------------------


def seal_body(value: bytes, key: str | None) -> bytes:
    """The fact's JSON with the educator's ``snils`` replaced by ``snils_hash`` (unchanged when
    it has none). :class:`SnilsRefused` if it has one and there is no key, or it is not a СНИЛС."""
    if b"snils" not in value:
        return value
    try:
        data = json.loads(value)
    except ValueError:
        return value
    educator = data.get("educator") if isinstance(data, dict) else None
    if not isinstance(educator, dict) or not isinstance(educator.get("snils"), str):
        return value
    if key is None:
        raise SnilsRefused("СНИЛС не принимается: в Setka не задан ключ SNILS_HMAC_KEY")
    educator["snils_hash"] = snils_hash(educator.pop("snils"), key)
    return json.dumps(data, ensure_ascii=False).encode()


def seal(item: Item, key: str | None) -> None:
    """Replace the СНИЛС of an item (its data and its bytes) by its hash, or reject the item."""
    educator = _field(item.data, "educator")
    if not isinstance(educator, EducatorReference) or educator.snils is None:
        return
    try:
        item.value = seal_body(item.value, key)
        digest = snils_hash(educator.snils, key or "")
    except SnilsRefused as exc:
        item.value = b""  # nothing of the number goes on, not even to the dead-letter topic
        item.reject(
            _refusal(f"{exc}; назовите педагога его id в Setka или кодом вашей системы", "SNILS_NOT_ACCEPTED")
        )
        return
    item.data = item.data.model_copy(
        update={"educator": educator.model_copy(update={"snils": None, "snils_hash": digest})}
    )


# -- resolving -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organization:
    id: uuid.UUID
    region_code: str
    short_name: str


def _field(model: Any, name: str) -> Any:
    """A contract model's field ``name``, None when it has none: read from the instance's fields
    (pydantic answers ``getattr`` of a missing name by raising, dear when asked per fact)."""
    fields = getattr(model, "__dict__", None)
    return fields.get(name) if fields is not None else getattr(model, name, None)


def organization_ref(data: Any) -> OrganizationRef | None:
    for name in ORGANIZATION_FIELDS:
        ref = _field(data, name)
        if isinstance(ref, OrganizationRef):
            return ref
    return None


def _chunks(values: Iterable[Any]) -> list[list[Any]]:
    ordered = sorted(set(values), key=str)
    return [ordered[start : start + CHUNK] for start in range(0, len(ordered), CHUNK)]


ORGANIZATION_COLUMNS = ("id", "inn", "kind", "short_name", "archived_at")
"""What the rules read of an organization (:class:`OrganizationsRead` keeps it for them)."""
_READ = "setka_events_organizations_read"


@dataclass
class OrganizationsRead:
    """The organizations the gate read in a transaction, so that the rules of the same batch do
    not read them again: each as a row of :data:`ORGANIZATION_COLUMNS` (and more), in the order
    read, with the ids and ИНН asked for (one asked for and not found is not known either)."""

    ids: set[uuid.UUID]
    inns: set[str]
    rows: list[Any]

    def remember(self, session: AsyncSession) -> None:
        """Keep it for the rest of the session's transaction (never past it)."""
        session.info[_READ] = (session.sync_session.get_transaction(), self)

    @staticmethod
    def of(session: AsyncSession) -> OrganizationsRead | None:
        """What the gate read in the session's current transaction, if it did."""
        kept = session.info.get(_READ)
        transaction = session.sync_session.get_transaction()
        if kept is None or transaction is None or kept[0] is not transaction:
            return None
        return kept[1]


class _Lookup:
    """Every reference of a run of facts, read in bulk."""

    def __init__(self) -> None:
        self.organizations: dict[tuple[str, ...], Organization] = {}
        self.educators: dict[tuple[str, str], uuid.UUID] = {}
        self.read = OrganizationsRead(ids=set(), inns=set(), rows=[])

    async def load(self, session: AsyncSession, items: Sequence[Item]) -> None:
        table = KnownOrganization.__table__  # type: ignore[attr-defined]
        wanted: dict[str, set[Any]] = {"id": set(), "inn": set(), "ogrn": set(), "school_code": set()}
        own: dict[str, set[str]] = {}
        persons: dict[str, set[str]] = {}
        hashes: set[str] = set()
        educator_ids: set[uuid.UUID] = set()
        for item in items:
            ref = organization_ref(item.data)
            if ref is not None:
                for name, values in wanted.items():
                    value = _field(ref, name)
                    if value is not None:
                        values.add(value)
                own_id = _field(ref, "own_id")
                if own_id is not None:
                    own.setdefault(item.data.source_system, set()).add(own_id)
            educator = _field(item.data, "educator")
            if isinstance(educator, EducatorReference):
                if educator.id is not None:
                    educator_ids.add(educator.id)
                if educator.person_id is not None:
                    persons.setdefault(item.data.source_system, set()).add(educator.person_id)
                if educator.snils_hash is not None:
                    hashes.add(educator.snils_hash)
        columns = tuple(
            table.c[name]
            for name in dict.fromkeys(("region_code", "ogrn", "school_code", *ORGANIZATION_COLUMNS))
        )
        for name, values in wanted.items():
            for chunk in _chunks(values):
                for row in await session.execute(select(*columns).where(table.c[name].in_(chunk))):
                    self.organizations[(name, str(getattr(row, name)))] = Organization(
                        row.id, row.region_code, row.short_name
                    )
                    self.read.rows.append(row)
        mapped = await self._mapped(session, MappingKind.organization, own)
        for chunk in _chunks(mapped.values()):
            rows = {
                row.id: row for row in await session.execute(select(*columns).where(table.c.id.in_(chunk)))
            }
            self.read.rows.extend(rows.values())
            for key, setka_id in mapped.items():
                if setka_id in rows:
                    row = rows[setka_id]
                    self.organizations[("own_id", *key)] = Organization(
                        row.id, row.region_code, row.short_name
                    )
        self.read.ids.update(wanted["id"], (row.id for row in self.read.rows))
        self.read.inns.update(wanted["inn"])
        educator = KnownEducator.__table__  # type: ignore[attr-defined]
        for chunk in _chunks(educator_ids):
            for row in await session.execute(select(educator.c.id).where(educator.c.id.in_(chunk))):
                self.educators[("id", str(row.id))] = row.id
        for chunk in _chunks(hashes):
            for row in await session.execute(
                select(educator.c.id, educator.c.snils_hash).where(educator.c.snils_hash.in_(chunk))
            ):
                self.educators[("snils_hash", row.snils_hash)] = row.id
        for (_, digest), setka_id in (
            await self._mapped(session, MappingKind.educator_snils, {"": hashes})
        ).items():
            self.educators.setdefault(("snils_hash", digest), setka_id)
        for (system, person), setka_id in (
            await self._mapped(session, MappingKind.educator, persons)
        ).items():
            self.educators[(f"person:{system}", person)] = setka_id

    @staticmethod
    async def _mapped(
        session: AsyncSession, kind: MappingKind, wanted: dict[str, set[str]]
    ) -> dict[tuple[str, str], uuid.UUID]:
        found: dict[tuple[str, str], uuid.UUID] = {}
        table = IdentityMapping.__table__  # type: ignore[attr-defined]
        for system, ids in wanted.items():
            for chunk in _chunks(ids):
                rows = await session.execute(
                    select(table.c.external_id, table.c.setka_id).where(
                        table.c.kind == kind.value,
                        table.c.source_system == system,
                        table.c.external_id.in_(chunk),
                    )
                )
                for row in rows:
                    found[(system, row.external_id)] = row.setka_id
        return found

    def organization(self, data: Any, ref: OrganizationRef) -> Organization | None:
        for name in ("id", "inn", "ogrn", "school_code"):
            value = _field(ref, name)
            if value is not None:
                return self.organizations.get((name, str(value)))
        own_id = _field(ref, "own_id")
        if own_id is not None:
            return self.organizations.get(("own_id", data.source_system, own_id))
        return None

    def educator(self, data: Any, ref: EducatorReference) -> uuid.UUID | None:
        if ref.id is not None:
            return self.educators.get(("id", str(ref.id)))
        if ref.person_id is not None:
            return self.educators.get((f"person:{data.source_system}", ref.person_id))
        if ref.snils_hash is not None:
            return self.educators.get(("snils_hash", ref.snils_hash))
        return None


async def resolve(session: AsyncSession, items: Sequence[Item]) -> dict[int, Organization]:
    """The organization each item is about (by ``id(item)``); an item whose organization or
    educator is not known yet is deferred naming the reference. A version 2 fact becomes the
    version 1 fact it stands for, with Setka's ids (what the rules apply)."""
    lookup = _Lookup()
    await lookup.load(session, items)
    lookup.read.remember(session)
    found: dict[int, Organization] = {}
    for item in items:
        data = item.data
        ref = organization_ref(data)
        if ref is None:
            continue
        organization = lookup.organization(data, ref)
        if organization is None:
            item.defer(
                _refusal(
                    f"организация ({ref.describe()}) ещё не известна Setka: она появится, когда её "
                    "зарегистрирует реестр или импорт сопоставлений",
                    "UNKNOWN_ORGANIZATION_REFERENCE",
                )
            )
            continue
        educator_id: uuid.UUID | None = None
        educator = _field(data, "educator")
        if isinstance(educator, EducatorReference):
            educator_id = lookup.educator(data, educator)
            if educator_id is None:
                item.defer(
                    _refusal(
                        f"педагог ({educator.describe()}) системы {data.source_system} ещё не известен Setka",
                        "UNKNOWN_EDUCATOR_REFERENCE",
                    )
                )
                continue
        found[id(item)] = organization
        latest = LATEST.get(item.event.type)
        if latest is not None:
            item.data = _as_latest(latest, data, organization.id, educator_id)
    return found


def _as_latest(
    latest: type[Any], data: Any, organization_id: uuid.UUID, educator_id: uuid.UUID | None
) -> Any:
    fields = {name: getattr(data, name) for name in latest.model_fields if name in type(data).model_fields}
    for name in ORGANIZATION_FIELDS:
        if name in latest.model_fields:
            fields[name] = OrganizationRef(id=organization_id)
    if "educator_id" in latest.model_fields:
        fields["educator_id"] = educator_id
    return latest.model_construct(**fields)


# -- learning -----------------------------------------------------------------------------------------


async def learn(
    session: AsyncSession, kind: MappingKind, source_system: str, external_id: str, setka_id: uuid.UUID
) -> None:
    """Keep (or replace) what a system's own id stands for; for ``educator_snils`` the external id
    is the hash (:func:`setka_runtime.identities.snils_hash`), never the number."""
    await session.execute(
        upsert(
            session,
            IdentityMapping.__table__,  # type: ignore[attr-defined]
            index=["kind", "source_system", "external_id"],
            values={
                "kind": kind.value,
                "source_system": "" if kind is MappingKind.educator_snils else source_system,
                "external_id": external_id,
                "setka_id": setka_id,
                "learned_at": now(),
            },
        )
    )
