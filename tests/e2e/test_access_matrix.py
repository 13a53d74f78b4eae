"""Done when (issue 10, access control): every mutation, every kind of caller, both ways in.

One stack (real processes, PostgreSQL databases of its own, no demo data) and a small world built
through the gateway by an admin of every region: two municipalities A and B of one region R, schools
A1 and A2 (and A3) in A, B1 in B, C1 in another region, an education authority in A, educators at
each, a municipal network of A with A1 and A2, a regional network with A1 and B1, interaction
groups, resources of A1 and A2 with requests of A2 for A1's, an agreement, regulating documents of N,
mobility between A1 and A2, a plan of N (an activity item, a task of A1 and two proposals of A1),
activities hosted by A1, trainings and deficits of the educators (as a regional system sends them
over Kafka), and an alert about A1 in analytics.

The matrix: every field of ``Mutation`` in ``supergraph.graphql`` (read at test time: a mutation
without a row fails :func:`test_every_mutation_has_a_row`) with a document aimed at A or A1, sent by
each caller (admins of R and of another region, coordinators of A and B, representatives of A1 and
B1, an expert, a viewer, anonymous, and tokens that must not pass: expired, a foreign issuer,
``alg: none``, another key, an unknown role only) twice: through the gateway with the portal's
tokens, and straight to the owning subgraph with internal tokens of the same identities. A refused
caller gets an error coded UNAUTHENTICATED or FORBIDDEN, the field is not executed and no outbox
row appears in any of the three databases; the allowed callers then get the success type or a
ValidationError, never an access error.

Then personal data (educators, an educator, interaction groups' educators, trainings, deficits, the
audit trail) read by each caller on both routes: nothing outside the caller's scope, ever; public
data read anonymously; and the audit trail shows the coordinator's writes to the region's admin.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import jwt
import pytest
from graphql import ObjectTypeDefinitionNode, parse
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import RiskFactor
from setka_runtime.access import INTERNAL_AUDIENCE, INTERNAL_ISSUER, Identity, Role, sign_internal
from setka_runtime.local_broker import free_port
from sqlalchemy.engine import make_url

from deploy.local_stack import ROOT, Stack
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from tests.conftest import DatabaseFactory, run_sync
from tests.helpers import eventually, produce

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"
SERVICES = ("registry", "events", "analytics")
ACCESS_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
ROUTES = ("gateway", "subgraph")
TODAY = date.today().isoformat()


# -- the supergraph's mutations ---------------------------------------------------------------------


def supergraph_mutations() -> dict[str, str]:
    """Every field of ``Mutation`` in supergraph.graphql → the subgraph that owns it (lower case)."""
    document = parse((ROOT / "supergraph.graphql").read_text(encoding="utf-8"))
    owners: dict[str, str] = {}
    for definition in document.definitions:
        if not isinstance(definition, ObjectTypeDefinitionNode) or definition.name.value != "Mutation":
            continue
        for node in definition.fields or ():
            graphs = [
                str(getattr(argument.value, "value", ""))
                for directive in node.directives or ()
                if directive.name.value == "join__field"
                for argument in directive.arguments or ()
                if argument.name.value == "graph"
            ]
            owners[node.name.value] = graphs[0].lower() if graphs else ""
    return owners


# -- callers ------------------------------------------------------------------------------------------

ADMIN_R, ADMIN_OTHER = "admin_R", "admin_other"
COORD_A, COORD_B = "coord_A", "coord_B"
REP_A1, REP_B1 = "rep_A1", "rep_B1"
EXPERT, VIEWER, ANONYMOUS = "expert", "viewer", "anonymous"
EXPIRED, WRONG_ISSUER, ALG_NONE, OTHER_KEY, UNKNOWN_ROLE = (
    "expired",
    "wrong_issuer",
    "alg_none",
    "other_key",
    "unknown_role",
)
BROKEN = (EXPIRED, WRONG_ISSUER, ALG_NONE, OTHER_KEY, UNKNOWN_ROLE)
CALLERS = (ADMIN_R, ADMIN_OTHER, COORD_A, COORD_B, REP_A1, REP_B1, EXPERT, VIEWER, ANONYMOUS, *BROKEN)

EDITORS_A = frozenset({ADMIN_R, COORD_A})
"""Who changes A's registry structure and plans: its region's admin and its coordinator."""
PARTICIPANTS_A1 = frozenset({ADMIN_R, COORD_A, REP_A1})
"""Who changes what is A1's own: the editors of A and A1's representative."""
SIGNED_IN = frozenset({ADMIN_R, ADMIN_OTHER, COORD_A, COORD_B, REP_A1, REP_B1, EXPERT, VIEWER})
"""Who may change their own settings: anyone signed in with a role of Setka."""
OWN_SETTINGS = frozenset({"markNotificationsRead", "setNotificationPreferences", "forgetMyNotificationData"})
"""A person's own notification settings, read marks and data: not writes of the domain, not audited."""
ALLOWED_ORDER = (REP_A1, COORD_A, ADMIN_R)
"""Allowed callers act narrowest first, so the narrowest scope is the one that gets the success."""

ANOTHER_SECRET = "another-secret-nobody-configured-for-these-services-0123456789"
MATRIX_SOURCE = "/regional/access-matrix"
"""A registered source of region R, made with the world."""


# -- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    region: str
    other_region: str
    municipality_a: str
    municipality_b: str
    ids: dict[str, str] = field(default_factory=dict)
    employers: dict[str, set[str]] = field(default_factory=dict)
    """educator → the organizations they work at (before the matrix runs)."""
    places: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """organization → (region, municipality)."""

    def __getitem__(self, name: str) -> str:
        return self.ids[name]

    # who is who
    def identity(self, caller: str) -> Identity | None:
        """The identity a caller's token carries; None for anonymous (broken tokens carry the
        admin of R, so that if one were accepted it could do anything in R)."""
        r, a, b = self.region, self.municipality_a, self.municipality_b
        made: dict[str, Identity] = {
            ADMIN_R: Identity("admin-R", frozenset({Role.regional_admin}), r),
            ADMIN_OTHER: Identity("admin-other", frozenset({Role.regional_admin}), self.other_region),
            COORD_A: Identity("coord-A", frozenset({Role.municipal_coordinator}), r, a),
            COORD_B: Identity("coord-B", frozenset({Role.municipal_coordinator}), r, b),
            REP_A1: Identity("rep-A1", frozenset({Role.school_representative}), r, a, self["A1"]),
            REP_B1: Identity("rep-B1", frozenset({Role.school_representative}), r, b, self["B1"]),
            # scope claims that would be enough for an editor: the roles give nothing
            EXPERT: Identity("expert", frozenset({Role.expert}), r, a, self["A1"]),
            VIEWER: Identity("viewer", frozenset({Role.viewer}), r, a, self["A1"]),
        }
        if caller == ANONYMOUS:
            return None
        return made.get(caller, made[ADMIN_R])

    def reach(self, caller: str) -> set[str]:
        """The organizations whose personal data the caller may read (the rules of issue 10)."""
        orgs = self.places
        if caller == ADMIN_R:
            return {o for o, (region, _) in orgs.items() if region == self.region}
        if caller == ADMIN_OTHER:
            return {o for o, (region, _) in orgs.items() if region == self.other_region}
        if caller == COORD_A:
            return {o for o, (_, m) in orgs.items() if m == self.municipality_a}
        if caller == COORD_B:
            return {o for o, (_, m) in orgs.items() if m == self.municipality_b}
        if caller == REP_A1:
            return {self["A1"]}
        if caller == REP_B1:
            return {self["B1"]}
        return set()

    def educators_seen_by(self, caller: str) -> set[str]:
        reach = self.reach(caller)
        return {e for e, orgs in self.employers.items() if orgs & reach}


def portal_token(world: World, caller: str, settings: GatewaySettings) -> str | None:
    """The portal's token of a caller, or a broken one made in each of the ways under test."""
    if caller == ANONYMOUS:
        return None
    who = world.identity(caller)
    assert who is not None
    ttl = -3600 if caller == EXPIRED else 3600
    token = issue_token(
        settings,
        subject=who.subject or "",
        roles=[str(r) for r in who.roles],
        region_code=who.region_code,
        municipality_id=who.municipality_id,
        organization_id=who.organization_id,
        ttl_seconds=ttl,
    )
    secret = settings.jwt_secret.get_secret_value()
    claims = jwt.decode(token, options={"verify_signature": False})
    if caller == WRONG_ISSUER:
        return jwt.encode({**claims, "iss": "https://issuer.example.org"}, secret, algorithm="HS256")
    if caller == ALG_NONE:
        return unsigned(claims)
    if caller == OTHER_KEY:
        return jwt.encode(claims, ANOTHER_SECRET, algorithm="HS256")
    if caller == UNKNOWN_ROLE:
        path = (settings.jwt_roles_claim or "roles").split(".")
        target = claims
        for name in path[:-1]:
            target = target.setdefault(name, {})
        target[path[-1]] = ["superuser"]
        claims["scope"] = "superuser"
        return jwt.encode(claims, secret, algorithm="HS256")
    return token


