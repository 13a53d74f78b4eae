"""Who is asking: the portal's bearer token, verified, becomes an :class:`Identity`; no token is the
anonymous caller. The gateway passes the identity on to the services as a short internal token.

Two kinds of portal token are accepted, each only with an algorithm ``GATEWAY_JWT_ALGORITHMS``
names:

* **HS256** (or HS384/HS512) signed with ``GATEWAY_JWT_SECRET``: one machine, the tests and
  ``setka token issue``.
* **RS256, ES256** (PS*, EdDSA) signed by an OpenID provider such as Keycloak, whose public keys
  are read from ``GATEWAY_JWT_JWKS_URL``. The keys are cached; a token naming a key not in the cache
  makes the gateway read the set again (the provider rotated its keys), at most once per
  ``GATEWAY_JWT_JWKS_MIN_INTERVAL_SECONDS`` whatever arrives; the cache is refreshed in the background
  after ``GATEWAY_JWT_JWKS_MAX_AGE_SECONDS``, so a removed key stops being accepted. When the provider
  cannot be reached, tokens signed with a cached key are still accepted.

The key is chosen by the algorithm's family, never by what the token says alone: an HS token is
checked against the shared secret only, never against a provider's public key, and ``alg: none`` is
never accepted. ``exp`` and ``iss`` are required, ``aud`` when ``GATEWAY_JWT_AUDIENCE`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from setka_runtime.access import ANONYMOUS, Identity, Role, sign_internal

from .settings import SHARED_SECRET_ALGORITHMS, GatewaySettings

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 16_384
"""A longer bearer token is refused before it is parsed."""
MAX_JWKS_BYTES = 1_048_576
INTERNAL_REUSE_SECONDS = 30.0
"""An internal token (valid a minute) is reused for this long for the same identity."""
INTERNAL_CACHE_SIZE = 10_000

KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
"""The JWK ``kty`` each family of algorithms needs."""
CURVES = {"ES256": ("P-256",), "ES384": ("P-384",), "ES512": ("P-521",), "EdDSA": ("Ed25519", "Ed448")}


class AuthError(Exception):
    """The caller's credentials are refused; the message may be shown to the client."""


# -- issuing tokens (one machine, tests) ------------------------------------------------------------


