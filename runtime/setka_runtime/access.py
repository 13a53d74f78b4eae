"""Who may see and change what: roles, the caller's identity, the federation access directives and
the short-lived internal token the gateway signs for the services.

One place for the rules both the gateway and every subgraph apply:

* **Roles and scope.** A caller has roles and the part of the country they act in: a regional
  admin their region, a municipal coordinator their municipality, a school representative their
  organization. :meth:`Identity.may_act_on` is the domain rule every write and every read of
  personal data goes through.
* **Declared access.** Subgraph fields carry ``@authenticated``, ``@requiresScopes`` and
  ``@policy`` (Apollo Federation 2.5+), so any federation router can enforce them; scopes are role
  names. :func:`access_map` reads them from SDL (a subgraph's or the supergraph's) and
  :func:`refusals` checks an operation against them before anything runs.
* **Identity travels.** The gateway verifies the portal's token and passes the caller on to the
  subgraphs as an internal JWT (HS256, a minute long, audience ``setka-services``) signed with
  ``INTERNAL_TOKEN_SECRET``; a service trusts no other identity.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    Visitor,
    get_named_type,
    value_from_ast_untyped,
    visit,
)
from graphql.language import (
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
)
from graphql.utilities import TypeInfoVisitor


class Role(StrEnum):
    regional_admin = "regional_admin"
    municipal_coordinator = "municipal_coordinator"
    school_representative = "school_representative"
    expert = "expert"
    viewer = "viewer"


EDITORS = (Role.regional_admin, Role.municipal_coordinator)
"""Who changes the registry's structure and the networks' plans."""
PARTICIPANTS = (*EDITORS, Role.school_representative)
"""Who records what happens at a school: its details, resources, hosted activities, attendance."""
PERSONAL_DATA_ROLES = frozenset(PARTICIPANTS)
"""Who may read personal data (educators' names, their trainings and deficits), each in scope."""

ALL_REGIONS = "*"
"""The ``region`` claim of an admin of every region (a federal operator)."""

PERSONAL_DATA = "personal_data"
"""The ``@policy`` of personal data (152-ФЗ)."""


class AccessDenied(Exception):
    """The caller may not do this; ``code`` is UNAUTHENTICATED or FORBIDDEN. Raised in a resolver
    it is a GraphQL error with that code in its extensions."""

    def __init__(self, message: str, *, code: str = "FORBIDDEN") -> None:
        super().__init__(message)
        self.code = code
        self.extensions = {"code": code}


@dataclass(frozen=True)
class Target:
    """Where a write or a read of personal data lands: the organization, municipality and region it
    concerns, as far as they are known (a network without a municipality is the region's)."""

    region_code: str | None = None
    municipality_id: str | None = None
    organization_ids: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        region_code: str | None = None,
        municipality_id: object = None,
        organization_ids: Iterable[object] = (),
    ) -> Target:
        return cls(
            region_code=region_code,
            municipality_id=str(municipality_id) if municipality_id else None,
            organization_ids=frozenset(str(o) for o in organization_ids if o),
        )


@dataclass(frozen=True)
class Identity:
    """The caller: no subject means anonymous. Scope claims are strings (ids as text)."""

    subject: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    region_code: str | None = None
    municipality_id: str | None = None
    organization_id: str | None = None
    email: str | None = None
    """The identity provider's ``email`` claim, when it gives one: where the person's
    notifications go (personal data: kept only with their notification preferences)."""

    @property
    def authenticated(self) -> bool:
        return self.subject is not None

    @property
    def scopes(self) -> frozenset[str]:
        """The ``@requiresScopes`` scopes the caller holds: their role names."""
        return frozenset(str(role) for role in self.roles)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def scope_text(self) -> str:
        """How the caller's scope reads in an audit entry or an error."""
        parts = (
            []
            if self.region_code is None
            else ["all regions" if self.region_code == ALL_REGIONS else f"region {self.region_code}"]
        )
        if self.municipality_id:
            parts.append(f"municipality {self.municipality_id}")
        if self.organization_id:
            parts.append(f"organization {self.organization_id}")
        return ", ".join(parts) or "no scope"

    def may_act_on(self, target: Target, roles: Iterable[Role] = PARTICIPANTS) -> bool:
        """Whether one of ``roles`` the caller holds covers ``target``: a regional admin their
        region (``*``: every region; no region claim: none), a municipal coordinator their
        municipality, a school representative their organization when it is the only one
        concerned."""
        allowed = self.roles.intersection(roles)
        if Role.regional_admin in allowed and self.region_code is not None:
            if self.region_code == ALL_REGIONS or target.region_code == self.region_code:
                return True
        if Role.municipal_coordinator in allowed and self.municipality_id is not None:
            if target.municipality_id == self.municipality_id:
                return True
        if Role.school_representative in allowed and self.organization_id is not None:
            if target.organization_ids == {self.organization_id}:
                return True
        return False

    def require(self, target: Target, roles: Iterable[Role] = PARTICIPANTS, *, what: str = "this") -> None:
        """Raise :class:`AccessDenied` unless :meth:`may_act_on`."""
        if not self.authenticated:
            raise AccessDenied(f"Sign in to do {what}", code="UNAUTHENTICATED")
        if not self.may_act_on(target, roles):
            raise AccessDenied(f"{what} is outside your scope ({self.scope_text()})")

    # -- as JWT claims ----------------------------------------------------------------------------

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.subject, "roles": sorted(self.scopes)}
        for name, value in (
            ("region", self.region_code),
            ("municipality", self.municipality_id),
            ("org", self.organization_id),
            ("email", self.email),
        ):
            if value:
                claims[name] = value
        return claims

    @classmethod
    def from_claims(cls, claims: dict[str, Any], roles: Iterable[str] | None = None) -> Identity:
        """The identity a token's claims describe: ``roles`` (or Keycloak's
        ``realm_access.roles``), ``region``, ``municipality`` and ``org``; unknown roles are
        ignored and malformed scope claims are dropped."""
        if roles is None:
            raw = claims.get("roles")
            if raw is None and isinstance(claims.get("realm_access"), dict):
                raw = claims["realm_access"].get("roles")
            roles = raw if isinstance(raw, list) else []
        return cls(
            subject=str(claims["sub"]),
            roles=frozenset(Role(r) for r in roles if isinstance(r, str) and r in Role.__members__),
            region_code=_text(claims.get("region")),
            municipality_id=_uuid_text(claims.get("municipality")),
            organization_id=_uuid_text(claims.get("org")),
            email=_email_text(claims.get("email")),
        )


