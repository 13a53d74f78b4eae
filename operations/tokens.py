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


def issue(
    *,
    roles: list[str],
    subject: str,
    hours: float,
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
    if hours <= 0:
        raise TokenRefused("--hours must be positive")
    ttl = int(hours * 3600)
    from setka_runtime.access import Identity, sign_internal

    from gateway.auth import issue_token
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
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
