"""The same answers as a standard router: our gateway against Hive Gateway over the same subgraphs.

One stack (real processes, PostgreSQL databases, the demo data) and one Hive Gateway process that
serves a copy of ``supergraph.graphql`` pointed at the stack's subgraphs. Every operation of the
corpus goes to both, as a portal would send it (POST, ``accept: application/graphql-response+json``),
and the answers must be the same: the HTTP status, ``data`` exactly (key order included) and the
errors (messages, paths, locations, extensions) after the normalisation below.

Normalisation of errors, and why (each rule removes a difference of wording or of router-specific
metadata, never of meaning; the rules are applied to both answers):

1. Quotes. graphql-core (our validator) writes names in single quotes, graphql-js (Hive's) in
   double quotes: ``Cannot query field 'x'`` against ``Cannot query field "x"``.
2. ``extensions.code`` ``DOWNSTREAM_SERVICE_ERROR``, which Hive Gateway (GraphQL Yoga) adds to
   errors a subgraph returned and we do not (we keep the subgraph's own code). The codes of
   refused requests (``GRAPHQL_PARSE_FAILED``, ``GRAPHQL_VALIDATION_FAILED``,
   ``OPERATION_RESOLUTION_FAILURE``) are compared: both routers give them.
3. The subgraph that produced an error: Hive says ``extensions.serviceName``, we say
   ``extensions.service`` (as Apollo Router does). Same fact, different key; compared as ``service``.
4. Messages whose wording comes from the library version rather than from the gateway: graphql-core
   3.3 words variable coercion as graphql-js 17 does, Hive runs graphql-js 16
   (see ``LIBRARY_WORDING``); and for a document with several operations and no operation name
   Yoga has its own sentence where graphql-js (and we) say "Must provide operation name…".
5. When a subgraph is down, the message says so in each router's own words (ours: "the analytics
   service is unavailable", code ``SUBGRAPH_UNAVAILABLE``; Hive: the socket error, "connect
   ECONNREFUSED 127.0.0.1:<port>", code ``SUBREQUEST_HTTP_ERROR``, and the subgraph request it
   tried in ``extensions.request``). Both must name the service; the comparison keeps ``path`` and
   the service. (Hive runs with ``--no-masked-errors``: masked, it says only "Unexpected error."
   and names no service, which would leave nothing to compare. Errors a subgraph returns in its
   GraphQL response are not masked either way, so the rest of the corpus is unaffected.)
6. Only for cases marked ``siblings_unreported``: when an error nulls a non-null list item and the
   null propagates to the list, graphql-js stops completing the list, so errors of its later items
   are never reported; we pass on every error the subgraph returned (the subgraph does report one
   per item). The specification asks for the error of the field that caused the propagation and
   leaves the others open, so both answers are right: errors that differ only by list indices of
   their paths are collapsed to the first.

Not compared: requests the access rules refuse. Ours refuses them before any subgraph is called
(401/403 with the fields at fault); Hive, without a JWT plugin, calls the subgraphs, which refuse
them in their own answers. So every case that writes or reads personal data is sent as an admin
of every region: to ours with the portal's token, to Hive with the internal token its
``gateway.config.mjs`` passes on (see ``gateway/router.py``). Its mutations are ones the
subgraphs refuse with a ``ValidationError``: both can run them and nothing changes. The
supergraph has no interfaces, so the corpus has none; unions are the mutation results.

Where our gateway answers differently in substance, the case carries ``defect`` and is a strict
xfail: the suite stays green, the difference stays visible, and the xfail turns red once fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.local_broker import free_port

from deploy.local_stack import ROOT, Stack
from gateway import router
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from tests.conftest import DatabaseFactory, run_sync
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"


# -- the corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    operation_name: str | None = None
    admin: bool = False
    """Send a regional admin's token (our gateway runs mutations only for editors)."""
    defect: str | None = None
    """Why our answer differs from the reference in substance: the case is a strict xfail."""
    siblings_unreported: bool = False
    """Normalisation rule 6 applies (see the module's docstring)."""