def issue_token(
    settings: GatewaySettings,
    *,
    subject: str,
    roles: Iterable[str],
    region_code: str | None = None,
    municipality_id: str | None = None,
    organization_id: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A token the gateway accepts, signed HS256 with ``GATEWAY_JWT_SECRET``. ``scope`` carries the
    roles space-separated as well, for routers whose JWT plugins read scopes from it."""
    if "HS256" not in settings.jwt_algorithms:
        raise ValueError("the gateway accepts no HS256 tokens (GATEWAY_JWT_ALGORITHMS), so it issues none")
    names = sorted({str(r) for r in roles})
    unknown = [r for r in names if r not in Role.__members__]
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
        "scope": " ".join(names),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    _put(claims, settings.jwt_roles_claim or "roles", names)
    for path, value in (
        (settings.jwt_region_claim, region_code),
        (settings.jwt_municipality_claim, _uuid(municipality_id, "municipality_id")),
        (settings.jwt_organization_claim, _uuid(organization_id, "organization_id")),
    ):
        if value:
            _put(claims, path, value)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def _uuid(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{name} must be a UUID") from None


def _put(claims: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        claims = claims.setdefault(name, {})
    claims[last] = value


def _get(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for name in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


# -- verifying them --------------------------------------------------------------------------------


class Authenticator:
    """Verifies portal tokens and signs internal ones; one per gateway process."""

    def __init__(self, settings: GatewaySettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._algorithms = frozenset(settings.jwt_algorithms)
        self._secret = settings.jwt_secret.get_secret_value()
        self._internal_secret = settings.internal_token_secret.get_secret_value()
        self._internal: dict[Identity, tuple[str, float]] = {}
        self._keys = (
            JwksCache(
                settings.jwt_jwks_url,
                max_age=settings.jwt_jwks_max_age_seconds,
                min_interval=settings.jwt_jwks_min_interval_seconds,
                timeout=settings.jwt_jwks_timeout_seconds,
                clock=clock,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def identify(self, authorization: str | None) -> Identity:
        """The caller a request's ``Authorization`` header names: none is anonymous."""
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization must be 'Bearer <token>'")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("invalid token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise AuthError("token signed with an algorithm this gateway does not accept")
        if algorithm in SHARED_SECRET_ALGORITHMS:
            key: Any = self._secret
        elif self._keys is not None:
            kid = header.get("kid")
            key = await self._keys.key_for(kid if isinstance(kid, str) else None, algorithm)
        else:  # the settings refuse public-key algorithms without a JWKS URL
            raise AuthError("token signed with an algorithm this gateway does not accept")
        claims = self._decode(token, key, algorithm)
        self._check_lifetime(claims)
        return self._identity(claims)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse a token meant to live longer than ``GATEWAY_JWT_MAX_LIFETIME_HOURS``."""
        cap = self.settings.jwt_max_lifetime_hours
        if cap <= 0:
            return
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int | float) or isinstance(issued, bool):
            raise AuthError("token lacks the 'iat' claim")
        if expires - issued > cap * 3600 + self.settings.jwt_leeway_seconds:
            raise AuthError(f"token lives longer than the {cap:g} hours this gateway allows")

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        settings = self.settings
        required = ["sub", "exp", "iss"] + (["aud"] if settings.jwt_audience else [])
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                leeway=settings.jwt_leeway_seconds,
                options={"require": required, "verify_aud": bool(settings.jwt_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not valid yet") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token from an issuer this gateway does not trust") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token not meant for this gateway") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            log.debug("token refused: %s", exc)
            raise AuthError("invalid token") from None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        settings = self.settings
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AuthError("invalid token")
        mapped: dict[str, Any] = {
            "sub": claims["sub"],
            "region": _single(_get(claims, settings.jwt_region_claim)),
            "municipality": _single(_get(claims, settings.jwt_municipality_claim)),
            "org": _single(_get(claims, settings.jwt_organization_claim)),
            "email": claims.get("email"),
        }
        if settings.jwt_roles_claim:
            roles = _get(claims, settings.jwt_roles_claim)
            mapped["roles"] = roles if isinstance(roles, list) else []
        else:
            mapped["roles"] = claims.get("roles")
            mapped["realm_access"] = claims.get("realm_access")
        return Identity.from_claims(mapped)

    def internal_token(self, identity: Identity) -> str:
        """The internal token that carries ``identity`` to the services (valid a minute; the same
        token is reused for half of that)."""
        if not identity.authenticated:
            raise ValueError("an anonymous caller carries no internal token")
        now = self._clock()
        cached = self._internal.get(identity)
        if cached is not None and now - cached[1] < INTERNAL_REUSE_SECONDS:
            return cached[0]
        if len(self._internal) >= INTERNAL_CACHE_SIZE:
            self._internal = {
                i: entry for i, entry in self._internal.items() if now - entry[1] < INTERNAL_REUSE_SECONDS
            }
            if len(self._internal) >= INTERNAL_CACHE_SIZE:
                self._internal.clear()
        token = sign_internal(identity, self._internal_secret)
        self._internal[identity] = (token, now)
        return token

    async def close(self) -> None:
        if self._keys is not None:
            await self._keys.close()


def _single(value: Any) -> Any:
    """A claim an identity provider may give as a one-element list (a multivalued attribute)."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


# -- the provider's keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    key: Any  # a cryptography public key


class JwksCache:
    """The signing keys of a JSON Web Key Set, read with httpx and cached (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float,
        min_interval: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.max_age = max_age
        self.min_interval = min_interval
        self.timeout = timeout
        self._clock = clock
        self._keys: list[_Key] | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed = False
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self._background: asyncio.Task[None] | None = None
        self.fetches = 0
        """JWKS requests made (for metrics and tests)."""

    async def key_for(self, kid: str | None, algorithm: str) -> Any:
        """The public key that verifies a token with header ``kid`` and ``alg``; AuthError if the
        set has none or the provider cannot be read."""
        if self._keys is None:
            await self._refresh(self._attempted_at)
        key = self._find(kid, algorithm)
        if key is not None:
            if self._stale() and self._may_fetch() and not self._lock.locked():
                self._refresh_in_background()
            return key
        if self._may_fetch():
            await self._refresh(self._attempted_at)
            key = self._find(kid, algorithm)
            if key is not None:
                return key
        if self._keys is None or self._failed:
            raise AuthError("cannot verify tokens now")
        raise AuthError("token signed with a key this gateway does not know")

    def _find(self, kid: str | None, algorithm: str) -> Any:
        usable = [k for k in self._keys or () if _fits(k, algorithm)]
        if kid is not None:
            usable = [k for k in usable if k.kid == kid]
        return usable[0].key if len(usable) == 1 else None

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self.min_interval

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self._refresh(self._attempted_at))

    async def _refresh(self, seen_attempt: float | None) -> None:
        """Read the set once, unless another request did since ``seen_attempt``."""
        async with self._lock:
            if self._attempted_at != seen_attempt or not self._may_fetch():
                return
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                keys = await self._fetch()
            except Exception as exc:  # a provider down keeps the cached keys in use
                self._failed = True
                log.warning("cannot read the JWKS at %s: %s", self.url, exc)
                return
            self._keys, self._fetched_at, self._failed = keys, self._clock(), False

    async def _fetch(self) -> list[_Key]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, headers={"accept": "application/json"})
        response = await self._client.get(self.url)
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError("the key set is too large")
        document = response.json()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("not a JSON Web Key Set")
        keys = [key for entry in entries if (key := _parse(entry)) is not None]
        if not keys:
            raise ValueError("the key set has no signing keys")
        return keys

    async def close(self) -> None:
        if self._background is not None and not self._background.done():
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _parse(entry: Any) -> _Key | None:
    """A signing key of the set; None for encryption keys and anything unusable."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    if entry.get("kty") not in KEY_TYPES.values() or "d" in entry:  # never a private key
        return None
    try:
        parsed = jwt.PyJWK(entry)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    kid = entry.get("kid")
    return _Key(
        kid=kid if isinstance(kid, str) else None,
        kty=entry["kty"],
        crv=entry.get("crv"),
        alg=entry.get("alg"),
        key=parsed.key,
    )


def _fits(key: _Key, algorithm: str) -> bool:
    if key.alg is not None and key.alg != algorithm:
        return False
    if key.kty != KEY_TYPES.get(algorithm[:2]):
        return False
    curves = CURVES.get(algorithm)
    return curves is None or key.crv in curves