def internal_token(world: World, caller: str, secret: str) -> str | None:
    """The internal token a subgraph trusts for the caller, or one broken in the same ways."""
    if caller == ANONYMOUS:
        return None
    who = world.identity(caller)
    assert who is not None
    if caller == EXPIRED:
        return sign_internal(who, secret, ttl_seconds=-120)
    if caller == OTHER_KEY:
        return sign_internal(who, ANOTHER_SECRET)
    now = int(time.time())
    claims = who.claims() | {"iss": INTERNAL_ISSUER, "aud": INTERNAL_AUDIENCE, "iat": now, "exp": now + 300}
    if caller == WRONG_ISSUER:
        return jwt.encode(claims | {"iss": "setka-impostor"}, secret, algorithm="HS256")
    if caller == ALG_NONE:
        return unsigned(claims)
    if caller == UNKNOWN_ROLE:
        return jwt.encode(claims | {"roles": ["superuser"]}, secret, algorithm="HS256")
    return sign_internal(who, secret, ttl_seconds=300)


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# -- talking to the stack ---------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or [] if isinstance(self.body, dict) else []

    @property
    def codes(self) -> set[str]:
        return {str((e.get("extensions") or {}).get("code")) for e in self.errors}

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None

    def short(self) -> str:
        return f"{self.status} {json.dumps(self.body, ensure_ascii=False)[:400]}"