# Values written "@name" in variables are filled from the demo data when the module starts
# (the demo's ids are made afresh for every stack): see the ``refs`` fixture.

ORGANIZATION_CARD = """
fragment OrganizationCard on Organization {
  __typename id shortName kind regionCode
  regionSummary { __typename regionCode organizations schools }
}"""

CORPUS: list[Case] = [
    # deep queries across the three subgraphs
    Case(
        "networks_members_organizations_region_summary",
        """{ networks(first: 5) { __typename edges { __typename cursor node { __typename id name level
          members { __typename role joinedOn leftOn organization { __typename id shortName
            regionSummary { __typename regionCode organizations schools } } } } }
          pageInfo { __typename hasNextPage endCursor } } }""",
    ),
    Case(
        "network_calendar_hosts_and_their_regions",
        """query($network: ID!) { network(id: $network) { __typename name
          calendar(first: 10) { edges { node { __typename id title startsAt status
            host { __typename shortName regionSummary { organizations schools } }
            network { __typename name } } } pageInfo { hasNextPage endCursor } } } }""",
        {"network": "@network"},
    ),
    Case(
        "members_organizations_hosted_activities",
        """query($network: ID!) { network(id: $network) { members(role: "centre") { role
          organization { shortName activities(first: 3) { edges { node { title
            host { shortName } network { name } } } } } } } }""",
        {"network": "@network"},
    ),
    Case(
        "plans_network_members_regions",
        """{ plans { __typename id year title status progress { items done overdue shareDone }
          network { __typename name governingBody { shortName regionSummary { organizations } } } } }""",
    ),
    Case(
        "plan_items_responsible_organizations_and_activities",
        """query($plan: ID!) { plan(id: $plan) { title items { __typename title dueOn done
          responsibleOrganization { __typename shortName regionSummary { schools } }
          activities { __typename title status host { shortName kind } } } } }""",
        {"plan": "@plan"},
    ),
    Case(
        "activity_attendance_registrations_feedback",
        """query($activity: ID!) { activity(id: $activity) { __typename id title activityType format
          processes status meanRating feedback { rating comment } materials { title url }
          attendance { __typename hours organization { __typename shortName regionSummary { schools } } }
          registrations { organization { shortName } } host { shortName } } }""",
        {"activity": "@activity"},
    ),
    Case(
        "participation_attendance_activity_host",
        """query($org: ID!) { participation(organizationId: $org) { __typename activities hours
          attendance { hours activity { title host { shortName regionSummary { regionCode } } } } } }""",
        {"org": "@school"},
    ),
    Case(
        "organization_memberships_network_calendar",
        """query($org: ID!) { organization(id: $org) { __typename shortName statuses
          statusHistory { status enteredOn leftOn basis }
          riskProfiles { assessedOn factors { factor level } }
          memberships { role network { __typename name plans { year status }
            calendar(first: 2) { edges { node { title } } } } }
          regionSummary { organizations } } }""",
        {"org": "@school"},
    ),
    Case(
        "resources_owners_regions",
        """{ resources(first: 10) { edges { node { __typename title kind subjects capacity
          owner { __typename shortName regionSummary { regionCode schools } } } }
          pageInfo { hasNextPage endCursor } } }""",
    ),
    Case(
        "agreements_parties_and_regulations_issuers",
        """{ agreements(first: 5) { edges { node { number signedOn status
            parties { shortName regionSummary { organizations } } } } }
          regulations(first: 5) { edges { node { kind title issuer { shortName kind } } } } }""",
    ),
    Case(
        "educators_employments_organizations",
        """{ educators(first: 5) { edges { node { __typename lastName qualificationCategory subjects
          employments { position organization { shortName regionSummary { regionCode } } } } } } }""",
        admin=True,
    ),
    Case(
        "interaction_groups_members",
        """{ networks(first: 5) { edges { node { name interactionGroups { __typename name purpose
          organizations { shortName regionSummary { schools } } educators { lastName } } } } } }""",
        admin=True,
    ),
    Case(
        "root_fields_of_three_subgraphs",
        """{ __typename regions { code name } regionSummaries { regionCode organizations schools }
          eventsStatus { knownOrganizations knownNetworks knownMemberships } }""",
    ),
    Case(
        "regional_facts_of_a_school",
        """query($org: ID!) { assessmentResults(organizationId: $org) { procedure subject grade year
            participants meanScore markShares { mark share } }
          trainings(organizationId: $org) { course hours completedOn }
          deficits(organizationId: $org) { competency level }
          mobility { kind programme participants hours } }""",
        {"org": "@school"},
        admin=True,
    ),
    Case(
        "municipalities_and_their_organizations",
        """{ municipalities(regionCode: "39") { __typename name oktmo }
          organizations(regionCode: "39", first: 5) { edges { node { shortName municipality
            municipalityRef { name regionCode } } } } }""",
    ),
    # pagination
    Case(
        "organizations_first_page",
        """{ organizations(regionCode: "08", first: 4) { edges { cursor node { id shortName } }
          pageInfo { hasNextPage endCursor } } }""",
    ),
    Case(
        "organizations_second_page_with_entities",
        """query($after: String) { organizations(regionCode: "08", first: 4, after: $after) {
          edges { cursor node { id shortName regionSummary { schools } } }
          pageInfo { hasNextPage endCursor } } }""",
        {"after": "@organizationsCursor"},
    ),
    Case(
        "activities_second_page_filtered",
        """query($after: String) { activities(first: 5, after: $after, status: "reported") {
          edges { node { id title host { shortName } } } pageInfo { hasNextPage endCursor } } }""",
        {"after": "@activitiesCursor"},
    ),
    Case(
        "an_empty_page",
        """{ organizations(regionCode: "00", first: 5) { edges { node { id } }
          pageInfo { hasNextPage endCursor } } }""",
    ),
    # fragments
    Case(
        "named_fragment_in_several_places",
        ORGANIZATION_CARD
        + """
        query($network: ID!) { network(id: $network) { governingBody { ...OrganizationCard }
          coordinator { ...OrganizationCard } members { organization { ...OrganizationCard } } } }""",
        {"network": "@network"},
    ),
    Case(
        "nested_named_fragments",
        ORGANIZATION_CARD
        + """
        fragment Membership on Membership { role organization { ...OrganizationCard } }
        fragment NetworkCard on Network { name centres { ...Membership } }
        { networks(first: 3) { edges { node { ...NetworkCard } } } }""",
    ),
    Case(
        "inline_fragments_with_and_without_type_condition",
        """{ networks(first: 3) { edges { node { ... on Network { name }
          ... { level governingBody { ... on Organization { shortName
            ... { regionSummary { ... on RegionSummary { organizations } } } } } } } } } }""",
    ),
    Case(
        "same_field_in_fragment_and_selection_merged",
        """fragment Figures on Organization { regionSummary { schools } shortName }
        { organizations(regionCode: "39", first: 3) { edges { node { shortName ...Figures
          regionSummary { organizations } } } } }""",
    ),
    # aliases
    Case(
        "same_root_field_twice_with_different_arguments",
        """{ kaliningrad: organizations(regionCode: "39", first: 3) { edges { node { shortName } } }
          kalmykia: organizations(regionCode: "08", first: 3) { edges { node { shortName } } }
          k39: regionSummary(regionCode: "39") { organizations }
          k08: regionSummary(regionCode: "08") { organizations } }""",
    ),
    Case(
        "same_nested_field_twice_with_different_arguments",
        """{ networks(first: 5) { edges { node { name
          centres: members(role: "centre") { organization { shortName } }
          supported: members(role: "supported") { organization { name: shortName
            figures: regionSummary { count: organizations } } } } } } }""",
    ),
    Case(
        "aliased_entity_fields_of_another_subgraph",
        """query($network: ID!) { network(id: $network) { name
          reported: calendar(status: "reported", first: 3) { edges { node { title } } }
          cancelled: calendar(status: "cancelled", first: 3) { edges { node { title } } }
          all: calendar(first: 2) { edges { node { t: title h: host { n: shortName } } } } } }""",
        {"network": "@network"},
    ),
    # variables, defaults, directives
    Case(
        "variables_with_defaults_unset",
        """query($region: String = "39", $first: Int = 3) {
          organizations(regionCode: $region, first: $first) { edges { node { shortName } } } }""",
    ),
    Case(
        "variables_with_defaults_overridden",
        """query($region: String = "39", $first: Int = 3) {
          organizations(regionCode: $region, first: $first) { edges { node { shortName } } } }""",
        {"region": "08", "first": 2},
    ),
    Case(
        "explicit_null_variable_over_a_default",
        """query($region: String = "39") { organizations(regionCode: $region, first: 2) {
          edges { node { shortName regionCode } } } }""",
        {"region": None},
    ),
    Case(
        "skip_and_include_true",
        """query($withRegion: Boolean!, $skipKind: Boolean!) { organizations(regionCode: "39", first: 3) {
          edges { node { shortName kind @skip(if: $skipKind)
            regionSummary @include(if: $withRegion) { schools } } } } }""",
        {"withRegion": True, "skipKind": True},
    ),
    Case(
        "skip_and_include_false",
        """query($withRegion: Boolean!, $skipKind: Boolean!) { organizations(regionCode: "39", first: 3) {
          edges { node { shortName kind @skip(if: $skipKind)
            regionSummary @include(if: $withRegion) { schools } } } } }""",
        {"withRegion": False, "skipKind": False},
    ),
    Case(
        "include_on_fragment_spread_and_inline_fragment",
        ORGANIZATION_CARD
        + """
        query($card: Boolean = false, $level: Boolean = true) { networks(first: 3) { edges { node {
          name ... @include(if: $level) { level }
          governingBody { ...OrganizationCard @include(if: $card) } } } } }""",
    ),
    Case(
        "skip_a_whole_root_field",
        """query($skip: Boolean!) { regions { code } regionSummaries @skip(if: $skip) { regionCode } }""",
        {"skip": True},
    ),
    Case(
        "operation_name_selects_one_of_several",
        """query Regions { regions { code } }
        query Figures { regionSummaries { regionCode organizations } }""",
        operation_name="Figures",
    ),
    Case(
        "unknown_ids_are_null",
        """{ organization(id: "00000000-0000-0000-0000-000000000000") { shortName regionSummary { schools } }
          activity(id: "00000000-0000-0000-0000-000000000000") { title host { shortName } }
          network(id: "00000000-0000-0000-0000-000000000000") { name calendar { edges { cursor } } } }""",
    ),
    # introspection
    Case(
        "type_introspection_of_an_entity",
        """{ __type(name: "Organization") { __typename name kind description
          fields { name args { name defaultValue type { name kind ofType { name kind } } }
            type { name kind ofType { name kind ofType { name kind } } } } } }""",
    ),
    Case(
        "type_introspection_of_a_union",
        """{ __type(name: "ActivityResult") { name kind possibleTypes { name kind } } }""",
    ),
    Case(
        "type_introspection_of_an_input",
        """{ __type(name: "PlanActivityInput") { name kind inputFields { name defaultValue
          type { kind name ofType { kind name ofType { kind name ofType { name } } } } } } }""",
    ),
    Case(
        "schema_roots_and_introspection_mixed_with_data",
        """{ __schema { queryType { name } mutationType { name } subscriptionType { name } }
          __typename regions { __typename code } }""",
    ),
    # errors a client makes
    Case("unknown_field", """{ organizations(first: 1) { edges { node { nope } } } }"""),
    Case("wrong_argument_type", """{ organizations(first: "x") { edges { node { id } } } }"""),
    Case("unknown_argument", """{ organizations(first: 1, nope: 1) { edges { node { id } } } }"""),
    Case(
        "missing_variable",
        """query($region: String!) { regionSummary(regionCode: $region) { organizations } }""",
    ),
    Case(
        "variable_of_the_wrong_type",
        """query($n: Int!) { organizations(first: $n) { edges { node { id } } } }""",
        {"n": "abc"},
    ),
    Case("syntax_error", """{ regions { code } """),
    Case(
        "fragment_on_a_type_that_cannot_match",
        """fragment F on Activity { title } { organizations(first: 1) { edges { node { ...F } } } }""",
    ),
    Case(
        "several_operations_and_no_name",
        """query A { regions { code } } query B { regionSummaries { regionCode } }""",
    ),
    # errors of a subgraph, with their paths
    Case(
        "root_field_error_of_a_subgraph",
        """{ organizations(first: 2, after: "garbage") { edges { node { id
          regionSummary { schools } } } } }""",
    ),
    Case(
        "entity_field_error_of_another_subgraph",
        """{ networks(first: 2) { edges { node { name
          calendar(first: 1, after: "garbage") { edges { node { id } } } } } } }""",
        siblings_unreported=True,
    ),
    # mutations refused with a ValidationError (nothing changes, so both can run them)
    Case(
        "register_organization_validation_error",
        """mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) {
          __typename ... on Organization { id } ... on ValidationError { field message } } }""",
        {"input": {"fullName": "Школа", "shortName": "Школа", "kind": "zoo", "regionCode": "39"}},
        admin=True,
    ),
    Case(
        "two_aliased_mutations_both_refused",
        """mutation($network: ID!) { __typename
          plan: draftPlan(networkId: "00000000-0000-0000-0000-000000000000", year: 2026, title: "") {
            __typename ... on ValidationError { field message } ... on Plan { id } }
          member: joinNetwork(input: { networkId: $network, role: "captain", joinedOn: "2026-01-01",
            organizationId: "00000000-0000-0000-0000-000000000000" }) {
            __typename ... on ValidationError { field message } } }""",
        {"network": "@network"},
        admin=True,
    ),
    Case(
        "plan_activity_validation_error_with_named_fragment",
        """fragment Refusal on ValidationError { __typename field message }
        mutation($input: PlanActivityInput!) { planActivity(input: $input) { ...Refusal
          ... on Activity { id host { shortName } } } }""",
        {
            "input": {
                "title": "Семинар",
                "activityType": "juggling",
                "format": "in_person",
                "hostOrganizationId": "@school",
                "startsAt": "2026-03-01T09:00:00+00:00",
                "endsAt": "2026-03-01T11:00:00+00:00",
            }
        },
        admin=True,
    ),
    Case(
        "offer_resource_validation_error",
        """mutation($owner: ID!) { offerResource(input: { ownerId: $owner, kind: "spaceship", title: "?" }) {
          __typename ... on ValidationError { field message } ... on Resource { id } } }""",
        {"owner": "@school"},
        admin=True,
    ),
]


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.defect)] if case.defect else []
    return pytest.param(case, id=case.name, marks=marks)


