"""``setka token issue``: a token for a portal (signed with ``GATEWAY_JWT_SECRET``, what the
gateway accepts) or, with ``--internal``, an internal token for a regional system or a router that
calls the services directly (signed with ``INTERNAL_TOKEN_SECRET``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

SCOPE_OF_ROLE = {
    "regional_admin": "region",
    "municipal_coordinator": "municipality",
    "school_representative": "organization",
}
"""The scope each scoped role needs: without it the token would allow nothing."""


class TokenRefused(ValueError):
    """The request for a token is wrong (a role without its scope, a scope that is not a UUID…)."""


@dataclass(frozen=True)
class Issued:
    token: str
    kind: str
    subject: str
    roles: list[str]
    expires_at: int
    scope: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "kind": self.kind,
            "subject": self.subject,
            "roles": self.roles,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }


DEFAULT_PORTAL_HOURS = 12.0
DEFAULT_INTERNAL_HOURS = 5 / 60


def issue(
    *,
    roles: list[str],
    subject: str,
    hours: float | None,
    region: str | None = None,
    municipality: str | None = None,
    organization: str | None = None,
    internal: bool = False,
) -> Issued:
    scope = {
        name: value
        for name, value in (
            ("region", region),
            ("municipality", municipality),
            ("organization", organization),
        )
        if value
    }
    for role in roles:
        needed = SCOPE_OF_ROLE.get(role)
        if needed and needed not in scope:
            raise TokenRefused(f"the role {role} needs --{needed}")
    for name in ("municipality", "organization"):
        if name in scope:
            try:
                scope[name] = str(uuid.UUID(scope[name]))
            except ValueError:
                raise TokenRefused(
                    f"--{name} must be the {name}'s id (a UUID), not {scope[name]!r}"
                ) from None
    if hours is None:
        hours = DEFAULT_INTERNAL_HOURS if internal else DEFAULT_PORTAL_HOURS
    if hours <= 0:
        raise TokenRefused("--hours must be positive")
    ttl = int(hours * 3600)
    from setka_runtime.access import INTERNAL_MAX_TTL_SECONDS, Identity, sign_internal

    from gateway.auth import issue_token
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
    if internal and ttl > INTERNAL_MAX_TTL_SECONDS:
        raise TokenRefused(
            f"an internal token lives at most {INTERNAL_MAX_TTL_SECONDS // 60} minutes "
            f"(--hours {INTERNAL_MAX_TTL_SECONDS / 3600:.3f}); the services refuse longer ones"
        )
    cap = settings.jwt_max_lifetime_hours
    if not internal and 0 < cap < hours:
        raise TokenRefused(
            f"--hours {hours:g} is longer than the gateway allows (GATEWAY_JWT_MAX_LIFETIME_HOURS={cap:g}); "
            "issue a new token before this one expires"
        )
    if internal:
        try:
            identity = Identity.from_claims(
                {
                    "sub": subject,
                    "region": scope.get("region"),
                    "municipality": scope.get("municipality"),
                    "org": scope.get("organization"),
                },
                roles=roles,
            )
        except ValueError as error:
            raise TokenRefused(str(error)) from error
        token = sign_internal(identity, settings.internal_token_secret.get_secret_value(), ttl_seconds=ttl)
    else:
        try:
            token = issue_token(
                settings,
                subject=subject,
                roles=roles,
                region_code=scope.get("region"),
                municipality_id=scope.get("municipality"),
                organization_id=scope.get("organization"),
                ttl_seconds=ttl,
            )
        except ValueError as error:
            raise TokenRefused(str(error)) from error
    return Issued(
        token=token,
        kind="internal" if internal else "portal",
        subject=subject,
        roles=sorted(set(roles)),
        expires_at=int(time.time()) + ttl,
        scope=scope,
    )