async def post(
    client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any] | None, token: str | None
) -> Answer:
    headers = {"accept": GRAPHQL_RESPONSE, "content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post(url, json={"query": query, "variables": variables or {}}, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(response.status_code, body)


@dataclass
class Routes:
    """Where a caller's request goes on each route, with which token."""

    stack: Stack
    world: World
    settings: GatewaySettings = field(default_factory=GatewaySettings)

    def url(self, route: str, service: str) -> str:
        return self.stack.gateway_url if route == "gateway" else f"{self.stack.service_url(service)}/graphql"

    def token(self, route: str, caller: str) -> str | None:
        if route == "gateway":
            return portal_token(self.world, caller, self.settings)
        return internal_token(self.world, caller, self.stack.internal_secret)


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def outbox_counts(stack: Stack) -> dict[str, int]:
    counts = {}
    for name in SERVICES:
        connection = await asyncpg.connect(plain(stack.env[f"{name.upper()}_DATABASE_URL"]))
        try:
            counts[name] = await connection.fetchval("SELECT count(*) FROM outbox")
        finally:
            await connection.close()
    return counts


# -- the stack and its world ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def access_stack(tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory) -> Iterator[Stack]:
    """The stack on fresh PostgreSQL databases of its own, without demo data."""
    urls = {name: databases.create(f"access_{name}", migrate=name) for name in SERVICES}
    unset = (
        "KAFKA_BOOTSTRAP_SERVERS",
        "INTERNAL_TOKEN_SECRET",
        *(f"{name.upper()}_DATABASE_URL" for name in SERVICES),
    )
    with pytest.MonkeyPatch.context() as patch:
        for variable in unset:
            patch.delenv(variable, raising=False)
        ports = {name: free_port() for name in ("kafka", *SERVICES, "gateway")}
        env = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
        env |= {"CONSUMER_BACKOFF_SECONDS": "0.05", "OUTBOX_POLL_SECONDS": "0.2"}
        running = Stack(
            var_dir=tmp_path_factory.mktemp("access") / "var",
            ports=ports,
            env=env,
            seed_demo=False,
            echo=False,
        )
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def world(access_stack: Stack) -> World:
    return run_sync(build_world(access_stack))


@pytest.fixture(scope="module")
def routes(access_stack: Stack, world: World) -> Routes:
    return Routes(access_stack, world)


class Builder:
    """Writes through the gateway as an admin of every region; every write must succeed."""

    def __init__(self, client: httpx.AsyncClient, stack: Stack) -> None:
        self.client = client
        self.stack = stack
        self.token = issue_token(
            GatewaySettings(), subject="world-builder", roles=["regional_admin"], region_code="*"
        )

    async def ask(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        answer = await post(self.client, self.stack.gateway_url, query, variables, self.token)
        assert answer.status == 200 and not answer.errors, answer.short()
        return answer.data

    async def write(
        self, field_name: str, params: dict[str, str], variables: dict[str, Any], select: str
    ) -> Any:
        declared = ", ".join(f"${name}: {kind}" for name, kind in params.items())
        arguments = ", ".join(f"{name}: ${name}" for name in params)
        query = (
            f"mutation World({declared}) {{ {field_name}({arguments}) {{ __typename"
            f" ... on ValidationError {{ field message code }} {select} }} }}"
        )
        result = (await self.ask(query, variables))[field_name]
        assert result["__typename"] != "ValidationError", (field_name, variables, result)
        return result


async def build_world(stack: Stack) -> World:
    async with httpx.AsyncClient(timeout=30) as client:
        b = Builder(client, stack)
        region, municipalities = await pick_municipalities(b, stack)
        other_region = "08" if region != "08" else "39"
        w = World(region, other_region, municipalities[0]["id"], municipalities[1]["id"])

        async def organization(name: str, kind: str, region_code: str, municipality: str | None) -> None:
            org = {
                "fullName": f"{name} (проверка доступа)",
                "shortName": name,
                "kind": kind,
                "regionCode": region_code,
                **({"municipalityId": municipality} if municipality else {}),
            }
            made = await b.write(
                "registerOrganization",
                {"input": "RegisterOrganizationInput!"},
                {"input": org},
                "... on Organization { id }",
            )
            w.ids[name] = made["id"]
            w.places[made["id"]] = (region_code, municipality)

        a, bb = w.municipality_a, w.municipality_b
        await organization("EA", "education_authority", region, a)
        await organization("A1", "school", region, a)
        await organization("A2", "school", region, a)
        await organization("A3", "school", region, a)
        await organization("B1", "school", region, bb)
        await organization("C1", "school", other_region, None)
        await b.write(
            "enterStatus",
            {"input": "EnterStatusInput!"},
            {"input": {"organizationId": w["A1"], "status": "stable_results", "enteredOn": "2024-01-01"}},
            "",
        )

        async def educator(name: str, *organizations: str) -> None:
            made = await b.write(
                "registerEducator",
                {"input": "RegisterEducatorInput!"},
                {
                    "input": {
                        "lastName": f"Педагог{name}",
                        "firstName": "Тест",
                        "posts": [{"organizationId": w[o], "position": "учитель"} for o in organizations],
                    }
                },
                "... on Educator { id employments { id } }",
            )
            w.ids[name] = made["id"]
            w.employers[made["id"]] = {w[o] for o in organizations}
            if made["employments"]:
                w.ids[f"{name}.employment"] = made["employments"][0]["id"]

        for name, org in (
            ("eA1", "A1"),
            ("eA2", "A2"),
            ("eB1", "B1"),
            ("eC1", "C1"),
            ("eEnd", "A1"),
            ("eErase", "A1"),
        ):
            await educator(name, org)
        await educator("eFree")

        async def network(name: str, level: str, municipality: str | None) -> None:
            made = await b.write(
                "createNetwork",
                {"input": "CreateNetworkInput!"},
                {
                    "input": {
                        "name": f"Сеть {name} (проверка доступа)",
                        "level": level,
                        "regionCode": region,
                        "governingBodyId": w["EA"],
                        "startedOn": "2024-01-01",
                        **({"municipalityId": municipality} if municipality else {}),
                    }
                },
                "... on Network { id }",
            )
            w.ids[name] = made["id"]

        await network("N", "municipal", a)
        await network("NR", "regional", None)
        await network("Nclose", "municipal", a)

        async def join(net: str, org: str) -> str:
            made = await b.write(
                "joinNetwork",
                {"input": "JoinNetworkInput!"},
                {
                    "input": {
                        "networkId": w[net],
                        "organizationId": w[org],
                        "role": "partner",
                        "joinedOn": "2024-01-10",
                    }
                },
                "... on Membership { id }",
            )
            return str(made["id"])

        await join("N", "A1")
        w.ids["N.A2"] = await join("N", "A2")
        await join("NR", "A1")
        await join("NR", "B1")

        async def group(name: str, net: str, educators: list[str], organizations: list[str]) -> None:
            made = await b.write(
                "formInteractionGroup",
                {"input": "FormInteractionGroupInput!"},
                {
                    "input": {
                        "networkId": w[net],
                        "name": f"РМО {name}",
                        "purpose": "проверка доступа",
                        "educatorIds": [w[e] for e in educators],
                        "organizationIds": [w[o] for o in organizations],
                    }
                },
                "... on InteractionGroup { id }",
            )
            w.ids[name] = made["id"]

        await group("G", "N", ["eA1", "eA2"], ["A1", "A2"])
        await group("GR", "NR", ["eA1", "eB1"], ["A1", "B1"])
        resource = await b.write(
            "offerResource",
            {"input": "OfferResourceInput!"},
            {"input": {"ownerId": w["A1"], "kind": "methodological", "title": "Методические материалы A1"}},
            "... on Resource { id }",
        )
        w.ids["RA1"] = resource["id"]
        shared = await b.write(
            "offerResource",
            {"input": "OfferResourceInput!"},
            {"input": {"ownerId": w["A2"], "kind": "material", "title": "Кабинет химии A2"}},
            "... on Resource { id }",
        )
        w.ids["RA2"] = shared["id"]

        async def ask_for_ra1(name: str, starts: date, ends: date, *, accept: bool = False) -> None:
            """A request of A2 for A1's resource RA1 in network N (A1 answers it)."""
            made = await b.write(
                "requestResource",
                {"input": "RequestResourceInput!"},
                {
                    "input": {
                        "resourceId": w["RA1"],
                        "requesterId": w["A2"],
                        "networkId": w["N"],
                        "startsOn": starts.isoformat(),
                        "endsOn": ends.isoformat(),
                        "purpose": "проверка доступа",
                    }
                },
                "... on ResourceRequest { id }",
            )
            w.ids[name] = made["id"]
            if accept:
                await b.write("acceptResourceRequest", {"requestId": "ID!"}, {"requestId": made["id"]}, "")

        today = date.today()
        await ask_for_ra1("RQuse", today - timedelta(days=5), today + timedelta(days=5))
        await ask_for_ra1("RQdecline", today + timedelta(days=10), today + timedelta(days=11))
        await ask_for_ra1("RQcancel", today + timedelta(days=60), today + timedelta(days=61), accept=True)
        agreement = await b.write(
            "signAgreement",
            {"input": "SignAgreementInput!"},
            {
                "input": {
                    "number": "Д-1",
                    "signedOn": "2024-02-01",
                    "subject": "сетевое взаимодействие",
                    "partyIds": [w["A1"], w["A2"]],
                    "validFrom": "2024-02-01",
                    "networkId": w["N"],
                }
            },
            "... on Agreement { id }",
        )
        w.ids["AG"] = agreement["id"]
        for name, number in (("REG", "П-1"), ("REGw", "П-2")):
            regulation = await b.write(
                "issueRegulation",
                {"input": "IssueRegulationInput!"},
                {
                    "input": {
                        "kind": "provision",
                        "number": number,
                        "issuedOn": "2024-02-01",
                        "issuerId": w["EA"],
                        "title": f"Положение {number} (проверка доступа)",
                        "networkId": w["N"],
                    }
                },
                "... on Regulation { id }",
            )
            w.ids[name] = regulation["id"]

        # the events service learns organizations, networks, memberships and educators over Kafka
        async def events_know_the_registry() -> bool:
            status = (
                await b.ask(
                    "{ eventsStatus { knownOrganizations knownNetworks knownMemberships knownEducators"
                    " knownInteractionGroups waitingMessages } }"
                )
            )["eventsStatus"]
            return (
                status["knownOrganizations"] >= 6
                and status["knownNetworks"] >= 3
                and status["knownMemberships"] >= 4
                and status["knownEducators"] >= 6
                and status["knownInteractionGroups"] >= 2
                and status["waitingMessages"] == 0
            )

        await eventually(events_know_the_registry, timeout=60)

        for name in ("MOB", "MOBd"):
            recorded = await b.write(
                "recordMobility",
                {"input": "RecordMobilityInput!"},
                {
                    "input": {
                        "kind": "students",
                        "homeOrganizationId": w["A1"],
                        "hostOrganizationId": w["A2"],
                        "programme": f"Робототехника ({name})",
                        "participants": 10,
                        "startsOn": "2024-10-01",
                        "endsOn": "2024-10-05",
                        "hours": 12,
                        "networkId": w["N"],
                    }
                },
                "... on MobilityRecord { id }",
            )
            w.ids[name] = recorded["id"]

        plan = await b.write(
            "draftPlan",
            {"networkId": "ID!", "year": "Int!", "title": "String!"},
            {"networkId": w["N"], "year": 2030, "title": "План сети A"},
            "... on Plan { id }",
        )
        w.ids["P"] = plan["id"]
        for name, item in (
            ("PA", {"title": "Семинар (проверка доступа)", "dueOn": "2030-04-01"}),
            (
                "PT",
                {
                    "title": "Заключить договоры (проверка доступа)",
                    "dueOn": "2030-05-01",
                    "kind": "task",
                    "responsibleOrganizationId": w["A1"],
                },
            ),
        ):
            made = await b.write(
                "addPlanItem",
                {"input": "AddPlanItemInput!"},
                {"input": {"planId": w["P"], **item}},
                "... on PlanItem { id }",
            )
            w.ids[name] = made["id"]
        for name in ("PP1", "PP2"):
            made = await b.write(
                "proposePlanItem",
                {"input": "ProposePlanItemInput!"},
                {
                    "input": {
                        "planId": w["P"],
                        "organizationId": w["A1"],
                        "title": f"Предложение {name}",
                        "dueOn": "2030-10-01",
                    }
                },
                "... on PlanProposal { id }",
            )
            w.ids[name] = made["id"]
        now = datetime.now(UTC).replace(microsecond=0)

        # meetings of N's council: one to hold, one to change and cancel, one held with a decision
        async def meeting(name: str, starts: datetime) -> None:
            made = await b.write(
                "scheduleMeeting",
                {"input": "ScheduleMeetingInput!"},
                {
                    "input": {
                        "networkId": w["N"],
                        "kind": "council",
                        "title": f"Совет сети ({name})",
                        "startsAt": starts.isoformat(),
                        "place": "Управление образования",
                        "agenda": ["О плане"],
                        "participants": [{"organizationId": w["A1"], "educatorId": w["eA1"]}],
                    }
                },
                "... on Meeting { id }",
            )
            w.ids[name] = made["id"]

        await meeting("MT", now - timedelta(hours=2))
        await meeting("MC", now + timedelta(days=20))
        await meeting("MH", now - timedelta(hours=3))
        await b.write(
            "holdMeeting",
            {"meetingId": "ID!", "minutes": "String!"},
            {"meetingId": w["MH"], "minutes": "Протокол"},
            "",
        )
        decision = await b.write(
            "recordMeetingDecision",
            {"input": "RecordMeetingDecisionInput!"},
            {
                "input": {
                    "meetingId": w["MH"],
                    "text": "Провести семинар (проверка доступа)",
                    "responsibleOrganizationId": w["A1"],
                    "dueOn": "2030-07-01",
                }
            },
            "... on MeetingDecision { id }",
        )
        w.ids["MD"] = decision["id"]

        async def activity(name: str, starts: datetime, ends: datetime) -> None:
            made = await b.write(
                "planActivity",
                {"input": "PlanActivityInput!"},
                {
                    "input": {
                        "title": f"Семинар {name}",
                        "activityType": "seminar",
                        "format": "in_person",
                        "hostOrganizationId": w["A1"],
                        "networkId": w["N"],
                        "responsibleEducatorId": w["eA1"],
                        "startsAt": starts.isoformat(),
                        "endsAt": ends.isoformat(),
                    }
                },
                "... on Activity { id }",
            )
            w.ids[name] = made["id"]

        await activity("actFuture", now + timedelta(days=30), now + timedelta(days=30, hours=2))
        await activity("actPast", now - timedelta(hours=3), now - timedelta(hours=1))
        await activity("actHeld", now - timedelta(hours=5), now - timedelta(hours=2))
        await activity("actOpen", now + timedelta(days=40), now + timedelta(days=40, hours=2))
        await b.write("holdActivity", {"activityId": "ID!"}, {"activityId": w["actHeld"]}, "")
        await b.write("announceActivity", {"activityId": "ID!"}, {"activityId": w["actOpen"]}, "")
        # educators of A1 (the host's) and of B1 take part: whose they are is personal data
        for educator, org in (("eA1", "A1"), ("eB1", "B1")):
            who = {"activityId": "ID!", "organizationId": "ID!", "educatorId": "ID"}
            ids = {"organizationId": w[org], "educatorId": w[educator]}
            await b.write("registerParticipant", who, {"activityId": w["actOpen"], **ids}, "")
            await b.write(
                "recordAttendance",
                {**who, "hours": "Float!"},
                {"activityId": w["actHeld"], "hours": 2, **ids},
                "",
            )

        await send_trainings_and_deficits(stack, w)
        # a regional system of R registered as a source (the grant and revoke rows change it)
        await b.write(
            "registerSource",
            {"input": "RegisterSourceInput!"},
            {
                "input": {
                    "ceSource": MATRIX_SOURCE,
                    "regionCode": region,
                    "title": "Система региона R (матрица доступа)",
                    "sourceSystems": ["matrix-system"],
                    "topics": [topics.REGIONAL_ASSESSMENTS],
                    "regions": [region],
                }
            },
            "... on RegionalSource { id }",
        )

        async def facts_arrived() -> bool:
            data = await b.ask("{ trainings { id } deficits { id } }")
            return len(data["trainings"]) >= 4 and len(data["deficits"]) >= 4

        await eventually(facts_arrived, timeout=60)

        # the audit trail (analytics, over Kafka) has the world's writes in both regions
        async def audited() -> bool:
            data = await b.ask(
                """query($r: String!, $o: String!) { r: auditTrail(regionCode: $r, first: 1) { edges { node {
                  entryId } } } o: auditTrail(regionCode: $o, first: 1) { edges { node { entryId } } } }""",
                {"r": region, "o": other_region},
            )
            return bool(data["r"]["edges"] and data["o"]["edges"])

        await eventually(audited, timeout=60)
        w.ids["AL"] = await raise_an_alert(stack, w)
        return w


async def raise_an_alert(stack: Stack, w: World) -> str:
    """An alert about A1 in network N (a held activity of A1's without attendance). Analytics runs
    its rules at start and then hourly, so the world's alert is written into its database the way
    a rule writes one, once analytics knows A1 (the alert's scope is A1's)."""
    connection = await asyncpg.connect(plain(stack.env["ANALYTICS_DATABASE_URL"]))
    try:

        async def knows_a1() -> bool:
            found = await connection.fetchval(
                "SELECT count(*) FROM organization WHERE id = $1", UUID(w["A1"])
            )
            return bool(found)

        await eventually(knows_a1, timeout=60)
        ident = uuid4()
        await connection.execute(
            "INSERT INTO alert (id, rule, subject_id, organization_id, network_id, raised_at, details)"
            " VALUES ($1, 'attendance_missing', $2, $3, $4, now(), $5)",
            ident,
            UUID(w["actPast"]),
            UUID(w["A1"]),
            UUID(w["N"]),
            json.dumps({"since_on": TODAY, "threshold_days": 3}),
        )
        return str(ident)
    finally:
        await connection.close()


async def pick_municipalities(b: Builder, stack: Stack) -> tuple[str, list[dict[str, Any]]]:
    """Two municipalities of one region from the reference data. A registry without the demo has
    none (nothing but the demo loads them), so then the built-in reference data is loaded into the
    registry's database as an operator would."""
    query = "{ regions { code } municipalities { id name regionCode } }"
    found = (await b.ask(query))["municipalities"]
    if not found:
        from setka_runtime.db import Database

        from services.registry.reference import load_reference

        db = Database(stack.env["REGISTRY_DATABASE_URL"])
        try:
            async with db.session() as session, session.begin():
                await load_reference(session)
        finally:
            await db.dispose()
        found = (await b.ask(query))["municipalities"]
    by_region: dict[str, list[dict[str, Any]]] = {}
    for municipality in found:
        by_region.setdefault(municipality["regionCode"], []).append(municipality)
    regions = sorted((code for code, items in by_region.items() if len(items) >= 2), key=lambda c: c != "39")
    assert regions, f"no region with two municipalities in the reference data: {found}"
    return regions[0], by_region[regions[0]][:2]


async def send_trainings_and_deficits(stack: Stack, w: World) -> None:
    """Trainings and deficits of eA1, eA2, eB1 and eC1, as a regional system publishes them."""
    bootstrap = f"127.0.0.1:{stack.ports['kafka']}"
    recorded = datetime.now(UTC).replace(microsecond=0).isoformat()
    trainings, deficits = [], []
    for educator, org in (("eA1", "A1"), ("eA2", "A2"), ("eB1", "B1"), ("eC1", "C1")):
        common = {"educator_id": w[educator], "organization": {"id": w[org]}, "recorded_at": recorded}
        for kind, sink, data in (
            (
                "setka.regional.training.completed.v1",
                trainings,
                {
                    "source_system": "kpk-access",
                    "external_id": f"T-{educator}",
                    "course": "Функциональная грамотность",
                    "provider": "КРИПКРО",
                    "hours": 36,
                    "completed_on": "2025-01-09",
                },
            ),
            (
                "setka.regional.deficit.diagnosed.v1",
                deficits,
                {
                    "source_system": "diag-access",
                    "external_id": f"D-{educator}",
                    "competency": "формирующее оценивание",
                    "level": "high",
                    "diagnosed_on": "2025-01-09",
                },
            ),
        ):
            event = CloudEvent(type=kind, source="/regional/access-test", data=common | data)
            sink.append((data["external_id"].encode(), event.body(), event.headers()))
    await produce(bootstrap, topics.REGIONAL_TRAININGS, trainings)
    await produce(bootstrap, topics.REGIONAL_DEFICITS, deficits)


# -- the matrix's rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    mutation: str
    params: dict[str, str]
    variables: Callable[[World], dict[str, Any]]
    allowed: frozenset[str]

    def document(self) -> str:
        declared = ", ".join(f"${name}: {kind}" for name, kind in self.params.items())
        arguments = ", ".join(f"{name}: ${name}" for name in self.params)
        return (
            f"mutation Access({declared}) {{ {self.mutation}({arguments}) {{ __typename"
            " ... on ValidationError { field message code } } }"
        )


def _risk_factors() -> list[dict[str, str]]:
    return [{"factor": factor.value, "level": "low"} for factor in RiskFactor]


def _in_a_month(hours: int) -> str:
    moment = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=31, hours=hours)
    return moment.isoformat()


INPUT = "input"


def _municipalities_file(region: str) -> str:
    """A file of one municipality of ``region``, base64-encoded as importFile takes it."""
    text = f"Код региона;Муниципальное образование\n{region};Проверочный округ (доступ)\n"
    return base64.b64encode(text.encode("utf-8")).decode()


def _document(owner_kind: str, owner_id: str, file_name: str) -> dict[str, str]:
    """A small PDF to attach (only its first bytes matter: they say it is a PDF)."""
    content = b"%PDF-1.7\n% access matrix\n%%EOF\n"
    return {
        "ownerKind": owner_kind,
        "ownerId": owner_id,
        "fileName": file_name,
        "contentBase64": base64.b64encode(content).decode(),
    }


# Ordered: what later rows need is done first, the destructive ones come last.
ROWS: list[Row] = [
    # -- registry: importing a file (a dry run: the world stays as it is). An admin of another
    # region may import too, their rows about R refused one by one in the report (not by access)
    Row(
        "importFile",
        {"kind": "ImportKind!", "fileName": "String!", "contentBase64": "String!", "dryRun": "Boolean"},
        lambda w: {
            "kind": "municipalities",
            "fileName": "муниципалитеты.csv",
            "contentBase64": _municipalities_file(w.region),
            "dryRun": True,
        },
        frozenset({ADMIN_R, ADMIN_OTHER}),
    ),
    # -- events: plans of network N (municipality A)
    Row(
        "draftPlan",
        {"networkId": "ID!", "year": "Int!", "title": "String!"},
        lambda w: {"networkId": w["N"], "year": 2031, "title": "План (проверка доступа)"},
        EDITORS_A,
    ),
    Row(
        "addPlanItem",
        {INPUT: "AddPlanItemInput!"},
        lambda w: {
            INPUT: {
                "planId": w["P"],
                "title": "Пункт плана",
                "dueOn": "2030-06-01",
                "responsibleOrganizationId": w["A1"],
            }
        },
        EDITORS_A,
    ),
    # -- events: meetings of N's council (its editors'); a decision becomes an item of the draft P
    Row(
        "scheduleMeeting",
        {INPUT: "ScheduleMeetingInput!"},
        lambda w: {
            INPUT: {
                "networkId": w["N"],
                "kind": "methodological_association",
                "title": "Заседание РМО (проверка доступа)",
                "startsAt": _in_a_month(0),
                "onlineLink": "https://vks.example.org/rmo",
                "agenda": ["Взаимопосещение уроков"],
                "participants": [{"organizationId": w["A1"]}],
            }
        },
        EDITORS_A,
    ),
    Row(
        "changeMeeting",
        {INPUT: "ChangeMeetingInput!"},
        lambda w: {
            INPUT: {
                "meetingId": w["MC"],
                "kind": "council",
                "title": "Совет сети (перенесён)",
                "startsAt": _in_a_month(3),
                "place": "Школа A1",
                "agenda": ["О плане", "Разное"],
            }
        },
        EDITORS_A,
    ),
    Row(
        "holdMeeting",
        {"meetingId": "ID!", "minutes": "String!"},
        lambda w: {"meetingId": w["MT"], "minutes": "Слушали. Постановили."},
        EDITORS_A,
    ),
    Row(
        "recordMeetingDecision",
        {INPUT: "RecordMeetingDecisionInput!"},
        lambda w: {
            INPUT: {
                "meetingId": w["MH"],
                "text": "Подготовить справку",
                "responsibleOrganizationId": w["A1"],
                "dueOn": "2030-08-01",
            }
        },
        EDITORS_A,
    ),
    Row("planMeetingDecision", {"decisionId": "ID!"}, lambda w: {"decisionId": w["MD"]}, EDITORS_A),
    Row(
        "cancelMeeting",
        {"meetingId": "ID!", "reason": "String!"},
        lambda w: {"meetingId": w["MC"], "reason": "Карантин"},
        EDITORS_A,
    ),
    # a member (A1) proposes for itself, the network's editors for any member; they decide
    Row(
        "proposePlanItem",
        {INPUT: "ProposePlanItemInput!"},
        lambda w: {
            INPUT: {
                "planId": w["P"],
                "organizationId": w["A1"],
                "title": "Открытый урок (проверка доступа)",
                "dueOn": "2030-09-01",
                "interactionGroupId": w["G"],
            }
        },
        PARTICIPANTS_A1,
    ),
    Row(
        "acceptPlanProposal",
        {"proposalId": "ID!", "reason": "String"},
        lambda w: {"proposalId": w["PP1"], "reason": "Включено в план"},
        EDITORS_A,
    ),
    Row(
        "declinePlanProposal",
        {"proposalId": "ID!", "reason": "String!"},
        lambda w: {"proposalId": w["PP2"], "reason": "Повторяет пункт плана"},
        EDITORS_A,
    ),
    Row("agreePlan", {"planId": "ID!"}, lambda w: {"planId": w["P"]}, EDITORS_A),
    Row("startPlan", {"planId": "ID!"}, lambda w: {"planId": w["P"]}, EDITORS_A),
    Row(
        "amendPlan",
        {INPUT: "AmendPlanInput!"},
        lambda w: {
            INPUT: {
                "planId": w["P"],
                "reason": "Перенос (проверка доступа)",
                "changes": [
                    {
                        "itemId": w["PA"],
                        "title": "Семинар (перенесён)",
                        "kind": "activity",
                        "dueOn": "2030-04-15",
                    }
                ],
            }
        },
        EDITORS_A,
    ),
    # a task is A1's (its responsible organization) and its network's editors' to mark done
    Row(
        "markPlanItemDone",
        {"itemId": "ID!", "note": "String"},
        lambda w: {"itemId": w["PT"], "note": "Договоры подписаны"},
        PARTICIPANTS_A1,
    ),
    Row("closePlan", {"planId": "ID!"}, lambda w: {"planId": w["P"]}, EDITORS_A),
    # -- events: activities hosted by A1
    Row(
        "planActivity",
        {INPUT: "PlanActivityInput!"},
        lambda w: {
            INPUT: {
                "title": "Мастер-класс (проверка доступа)",
                "activityType": "master_class",
                "format": "in_person",
                "hostOrganizationId": w["A1"],
                "networkId": w["N"],
                "startsAt": _in_a_month(0),
                "endsAt": _in_a_month(2),
            }
        },
        PARTICIPANTS_A1,
    ),
    Row("announceActivity", {"activityId": "ID!"}, lambda w: {"activityId": w["actFuture"]}, PARTICIPANTS_A1),
    Row(
        "postponeActivity",
        {"activityId": "ID!", "reason": "String!"},
        lambda w: {"activityId": w["actFuture"], "reason": "перенос"},
        PARTICIPANTS_A1,
    ),
    Row(
        "addMaterial",
        {"activityId": "ID!", "title": "String!", "url": "String!"},
        lambda w: {
            "activityId": w["actFuture"],
            "title": "Презентация",
            "url": "https://example.org/slides.pdf",
        },
        PARTICIPANTS_A1,
    ),
    Row(
        "attachEventsDocument",
        {INPUT: "AttachEventsDocumentInput!"},
        lambda w: {INPUT: _document("activity", w["actFuture"], "Программа.pdf")},
        PARTICIPANTS_A1,
    ),
    Row(
        "registerParticipant",
        {"activityId": "ID!", "organizationId": "ID!"},
        lambda w: {"activityId": w["actFuture"], "organizationId": w["A1"]},
        PARTICIPANTS_A1,
    ),
    Row("holdActivity", {"activityId": "ID!"}, lambda w: {"activityId": w["actPast"]}, PARTICIPANTS_A1),
    Row(
        "reportActivity",
        {"activityId": "ID!", "report": "String!"},
        lambda w: {"activityId": w["actHeld"], "report": "Проведено"},
        PARTICIPANTS_A1,
    ),
    Row(
        "recordAttendance",
        {"activityId": "ID!", "organizationId": "ID!", "hours": "Float!"},
        lambda w: {"activityId": w["actHeld"], "organizationId": w["A1"], "hours": 1.5},
        PARTICIPANTS_A1,
    ),
    Row(
        "giveFeedback",
        {"activityId": "ID!", "rating": "Int!", "comment": "String", "organizationId": "ID"},
        lambda w: {"activityId": w["actHeld"], "rating": 5, "comment": "полезно", "organizationId": w["A1"]},
        PARTICIPANTS_A1,
    ),
    Row(
        "correctMobility",
        {INPUT: "CorrectMobilityInput!"},
        lambda w: {INPUT: {"mobilityId": w["MOB"], "hours": 9, "reason": "проверка доступа"}},
        EDITORS_A,
    ),
    Row(
        "recordMobility",
        {INPUT: "RecordMobilityInput!"},
        lambda w: {
            INPUT: {
                "kind": "teachers",
                "homeOrganizationId": w["A1"],
                "hostOrganizationId": w["A2"],
                "programme": "стажировка",
                "participants": 2,
                "startsOn": "2024-09-02",
                "endsOn": "2024-09-03",
                "hours": 8,
                "networkId": w["N"],
            }
        },
        EDITORS_A,
    ),
    # -- events: regional facts entered by hand (through the intake, as from Kafka)
    Row(
        "recordAssessmentResult",
        {INPUT: "AssessmentResultEntry!"},
        lambda w: {
            INPUT: {
                "organizationId": w["A1"],
                "procedure": "vpr",
                "subject": "математика (доступ)",
                "grade": 5,
                "year": 2025,
                "participants": 20,
                "meanScore": 3.6,
                "share2": 0.1,
                "share3": 0.4,
                "share4": 0.4,
                "share5": 0.1,
            }
        },
        EDITORS_A,
    ),
    Row(
        "recordTraining",
        {INPUT: "TrainingEntry!"},
        lambda w: {
            INPUT: {
                "educatorId": w["eA1"],
                "organizationId": w["A1"],
                "course": "Наставничество (доступ)",
                "provider": "КОИРО",
                "hours": 24,
                "completedOn": "2025-02-01",
                "externalId": "КПК-доступ",
            }
        },
        EDITORS_A,
    ),
    Row(
        "recordDeficit",
        {INPUT: "DeficitEntry!"},
        lambda w: {
            INPUT: {
                "educatorId": w["eA1"],
                "organizationId": w["A1"],
                "competency": "оценивание (доступ)",
                "level": "medium",
                "diagnosedOn": "2025-02-01",
                "externalId": "Д-доступ",
            }
        },
        EDITORS_A,
    ),
    # -- registry: organizations of A
    Row(
        "registerOrganization",
        {INPUT: "RegisterOrganizationInput!"},
        lambda w: {
            INPUT: {
                "fullName": "МБОУ СОШ (проверка доступа)",
                "shortName": "СОШ проверка",
                "kind": "school",
                "regionCode": w.region,
                "municipalityId": w.municipality_a,
            }
        },
        EDITORS_A,
    ),
    Row(
        "updateOrganization",
        {INPUT: "UpdateOrganizationInput!"},
        lambda w: {INPUT: {"id": w["A1"], "address": "ул. Проверочная, 1"}},
        PARTICIPANTS_A1,
    ),
    Row(
        "enterStatus",
        {INPUT: "EnterStatusInput!"},
        lambda w: {
            INPUT: {
                "organizationId": w["A1"],
                "status": "adverse_social_conditions",
                "enteredOn": "2024-03-01",
            }
        },
        EDITORS_A,
    ),
    Row(
        "assessRiskProfile",
        {INPUT: "AssessRiskProfileInput!"},
        lambda w: {INPUT: {"organizationId": w["A1"], "assessedOn": TODAY, "factors": _risk_factors()}},
        EDITORS_A,
    ),
    # -- registry: educators of A1
    Row(
        "registerEducator",
        {INPUT: "RegisterEducatorInput!"},
        lambda w: {
            INPUT: {
                "lastName": "Проверкина",
                "firstName": "Ольга",
                "posts": [{"organizationId": w["A1"], "position": "учитель"}],
            }
        },
        PARTICIPANTS_A1,
    ),
    Row(
        "updateEducator",
        {INPUT: "UpdateEducatorInput!"},
        lambda w: {INPUT: {"id": w["eA1"], "subjects": ["математика"]}},
        PARTICIPANTS_A1,
    ),
    Row(
        "employEducator",
        {"educatorId": "ID!", "post": "PostInput!"},
        lambda w: {"educatorId": w["eFree"], "post": {"organizationId": w["A1"], "position": "учитель"}},
        PARTICIPANTS_A1,
    ),
    # -- registry: networks of A
    Row(
        "updateNetwork",
        {INPUT: "UpdateNetworkInput!"},
        lambda w: {INPUT: {"id": w["N"], "name": "Сеть N (проверка доступа, исправлено)"}},
        EDITORS_A,
    ),
    Row(
        "createNetwork",
        {INPUT: "CreateNetworkInput!"},
        lambda w: {
            INPUT: {
                "name": "Сеть (проверка доступа)",
                "level": "municipal",
                "regionCode": w.region,
                "municipalityId": w.municipality_a,
                "governingBodyId": w["EA"],
                "startedOn": "2024-01-01",
            }
        },
        EDITORS_A,
    ),
    Row(
        "joinNetwork",
        {INPUT: "JoinNetworkInput!"},
        lambda w: {
            INPUT: {
                "networkId": w["N"],
                "organizationId": w["A3"],
                "role": "partner",
                "joinedOn": "2024-06-03",
            }
        },
        EDITORS_A,
    ),
    Row(
        "designateCentre",
        {"networkId": "ID!", "organizationId": "ID!", "on": "Date!"},
        lambda w: {"networkId": w["N"], "organizationId": w["A1"], "on": TODAY},
        EDITORS_A,
    ),
    Row(
        "formInteractionGroup",
        {INPUT: "FormInteractionGroupInput!"},
        lambda w: {
            INPUT: {
                "networkId": w["N"],
                "name": "РМО (проверка доступа)",
                "purpose": "проверка",
                "educatorIds": [w["eA1"]],
                "organizationIds": [w["A1"]],
            }
        },
        EDITORS_A,
    ),
    Row(
        "changeInteractionGroup",
        {INPUT: "ChangeInteractionGroupInput!"},
        lambda w: {INPUT: {"groupId": w["G"], "removeEducatorIds": [w["eA2"]]}},
        EDITORS_A,
    ),
    Row(
        "offerResource",
        {INPUT: "OfferResourceInput!"},
        lambda w: {INPUT: {"ownerId": w["A1"], "kind": "staff", "title": "Наставник (проверка доступа)"}},
        PARTICIPANTS_A1,
    ),
    # -- registry: requests for resources, A1's as the owner and the requester
    Row(
        "requestResource",
        {INPUT: "RequestResourceInput!"},
        lambda w: {
            INPUT: {
                "resourceId": w["RA2"],
                "requesterId": w["A1"],
                "networkId": w["N"],
                "startsOn": (date.today() + timedelta(days=20)).isoformat(),
                "endsOn": (date.today() + timedelta(days=21)).isoformat(),
                "purpose": "практикум (проверка доступа)",
            }
        },
        PARTICIPANTS_A1,
    ),
    Row("acceptResourceRequest", {"requestId": "ID!"}, lambda w: {"requestId": w["RQuse"]}, PARTICIPANTS_A1),
    Row(
        "declineResourceRequest",
        {"requestId": "ID!", "reason": "String!"},
        lambda w: {"requestId": w["RQdecline"], "reason": "кабинет на ремонте"},
        PARTICIPANTS_A1,
    ),
    Row(
        "recordResourceUse",
        {INPUT: "RecordResourceUseInput!"},
        lambda w: {
            INPUT: {
                "requestId": w["RQuse"],
                "recordedById": w["A1"],
                "usedFrom": TODAY,
                "note": "лабораторная работа",
                "figure": 12,
            }
        },
        PARTICIPANTS_A1,
    ),
    Row(
        "signAgreement",
        {INPUT: "SignAgreementInput!"},
        lambda w: {
            INPUT: {
                "number": "Д-проверка",
                "signedOn": "2024-05-02",
                "subject": "сотрудничество",
                "partyIds": [w["A1"], w["A2"]],
                "validFrom": "2024-05-02",
                "networkId": w["N"],
            }
        },
        EDITORS_A,
    ),
    Row(
        "amendAgreement",
        {INPUT: "AmendAgreementInput!"},
        lambda w: {
            INPUT: {
                "agreementId": w["AG"],
                "number": "ДС-проверка",
                "amendedOn": TODAY,
                "validTo": "2031-01-01",
            }
        },
        EDITORS_A,
    ),
    Row(
        "reviseRegulation",
        {INPUT: "ReviseRegulationInput!"},
        lambda w: {INPUT: {"regulationId": w["REG"], "number": "П-1/2", "issuedOn": TODAY}},
        EDITORS_A,
    ),
    Row(
        "issueRegulation",
        {INPUT: "IssueRegulationInput!"},
        lambda w: {
            INPUT: {
                "kind": "order",
                "number": "П-проверка",
                "issuedOn": "2024-05-02",
                "issuerId": w["EA"],
                "title": "Приказ (проверка доступа)",
                "networkId": w["N"],
            }
        },
        EDITORS_A,
    ),
    Row(
        "attachRegistryDocument",
        {INPUT: "AttachRegistryDocumentInput!"},
        lambda w: {INPUT: _document("agreement", w["AG"], "Договор Д-1.pdf")},
        EDITORS_A,
    ),
    # -- analytics: the alert about A1, and the school holidays of region R
    Row("acknowledgeAlert", {"alertId": "ID!"}, lambda w: {"alertId": w["AL"]}, PARTICIPANTS_A1),
    # -- events: a person's own notifications (any signed-in role; nobody else's)
    Row("markNotificationsRead", {"all": "Boolean!"}, lambda w: {"all": True}, SIGNED_IN),
    Row(
        "setNotificationPreferences",
        {INPUT: "NotificationPreferencesInput!"},
        lambda w: {INPUT: {"emailEnabled": True, "digest": False, "mutedKinds": []}},
        SIGNED_IN,
    ),
    Row("forgetMyNotificationData", {"confirm": "Boolean!"}, lambda w: {"confirm": True}, SIGNED_IN),
    Row(
        "assignAlert",
        {"alertId": "ID!", "organizationId": "ID"},
        lambda w: {"alertId": w["AL"], "organizationId": w["A2"]},
        PARTICIPANTS_A1,
    ),
    Row(
        "commentOnAlert",
        {"alertId": "ID!", "text": "String!"},
        lambda w: {"alertId": w["AL"], "text": "Отметим посещаемость завтра"},
        PARTICIPANTS_A1,
    ),
    Row(
        "snoozeAlert",
        {"alertId": "ID!", "until": "Date!"},
        lambda w: {"alertId": w["AL"], "until": (date.today() + timedelta(days=7)).isoformat()},
        PARTICIPANTS_A1,
    ),
    Row(
        "setSchoolBreaks",
        {"regionCode": "String!", "schoolYear": "Int!", "breaks": "[SchoolBreakInput!]!"},
        lambda w: {
            "regionCode": w.region,
            "schoolYear": 2025,
            "breaks": [
                {"kind": "autumn", "startsOn": "2025-10-27", "endsOn": "2025-11-04"},
                {"kind": "summer", "startsOn": "2026-05-27", "endsOn": "2026-08-31"},
            ],
        },
        frozenset({ADMIN_R}),
    ),
    # -- analytics: targets of the indicators, decided by the region (its admin) and by a network
    # (its editors: the region's admin, the coordinator of its municipality)
    Row(
        "setIndicatorTarget",
        {"scope": "ScopeKind!", "id": "String!", "indicatorId": "String!", "year": "Int!", "value": "Float!"},
        lambda w: {"scope": "network", "id": w["N"], "indicatorId": "coverage", "year": 2025, "value": 80.0},
        EDITORS_A,
    ),
    Row(
        "clearIndicatorTarget",
        {"scope": "ScopeKind!", "id": "String!", "indicatorId": "String!", "year": "Int!"},
        lambda w: {"scope": "region", "id": w.region, "indicatorId": "coverage", "year": 2025},
        frozenset({ADMIN_R}),
    ),
    # -- events: the region's registered sources of facts (its admin's)
    Row(
        "registerSource",
        {INPUT: "RegisterSourceInput!"},
        lambda w: {
            INPUT: {
                "ceSource": "/regional/access-row",
                "regionCode": w.region,
                "title": "Ещё одна система региона R",
                "regions": [w.region],
            }
        },
        frozenset({ADMIN_R}),
    ),
    Row(
        "grantSource",
        {INPUT: "SourceGrantInput!"},
        lambda w: {
            INPUT: {"ceSource": MATRIX_SOURCE, "kind": "topic", "values": [topics.REGIONAL_TRAININGS]}
        },
        frozenset({ADMIN_R}),
    ),
    Row(
        "revokeSource",
        {INPUT: "SourceGrantInput!"},
        lambda w: {
            INPUT: {"ceSource": MATRIX_SOURCE, "kind": "topic", "values": [topics.REGIONAL_TRAININGS]}
        },
        frozenset({ADMIN_R}),
    ),
    Row(
        "issueSourceToken",
        {"ceSource": "String!"},
        lambda w: {"ceSource": MATRIX_SOURCE},
        frozenset({ADMIN_R}),
    ),
    Row(
        "revokeSourceToken",
        {"ceSource": "String!"},
        lambda w: {"ceSource": MATRIX_SOURCE},
        frozenset({ADMIN_R}),
    ),
    # -- what ends, cancels, withdraws, closes and archives: last
    Row(
        "cancelActivity",
        {"activityId": "ID!", "reason": "String!"},
        lambda w: {"activityId": w["actFuture"], "reason": "отмена"},
        PARTICIPANTS_A1,
    ),
    Row(
        "cancelResourceRequest",
        {"requestId": "ID!", "byOrganizationId": "ID!", "reason": "String"},
        lambda w: {"requestId": w["RQcancel"], "byOrganizationId": w["A1"], "reason": "отмена"},
        PARTICIPANTS_A1,
    ),
    Row("withdrawResource", {"resourceId": "ID!"}, lambda w: {"resourceId": w["RA1"]}, PARTICIPANTS_A1),
    Row(
        "deleteMobility",
        {"mobilityId": "ID!", "reason": "String!"},
        lambda w: {"mobilityId": w["MOBd"], "reason": "записано по ошибке"},
        EDITORS_A,
    ),
    Row(
        "withdrawRegulation",
        {"regulationId": "ID!", "on": "Date!", "reason": "String!"},
        lambda w: {"regulationId": w["REGw"], "on": TODAY, "reason": "утратило силу"},
        EDITORS_A,
    ),
    Row(
        "endEmployment",
        {"employmentId": "ID!", "endedOn": "Date!"},
        lambda w: {"employmentId": w["eEnd.employment"], "endedOn": TODAY},
        PARTICIPANTS_A1,
    ),
    Row(
        "leaveStatus",
        {INPUT: "LeaveStatusInput!"},
        lambda w: {
            INPUT: {"organizationId": w["A1"], "status": "adverse_social_conditions", "leftOn": TODAY}
        },
        EDITORS_A,
    ),
    Row(
        "leaveNetwork",
        {"membershipId": "ID!", "leftOn": "Date!"},
        lambda w: {"membershipId": w["N.A2"], "leftOn": TODAY},
        EDITORS_A,
    ),
    Row(
        "terminateAgreement",
        {"agreementId": "ID!", "on": "Date!"},
        lambda w: {"agreementId": w["AG"], "on": TODAY},
        EDITORS_A,
    ),
    Row(
        "closeNetwork",
        {"networkId": "ID!", "endedOn": "Date!"},
        lambda w: {"networkId": w["Nclose"], "endedOn": TODAY},
        EDITORS_A,
    ),
    Row(
        "eraseEducator",
        {"id": "ID!", "reason": "String"},
        lambda w: {"id": w["eErase"], "reason": "заявление педагога"},
        frozenset({ADMIN_R}),
    ),
    Row(
        "archiveOrganization",
        {"id": "ID!", "reason": "String"},
        lambda w: {"id": w["A1"], "reason": "проверка доступа"},
        EDITORS_A,
    ),
]
ROW_BY_NAME = {row.mutation: row for row in ROWS}
OWNERS = supergraph_mutations()

COORDINATOR_WRITES: set[str] = set()
"""Mutations the coordinator of A made successfully (through either route): the audit must list them."""
MATRIX_LOG: list[dict[str, Any]] = []
"""Every answer of the matrix and of the reads, written to access_matrix.json in pytest's base
temporary directory when the module ends (to read what each caller got)."""


@pytest.fixture(scope="module", autouse=True)
def matrix_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if MATRIX_LOG:
        path = tmp_path_factory.getbasetemp() / "access_matrix.json"
        path.write_text(json.dumps(MATRIX_LOG, ensure_ascii=False, indent=1), encoding="utf-8")


def _outcome(answer: Answer, field_name: str | None = None) -> str:
    if answer.codes - {"None"}:
        return f"HTTP {answer.status} " + ",".join(sorted(answer.codes))
    if answer.errors:
        return f"HTTP {answer.status} uncoded error"
    result = (answer.data or {}).get(field_name) if field_name and isinstance(answer.data, dict) else None
    return str(result.get("__typename")) if isinstance(result, dict) else f"HTTP {answer.status} data"


def test_every_mutation_has_a_row() -> None:
    missing = sorted(set(OWNERS) - set(ROW_BY_NAME))
    stale = sorted(set(ROW_BY_NAME) - set(OWNERS))
    assert not missing, f"mutations of the supergraph without a row in the access matrix: {missing}"
    assert not stale, f"rows of the access matrix for mutations the supergraph no longer has: {stale}"
    assert len(ROW_BY_NAME) == len(ROWS), "a mutation has two rows"
    unowned = sorted(name for name, owner in OWNERS.items() if owner not in SERVICES)
    assert not unowned, f"mutations whose owning subgraph the supergraph does not name: {unowned}"


# -- public and personal reads (before the matrix changes the world) --------------------------------

PUBLIC = {
    "registry": """query($r: String!) {
      organizations(regionCode: $r, first: 50) { edges { node { id shortName } } }
      networks(regionCode: $r, first: 50) { edges { node { id name } } } }""",
    "analytics": """query($r: String!) { regionSummaries { regionCode organizations schools }
      regionSummary(regionCode: $r) { regionCode } }""",
}


@pytest.mark.parametrize("route", ROUTES)
async def test_public_data_is_read_anonymously(route: str, routes: Routes, world: World) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        registry = await post(
            client, routes.url(route, "registry"), PUBLIC["registry"], {"r": world.region}, None
        )
        analytics = await post(
            client,
            routes.url(route, "analytics"),
            PUBLIC["analytics"],
            {"r": world.region},
            None,
        )
    assert registry.status == 200 and not registry.errors, registry.short()
    assert analytics.status == 200 and not analytics.errors, analytics.short()
    organizations = {e["node"]["id"] for e in registry.data["organizations"]["edges"]}
    assert {world["A1"], world["A2"], world["B1"]} <= organizations
    networks = {e["node"]["id"] for e in registry.data["networks"]["edges"]}
    assert {world["N"], world["NR"]} <= networks
    assert analytics.data["regionSummary"]["regionCode"] == world.region
    assert isinstance(analytics.data["regionSummaries"], list)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_small_group_is_analysed_only_in_scope(route: str, routes: Routes, world: World) -> None:
    """The region's networks have fewer than five schools (ANALYTICS_DISCLOSURE_MIN_SCHOOLS): their
    figures are those schools' own, so the region's and the municipal network's analyses are given
    only to callers whose scope covers them (the region's admin, expert and viewer; the network's
    coordinator too), refused to the rest with a code, anonymous callers told to sign in."""
    covering = {
        "region": {ADMIN_R, EXPERT, VIEWER},
        "network": {ADMIN_R, EXPERT, VIEWER, COORD_A},
    }
    wrong: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for caller in (ADMIN_R, ADMIN_OTHER, COORD_A, COORD_B, REP_A1, REP_B1, EXPERT, VIEWER, ANONYMOUS):
            for scope in ("region", "network"):
                query = (
                    f"query($id: String!, $y: Int) {{ effectivenessAnalysis(scope: {scope}, id: $id,"
                    " year: $y) { scopeTitle indicators { value } } }"
                )
                key = world.region if scope == "region" else world["N"]
                answer = await post(
                    client,
                    routes.url(route, "analytics"),
                    query,
                    {"id": key, "y": date.today().year},
                    routes.token(route, caller),
                )
                analysis = (answer.data or {}).get("effectivenessAnalysis")
                refusal = "UNAUTHENTICATED" if caller == ANONYMOUS else "FORBIDDEN"
                if caller in covering[scope]:
                    if not analysis or answer.errors:
                        wrong.append(f"{scope} by {caller}: not given: {answer.short()}")
                elif analysis is not None or refusal not in answer.codes:
                    wrong.append(f"{scope} by {caller}: not refused with {refusal}: {answer.short()}")
                MATRIX_LOG.append(
                    {"read": f"analysis:{scope}", "route": route, "caller": caller, "got": _outcome(answer)}
                )
    assert not wrong, f"small-group analysis ({route}):\n" + "\n".join(wrong)


PERSONAL_READS: dict[str, tuple[str, str]] = {
    # name: (service, query); the educators found are collected from every "id" under an Educator
    "educators": ("registry", "{ educators(first: 100) { edges { node { __typename id lastName } } } }"),
    "educator": ("registry", ""),  # one alias per educator of the world: see _educator_query
    "interactionGroups.educators": (
        "registry",
        "{ networks(first: 50) { edges { node { id"
        " interactionGroups { id educators { __typename id lastName } } } } } }",
    ),
    "trainings": ("events", "{ trainings { id educatorId organizationId course } }"),
    "deficits": ("events", "{ deficits { id educatorId organizationId competency } }"),
    "auditTrail": (
        "analytics",
        "{ auditTrail(first: 500) { edges { node {"
        " entryId operation subject regionCode actorRegionCode } } } }",
    ),
}
PERSONAL_DATA_CALLERS = frozenset({ADMIN_R, ADMIN_OTHER, COORD_A, COORD_B, REP_A1, REP_B1})
"""Callers the personal-data reads are answered for (each within scope); the rest are refused."""
AUDIT_CALLERS = frozenset({ADMIN_R, ADMIN_OTHER})


def _educator_query(world: World) -> str:
    aliases = " ".join(
        f'{name}: educator(id: "{world[name]}") {{ __typename id lastName }}'
        for name in ("eA1", "eA2", "eB1", "eC1", "eEnd", "eFree")
    )
    return f"{{ {aliases} }}"


def _educators_in(value: Any) -> list[str]:
    """Ids of every Educator object in an answer."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("__typename") == "Educator" and "id" in value:
            found.append(value["id"])
        for item in value.values():
            found.extend(_educators_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_educators_in(item))
    return found


def _read_violations(world: World, read: str, caller: str, answer: Answer) -> tuple[list[str], list[str]]:
    """(reads outside the caller's scope, answers that should have been refused and were not)."""
    unauthorized: list[str] = []
    not_refused: list[str] = []
    may_read = AUDIT_CALLERS if read == "auditTrail" else PERSONAL_DATA_CALLERS
    if caller not in may_read and (uncoded := _uncoded(answer)):
        not_refused.append(f"{read} by {caller}: {uncoded}")
    data = answer.data or {}
    if read == "auditTrail":
        region = {ADMIN_R: world.region, ADMIN_OTHER: world.other_region}.get(caller)
        for edge in ((data.get("auditTrail") or {}).get("edges")) or []:
            entry = edge["node"]
            if region is None or region not in (entry["regionCode"], entry["actorRegionCode"]):
                unauthorized.append(f"{read} by {caller}: entry {entry}")
        return unauthorized, not_refused
    if read in ("trainings", "deficits"):
        reach = world.reach(caller)
        for row in data.get(read) or []:
            if row["organizationId"] not in reach:
                unauthorized.append(f"{read} by {caller}: {row}")
        return unauthorized, not_refused
    visible = world.educators_seen_by(caller)
    for educator in _educators_in(data):
        if educator not in visible:
            name = next((n for n, i in world.ids.items() if i == educator), educator)
            unauthorized.append(f"{read} by {caller}: educator {name}")
    return unauthorized, not_refused


@pytest.mark.parametrize("route", ROUTES)
async def test_personal_data_is_read_only_in_scope(route: str, routes: Routes, world: World) -> None:
    queries = {
        read: (service, query or _educator_query(world)) for read, (service, query) in PERSONAL_READS.items()
    }
    unauthorized: list[str] = []
    not_refused: list[str] = []
    seen: dict[tuple[str, str], set[str]] = {}
    async with httpx.AsyncClient(timeout=30) as client:

        async def ask(read: str, caller: str) -> None:
            service, query = queries[read]
            answer = await post(client, routes.url(route, service), query, None, routes.token(route, caller))
            bad, loose = _read_violations(world, read, caller, answer)
            unauthorized.extend(bad)
            not_refused.extend(loose)
            data = answer.data or {}
            if read in ("trainings", "deficits"):
                seen[(read, caller)] = {row["educatorId"] for row in data.get(read) or []}
            elif read == "auditTrail":
                edges = (data.get("auditTrail") or {}).get("edges") or []
                seen[(read, caller)] = {e["node"]["regionCode"] or "" for e in edges}
            else:
                seen[(read, caller)] = set(_educators_in(data))
            MATRIX_LOG.append(
                {"read": read, "route": route, "caller": caller, "got": _outcome(answer)}
                | {"unauthorized": len(bad), "seen": sorted(seen[(read, caller)])}
            )

        await asyncio.gather(*(ask(read, caller) for read in queries for caller in CALLERS))
    assert len(unauthorized) == 0, f"{len(unauthorized)} unauthorized reads ({route}):\n" + "\n".join(
        sorted(unauthorized)
    )
    assert not not_refused, f"personal data not refused as it should be ({route}):\n" + "\n".join(
        sorted(not_refused)
    )
    # and the rules are not vacuous: each personal-data role sees what is in its scope
    named = {world[e]: e for e in ("eA1", "eA2", "eB1", "eC1")}
    missing = [
        f"{read} by {caller}: misses {sorted(named[i] for i in lost)}"
        for caller in sorted(PERSONAL_DATA_CALLERS)
        for read in ("educators", "educator", "trainings", "deficits")
        if (lost := (world.educators_seen_by(caller) & set(named)) - seen[(read, caller)])
    ]
    for caller, region in ((ADMIN_R, world.region), (ADMIN_OTHER, world.other_region)):
        if region not in seen[("auditTrail", caller)]:
            missing.append(f"auditTrail by {caller}: no entry of the writes in region {region}")
    assert not missing, f"callers do not see personal data in their scope ({route}):\n" + "\n".join(missing)


EDUCATOR_IDS = """query($open: ID!, $held: ID!, $b1: ID!) {
  open: activity(id: $open) { hostOrganizationId responsibleEducatorId
    registrations { organizationId educatorId } }
  held: activity(id: $held) { attendance { organizationId educatorId } }
  participation(organizationId: $b1) { attendance { organizationId educatorId } } }"""
"""Every field that carries the id of an educator who took part in something, or runs one."""


def _educator_ids(data: Any) -> list[tuple[str, str | None]]:
    """(organization, educator id or None) of every record in an EDUCATOR_IDS answer."""
    found: list[tuple[str, str | None]] = []
    open_ = (data or {}).get("open") or {}
    if open_:
        found.append((open_["hostOrganizationId"], open_["responsibleEducatorId"]))
    records = [
        *(open_.get("registrations") or []),
        *(((data or {}).get("held") or {}).get("attendance") or []),
        *(((data or {}).get("participation") or {}).get("attendance") or []),
    ]
    found.extend((r["organizationId"], r["educatorId"]) for r in records)
    return found


@pytest.mark.parametrize("route", ROUTES)
async def test_educator_ids_are_shown_only_in_scope(route: str, routes: Routes, world: World) -> None:
    """Attendance, registrations, participation(organizationId:) and an activity's responsible
    educator name educators by id: grouping them by it would rebuild an educator's participation,
    which is personal data. Each caller sees the ids of its scope's organizations, and the rest as
    null; anonymous callers still see that the organizations took part."""
    variables = {"open": world["actOpen"], "held": world["actHeld"], "b1": world["B1"]}
    named = {world[e]: e for e in ("eA1", "eB1")}
    wrong: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for caller in (*sorted(PERSONAL_DATA_CALLERS), EXPERT, VIEWER, ANONYMOUS):
            answer = await post(
                client, routes.url(route, "events"), EDUCATOR_IDS, variables, routes.token(route, caller)
            )
            assert answer.status == 200 and not answer.errors, (caller, answer.short())
            reach = world.reach(caller)
            records = _educator_ids(answer.data)
            shown = {(org, named.get(e, e)) for org, e in records if e}
            hidden = {org for org, e in records if not e}
            expected = {(world[o], e) for o, e in (("A1", "eA1"), ("B1", "eB1")) if world[o] in reach}
            if shown != expected:
                wrong.append(f"{caller}: shown {sorted(shown)}, expected {sorted(expected)}")
            if {world["A1"], world["B1"]} - reach - hidden:
                wrong.append(f"{caller}: records of organizations outside its scope are missing")
    assert not wrong, f"educator ids ({route}):\n" + "\n".join(wrong)


# -- the mutation matrix --------------------------------------------------------------------------


def _uncoded(answer: Answer) -> str | None:
    """Why an answer is not a coded refusal (an error with extensions.code UNAUTHENTICATED or
    FORBIDDEN), or None when it is one."""
    if answer.codes & ACCESS_CODES:
        return None
    if answer.status in (401, 403) and answer.data is None:
        return f"refused with HTTP {answer.status}, but no error carries extensions.code: {answer.short()}"
    return f"not refused (no UNAUTHENTICATED/FORBIDDEN error): {answer.short()}"


def _refusal_problem(row: Row, answer: Answer) -> str | None:
    """Why an answer is not a refusal of the row's field, or None when it is one."""
    uncoded = _uncoded(answer)
    if uncoded:
        return uncoded
    if isinstance(answer.data, dict) and answer.data.get(row.mutation) is not None:
        return f"refused, yet the field has data: {answer.short()}"
    return None


def _allowed_problem(row: Row, answer: Answer) -> str | None:
    if answer.codes & ACCESS_CODES:
        return f"refused: {answer.short()}"
    result = (answer.data or {}).get(row.mutation) if isinstance(answer.data, dict) else None
    if answer.status != 200 or answer.errors or not isinstance(result, dict) or "__typename" not in result:
        return f"no result: {answer.short()}"
    return None


def _params() -> list[Any]:
    return [pytest.param(row, route, id=f"{row.mutation}-{route}") for row in ROWS for route in ROUTES]


@pytest.mark.parametrize(("row", "route"), _params())
async def test_mutation_access(
    row: Row, route: str, routes: Routes, world: World, access_stack: Stack
) -> None:
    service = OWNERS.get(row.mutation)
    assert service in SERVICES, f"{row.mutation} is not in the supergraph (or names no subgraph)"
    url = routes.url(route, service)
    variables = row.variables(world)
    refused = [c for c in CALLERS if c not in row.allowed]
    allowed = [c for c in ALLOWED_ORDER if c in row.allowed]
    disagreements: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        before = await outbox_counts(access_stack)
        answers = await asyncio.gather(
            *(post(client, url, row.document(), variables, routes.token(route, c)) for c in refused)
        )
        after = await outbox_counts(access_stack)
        for caller, answer in zip(refused, answers, strict=True):
            MATRIX_LOG.append(
                {"mutation": row.mutation, "route": route, "caller": caller, "expect": "refused"}
                | {"got": _outcome(answer, row.mutation)}
            )
            problem = _refusal_problem(row, answer)
            if problem:
                disagreements.append(f"{caller} should be refused: {problem}")
        if after != before:
            disagreements.append(f"refused callers added outbox rows: before {before}, after {after}")
        for caller in allowed:
            answer = await post(client, url, row.document(), variables, routes.token(route, caller))
            MATRIX_LOG.append(
                {"mutation": row.mutation, "route": route, "caller": caller, "expect": "allowed"}
                | {"got": _outcome(answer, row.mutation), "answer": answer.data}
            )
            problem = _allowed_problem(row, answer)
            if problem:
                disagreements.append(f"{caller} should be allowed: {problem}")
                continue
            typename = answer.data[row.mutation]["__typename"]
            if caller == COORD_A and typename != "ValidationError" and row.mutation not in OWN_SETTINGS:
                COORDINATOR_WRITES.add(row.mutation)
    assert not disagreements, f"{row.mutation} via {route} ({url}):\n" + "\n".join(disagreements)


# -- the audit ----------------------------------------------------------------------------------


async def test_the_region_admin_sees_the_coordinators_writes_in_the_audit_trail(
    routes: Routes, world: World
) -> None:
    if not COORDINATOR_WRITES:
        pytest.skip("the coordinator made no write (run the whole module: the matrix makes them)")
    query = """query($subject: String) { auditTrail(subject: $subject, first: 500) { edges { node {
      operation subject roles actorRegionCode actorMunicipalityId regionCode municipalityId service } } } }"""
    token = routes.token("gateway", ADMIN_R)
    async with httpx.AsyncClient(timeout=30) as client:

        async def listed() -> Any:
            answer = await post(client, routes.stack.gateway_url, query, {"subject": "coord-A"}, token)
            assert answer.status == 200 and not answer.errors, answer.short()
            entries = [e["node"] for e in answer.data["auditTrail"]["edges"]]
            operations = {e["operation"] for e in entries}
            assert COORDINATOR_WRITES <= operations, sorted(COORDINATOR_WRITES - operations)
            return entries

        entries = await eventually(listed, timeout=60, interval=0.5)
        for entry in entries:
            assert entry["subject"] == "coord-A", entry
            assert entry["roles"] == ["municipal_coordinator"], entry
            assert entry["actorMunicipalityId"] == world.municipality_a, entry
            assert entry["regionCode"] == world.region, entry
        # and refused callers left no trace: no entry of theirs at all
        for subject in ("coord-B", "rep-B1", "expert", "viewer", "admin-other"):
            answer = await post(client, routes.stack.gateway_url, query, {"subject": subject}, token)
            assert answer.status == 200 and not answer.errors, answer.short()
            assert answer.data["auditTrail"]["edges"] == [], (subject, answer.short())