# -- normalisation ------------------------------------------------------------------------------

ROUTER_CODES = {"DOWNSTREAM_SERVICE_ERROR"}

# (pattern, replacement): graphql-js 17 / graphql-core 3.3 wording → graphql-js 16 wording (rule 4)
LIBRARY_WORDING: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r'^Variable "(\$\w+)" has invalid value: Expected a value of non-null type "([^"]+)"'
            r" to be provided\.$"
        ),
        r'Variable "\1" of required type "\2" was not provided.',
    ),
    # v16 quotes the value it got; v17 leaves it to the reason. Keep the variable and the reason.
    (re.compile(r'^Variable "(\$\w+)" got invalid value .*?; (.*)$'), r'Variable "\1" invalid: \2'),
    (re.compile(r'^Variable "(\$\w+)" has invalid value: (.*)$'), r'Variable "\1" invalid: \2'),
    (
        re.compile(r"^Could not determine what operation to execute\.$"),
        "Must provide operation name if query contains multiple operations.",
    ),
]


def normalise_error(error: dict[str, Any]) -> dict[str, Any]:
    normal: dict[str, Any] = {}
    for key, value in error.items():
        if key == "message":
            value = value.replace("'", '"')
            for pattern, replacement in LIBRARY_WORDING:
                value = pattern.sub(replacement, value)
        elif key == "extensions":
            value = dict(value)
            if value.get("code") in ROUTER_CODES:
                del value["code"]
            if "serviceName" in value:
                value["service"] = value.pop("serviceName")
            if not value:
                continue
        normal[key] = value
    return normal