ANONYMOUS = Identity()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _email_text(value: object) -> str | None:
    """An address that looks like one (``name@host``, at most 254 characters), else nothing."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    local, at, host = text.rpartition("@")
    if not at or not local or "." not in host or len(text) > 254 or any(c.isspace() for c in text):
        return None
    return text


def _uuid_text(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


# -- the internal token ----------------------------------------------------------------------------

INTERNAL_ISSUER = "setka-gateway"
INTERNAL_AUDIENCE = "setka-services"
INTERNAL_TTL_SECONDS = 60
INTERNAL_MAX_TTL_SECONDS = 300
"""The longest an internal token may live: the gateway signs one per request; a longer-lived one
(an operator's, say) would be a key to the services for as long as it lives."""
INTERNAL_ALGORITHM = "HS256"
DEV_INTERNAL_SECRET = "setka-development-internal-secret-change-me"
"""Accepted only on loopback (see :func:`check_internal_secret`)."""
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_internal_secret(secret: str, host: str, *, who: str) -> None:
    """Refuse a secret anyone can sign internal tokens with unless the process listens on loopback
    only, and a short one anywhere."""
    if secret == DEV_INTERNAL_SECRET and host not in LOOPBACK:
        raise ValueError(
            f"{who}: INTERNAL_TOKEN_SECRET is the development placeholder, accepted only on a loopback"
            " host; set the same secret of at least 32 characters for the gateway and every service"
        )
    if len(secret) < 32:
        raise ValueError(f"{who}: INTERNAL_TOKEN_SECRET must have at least 32 characters")


def sign_internal(identity: Identity, secret: str, *, ttl_seconds: int = INTERNAL_TTL_SECONDS) -> str:
    now = int(time.time())
    claims = identity.claims()
    claims.update(iss=INTERNAL_ISSUER, aud=INTERNAL_AUDIENCE, iat=now, exp=now + ttl_seconds)
    return jwt.encode(claims, secret, algorithm=INTERNAL_ALGORITHM)


def verify_internal(token: str, secret: str) -> Identity:
    """The identity an internal token carries; :class:`AccessDenied` when it is not one of ours."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[INTERNAL_ALGORITHM],
            audience=INTERNAL_AUDIENCE,
            issuer=INTERNAL_ISSUER,
            options={"require": ["sub", "exp", "iat", "aud", "iss"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise AccessDenied(f"invalid internal token: {exc}", code="UNAUTHENTICATED") from exc
    if claims["exp"] - claims["iat"] > INTERNAL_MAX_TTL_SECONDS:
        raise AccessDenied(
            f"invalid internal token: it lives longer than {INTERNAL_MAX_TTL_SECONDS} seconds",
            code="UNAUTHENTICATED",
        )
    return Identity.from_claims(claims)


def identity_from_authorization(authorization: str | None, secret: str | None) -> Identity:
    """A service's view of its caller: the internal token in ``Authorization: Bearer``; no
    header is anonymous; a bad token or a service without a secret raises AccessDenied."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessDenied("Authorization must be 'Bearer <token>'", code="UNAUTHENTICATED")
    if not secret:
        raise AccessDenied(
            "this service accepts no tokens (no INTERNAL_TOKEN_SECRET)", code="UNAUTHENTICATED"
        )
    return verify_internal(token.strip(), secret)


# -- declared access ------------------------------------------------------------------------------

Alternatives = tuple[tuple[str, ...], ...]
"""A ``scopes``/``policies`` argument: any one inner list, all of whose entries are held."""


@dataclass(frozen=True)
class Access:
    """The access directives on one field, its type's included; every entry must be satisfied."""

    authenticated: bool = False
    scopes: tuple[Alternatives, ...] = ()
    policies: tuple[Alternatives, ...] = ()

    @property
    def open(self) -> bool:
        return not (self.authenticated or self.scopes or self.policies)

    def merged(self, other: Access) -> Access:
        return Access(
            authenticated=self.authenticated or other.authenticated,
            scopes=self.scopes + other.scopes,
            policies=self.policies + other.policies,
        )

    def refusal(self, identity: Identity) -> str | None:
        """None when ``identity`` may see the field, else UNAUTHENTICATED or FORBIDDEN."""
        if self.open:
            return None
        if not identity.authenticated:
            return "UNAUTHENTICATED"
        held = identity.scopes
        for alternatives in self.scopes:
            if not any(set(needed) <= held for needed in alternatives):
                return "FORBIDDEN"
        for alternatives in self.policies:
            if not any(all(_policy(name)(identity) for name in needed) for needed in alternatives):
                return "FORBIDDEN"
        return None


POLICIES: dict[str, Callable[[Identity], bool]] = {
    PERSONAL_DATA: lambda identity: bool(identity.roles & PERSONAL_DATA_ROLES),
}
"""The ``@policy`` names Setka defines; an unknown policy refuses."""


def _policy(name: str) -> Callable[[Identity], bool]:
    return POLICIES.get(name, lambda identity: False)


def access_of(directives: Any) -> Access:
    """The access an element's directive nodes declare."""
    access = Access()
    for directive in directives or ():
        arguments = {a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()}
        name = directive.name.value
        if name == "authenticated":
            access = access.merged(Access(authenticated=True))
        elif name == "requiresScopes":
            access = access.merged(Access(scopes=(_alternatives(arguments.get("scopes")),)))
        elif name == "policy":
            access = access.merged(Access(policies=(_alternatives(arguments.get("policies")),)))
    return access


def _alternatives(value: Any) -> Alternatives:
    return tuple(tuple(str(item) for item in inner) for inner in value or ())


AccessMap = dict[tuple[str, str], Access]
"""(type, field) → access, for the fields that are not open."""


def access_map(document: DocumentNode) -> AccessMap:
    """The declared access of every field in an SDL document; a type's directives apply to each of
    its fields."""
    types: dict[str, Access] = {}
    fields: dict[tuple[str, str], Access] = {}
    for definition in document.definitions:
        if not isinstance(
            definition,
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        ):
            continue
        type_name = definition.name.value
        types[type_name] = types.get(type_name, Access()).merged(access_of(definition.directives))
        for field_node in definition.fields or ():
            key = (type_name, field_node.name.value)
            fields[key] = fields.get(key, Access()).merged(access_of(field_node.directives))
    result: AccessMap = {}
    for (type_name, field_name), access in fields.items():
        merged = types.get(type_name, Access()).merged(access)
        if not merged.open:
            result[(type_name, field_name)] = merged
    return result


@dataclass(frozen=True)
class Refusal:
    coordinate: str  # Type.field
    code: str  # UNAUTHENTICATED or FORBIDDEN

    @property
    def message(self) -> str:
        if self.coordinate == "Mutation":
            return "Sign in to change anything"
        type_name, _, field_name = self.coordinate.partition(".")
        doing = f"run {field_name}" if type_name == "Mutation" else f"see {self.coordinate}"
        if self.code == "UNAUTHENTICATED":
            return f"Sign in to {doing}"
        return f"Your roles do not allow you to {doing}"


def refusals(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    rules: AccessMap,
    identity: Identity,
) -> list[Refusal]:
    """The fields of the operation (and of every fragment it could use) the caller may not see.
    ``_entities`` selections are checked by the types their inline fragments name."""
    if not rules:
        return []
    found: dict[str, Refusal] = {}
    type_info = TypeInfo(schema)
    chosen = _operation(document, operation_name)

    class Check(Visitor):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            if chosen is not None and node is not chosen:
                return Visitor.SKIP
            return None

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = type_info.get_parent_type()
            if parent is None:
                return
            coordinate = (get_named_type(parent).name, node.name.value)
            rule = rules.get(coordinate)
            if rule is None:
                return
            code = rule.refusal(identity)
            if code is not None:
                found.setdefault(".".join(coordinate), Refusal(".".join(coordinate), code))

    # fragments are visited too: one a chosen operation does not use still names nothing it may not see
    visit(document, TypeInfoVisitor(type_info, Check()))
    return list(found.values())


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation if name is not None or len(operations) == 1 else None
    return None