def normalise(body: Any, *, siblings_unreported: bool = False) -> Any:
    if not (isinstance(body, dict) and isinstance(body.get("errors"), list)):
        return body
    errors = [normalise_error(e) for e in body["errors"]]
    if siblings_unreported:
        errors = _first_of_siblings(errors)
    return {key: errors if key == "errors" else value for key, value in body.items()}


def _first_of_siblings(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rule 6: of errors equal but for list indices in their paths, the first."""
    seen: set[str] = set()
    kept = []
    for error in errors:
        path = ["[]" if isinstance(step, int) else step for step in error.get("path") or []]
        token = json.dumps({**error, "path": path}, sort_keys=True)
        if token not in seen:
            seen.add(token)
            kept.append(error)
    return kept


def ordered(value: Any) -> Any:
    """The value with every object as a list of (key, value) pairs, so key order counts."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


# -- the processes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conformance_stack(
    tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory
) -> Iterator[Stack]:
    """The stack on PostgreSQL databases of its own, with the demo data loaded everywhere."""
    names = ("registry", "events", "analytics")
    urls = {name: databases.create(f"conf_{name}", migrate=name) for name in names}
    unset = ("KAFKA_BOOTSTRAP_SERVERS", *(f"{name.upper()}_DATABASE_URL" for name in names))
    with pytest.MonkeyPatch.context() as patch:
        for variable in unset:
            patch.delenv(variable, raising=False)
        ports = {name: free_port() for name in ("kafka", *names, "gateway")}
        env = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
        running = Stack(
            var_dir=tmp_path_factory.mktemp("conformance") / "var",
            ports=ports,
            env=env,
            seed_demo=True,
            echo=False,
        )
        try:
            running.start()
            run_sync(_demo_loaded(running))
            yield running
        finally:
            running.stop()


DEMO_FINGERPRINT = """{ regionSummaries { regionCode organizations schools updatedAt }
  eventsStatus { knownOrganizations knownNetworks knownMemberships knownEducators waitingMessages }
  activities(first: 200) { edges { node { id status } } } plans { id status } }"""


async def _demo_loaded(stack: Stack) -> None:
    """Wait until the demo year is in events, analytics has counted it, and nothing moves."""
    seen: list[Any] = []

    async def settled() -> bool:
        body = await post(stack.gateway_url, DEMO_FINGERPRINT)
        data = body.json().get("data")
        loaded = bool(
            data
            and data["activities"]["edges"]
            and data["plans"]
            and data["regionSummaries"]
            and data["eventsStatus"]["waitingMessages"] == 0
        )
        seen.append(data if loaded else None)
        return loaded and len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    await eventually(settled, timeout=150, interval=1.0)


@pytest.fixture(scope="module")
def hive(conformance_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Hive Gateway serving our supergraph with the stack's subgraph URLs; its GraphQL URL."""
    if not router.available():
        pytest.fail(f"{router.HIVE_GATEWAY} or node is missing: run `make env`")
    supergraph = ROOT / "supergraph.graphql"
    names = router.GRAPH_URL.findall(supergraph.read_text(encoding="utf-8"))
    assert len(names) == 3, "the supergraph names three subgraphs"
    workdir = tmp_path_factory.mktemp("hive")  # router writes the gateway.config.mjs here
    port = free_port()
    process = router.start_hive_gateway(
        supergraph,
        {
            name: f"{conformance_stack.service_url(name)}/graphql"
            for name in ("registry", "events", "analytics")
        },
        port=port,
        workdir=workdir,
        log=workdir / "hive.log",
        options=("--no-masked-errors",),  # see rule 5 of the module's docstring
    )
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        router.stop(process)


@pytest.fixture(scope="module")
def refs(conformance_stack: Stack) -> dict[str, str]:
    """Ids and cursors of the demo data the corpus refers to as "@name"."""

    async def collect() -> dict[str, str]:
        body = (
            await post(
                conformance_stack.gateway_url,
                """{ networks(regionCode: "39", level: "municipal", first: 1) { edges { node { id } } }
                  plans { id }
                  organizations(regionCode: "08", first: 4) { pageInfo { endCursor } }
                  schools: organizations(status: "low_results", first: 1) { edges { node { id } } }
                  activities(status: "reported", first: 5) { pageInfo { endCursor } }
                  withFeedback: activities(status: "reported", first: 20) { edges { node { id
                    feedback { rating } attendance { hours } } } } }""",
            )
        ).json()["data"]
        rated = [
            e["node"]["id"]
            for e in body["withFeedback"]["edges"]
            if e["node"]["feedback"] and e["node"]["attendance"]
        ]
        return {
            "network": body["networks"]["edges"][0]["node"]["id"],
            "plan": body["plans"][0]["id"],
            "organizationsCursor": body["organizations"]["pageInfo"]["endCursor"],
            "school": body["schools"]["edges"][0]["node"]["id"],
            "activitiesCursor": body["activities"]["pageInfo"]["endCursor"],
            "activity": rated[0],
        }

    return run_sync(collect())


@dataclass(frozen=True)
class AdminHeaders:
    ours: dict[str, str]
    """The portal's token of an admin of every region, which our gateway verifies."""
    hive: dict[str, str]
    """The internal token of the same admin: Hive Gateway passes Authorization on, and the
    services trust only that token."""


@pytest.fixture
def admin_header(conformance_stack: Stack) -> AdminHeaders:
    """New for every test: an internal token lives five minutes at most."""
    token = issue_token(GatewaySettings(), subject="conformance", roles=["regional_admin"], region_code="*")
    admin = Identity(subject="conformance", roles=frozenset({Role.regional_admin}), region_code="*")
    internal = sign_internal(admin, conformance_stack.internal_secret, ttl_seconds=300)
    return AdminHeaders({"authorization": f"Bearer {token}"}, {"authorization": f"Bearer {internal}"})


# -- asking both --------------------------------------------------------------------------------


async def post(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name:
        payload["operationName"] = operation_name
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            url,
            content=json.dumps(payload),
            headers={"accept": GRAPHQL_RESPONSE, "content-type": "application/json", **(headers or {})},
        )


def fill(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return refs[value[1:]]
    if isinstance(value, dict):
        return {key: fill(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, refs) for item in value]
    return value


@dataclass
class Answer:
    status: int
    media: str
    body: Any

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        """The answer; a body that is not JSON is kept as text, so the comparison shows it."""
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return cls(response.status_code, media, body)


async def ask_both(
    ours: str, reference: str, case: Case, refs: dict[str, str], headers: AdminHeaders
) -> tuple[Answer, Answer]:
    variables = fill(case.variables, refs)
    mine = await post(
        ours,
        case.query,
        variables,
        operation_name=case.operation_name,
        headers=headers.ours if case.admin else {},
    )
    theirs = await post(
        reference,
        case.query,
        variables,
        operation_name=case.operation_name,
        headers=headers.hive if case.admin else {},
    )
    return Answer.of(mine), Answer.of(theirs)


def both(ours: Answer, hive: Answer) -> str:
    return (
        f"\nours ({ours.status}): {json.dumps(ours.body, ensure_ascii=False)}"
        f"\nhive ({hive.status}): {json.dumps(hive.body, ensure_ascii=False)}"
    )


def assert_same(ours: Answer, hive: Answer, *, siblings_unreported: bool = False) -> None:
    report = both(ours, hive)
    assert (ours.status, ours.media) == (hive.status, hive.media), report
    mine = normalise(ours.body, siblings_unreported=siblings_unreported)
    theirs = normalise(hive.body, siblings_unreported=siblings_unreported)
    assert mine == theirs, report
    assert ordered(mine) == ordered(theirs), "same values, different key order" + report


# -- the tests ----------------------------------------------------------------------------------


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CORPUS) >= 40
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", [_param(case) for case in CORPUS])
async def test_same_answer_as_hive_gateway(
    case: Case, conformance_stack: Stack, hive: str, refs: dict[str, str], admin_header: AdminHeaders
) -> None:
    ours, reference = await ask_both(conformance_stack.gateway_url, hive, case, refs, admin_header)
    assert_same(ours, reference, siblings_unreported=case.siblings_unreported)


# -- a subgraph down ----------------------------------------------------------------------------

ANALYTICS_DOWN: list[Case] = [
    Case(
        "organizations_with_region_summaries",
        """{ organizations(regionCode: "39", first: 5) { edges { node { __typename id shortName
          regionSummary { regionCode organizations schools } } } } }""",
    ),
    Case(
        "plans_network_governing_body_region_summary",
        """{ plans { year network { name governingBody { shortName
          regionSummary { organizations } } } } }""",
    ),
    Case(
        "a_non_null_root_field_of_analytics_beside_a_registry_field",
        """{ regions { code } regionSummary(regionCode: "39") { schools } }""",
    ),
    Case(
        "only_analytics_root_fields",
        """{ regionSummaries { regionCode organizations } }""",
    ),
]


@pytest.fixture(scope="module")
def analytics_down(conformance_stack: Stack, hive: str) -> dict[str, tuple[Answer, Answer]]:
    """The answers of both routers to ``ANALYTICS_DOWN`` while analytics is stopped.

    Analytics is started again before any comparison, so the tests that follow find it running.
    """

    async def ask_all() -> dict[str, tuple[Answer, Answer]]:
        answers = {}
        for case in ANALYTICS_DOWN:
            answers[case.name] = (
                Answer.of(await post(conformance_stack.gateway_url, case.query)),
                Answer.of(await post(hive, case.query)),
            )
        return answers

    conformance_stack.stop_process("analytics")
    try:
        return run_sync(ask_all())
    finally:
        conformance_stack.start_process("analytics")
        conformance_stack.wait_ready("analytics")


async def test_with_analytics_down_organizations_still_answer_and_region_summaries_are_null(
    analytics_down: dict[str, tuple[Answer, Answer]],
) -> None:
    ours, reference = analytics_down["organizations_with_region_summaries"]
    report = both(ours, reference)
    assert ours.status == 200 and isinstance(ours.body, dict), report
    nodes = [edge["node"] for edge in ours.body["data"]["organizations"]["edges"]]
    assert len(nodes) == 5 and all(node["shortName"] for node in nodes), report
    assert all(node["regionSummary"] is None for node in nodes), report
    paths = [error["path"] for error in ours.body["errors"]]
    assert paths == [["organizations", "edges", i, "node", "regionSummary"] for i in range(5)], report
    for error in ours.body["errors"]:
        assert "analytics" in error["message"], report
        assert error["extensions"]["service"] == "analytics", report


@pytest.mark.parametrize("case", [_param(case) for case in ANALYTICS_DOWN])
async def test_with_analytics_down_same_data_and_failed_paths_as_hive_gateway(
    case: Case, analytics_down: dict[str, tuple[Answer, Answer]]
) -> None:
    ours, reference = analytics_down[case.name]
    report = both(ours, reference)
    assert (ours.status, ours.media) == (reference.status, reference.media), report
    assert isinstance(ours.body, dict) and isinstance(reference.body, dict), report
    assert ordered(ours.body["data"]) == ordered(reference.body["data"]), report
    # rule 5: the words differ by router; both say which field failed and which service it was
    assert unavailable(ours.body["errors"]) == unavailable(reference.body["errors"]), report
    assert {service for _, service in unavailable(ours.body["errors"])} == {"analytics"}, report


def unavailable(errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    facts = []
    for error in errors:
        extensions = error.get("extensions") or {}
        service = extensions.get("service") or extensions.get("serviceName") or ""
        facts.append((json.dumps(error.get("path")), service))
    return sorted(facts)
