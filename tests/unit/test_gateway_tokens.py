"""The gateway's verification of portal tokens: HS256 with its secret, RS256/ES256 with an OpenID
provider's key set (served here by a local HTTP server), and the internal token it passes on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from setka_runtime.access import ANONYMOUS, INTERNAL_TTL_SECONDS, Identity, Role, verify_internal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import auth
from gateway.auth import Authenticator, AuthError, issue_token
from gateway.settings import GatewaySettings
from tests.helpers import served

pytestmark = pytest.mark.unit

SECRET = "a-test-secret-of-at-least-32-characters!"
INTERNAL = "an-internal-secret-of-at-least-32-chars!"
AUDIENCE = "setka-portal"
ISSUER = "https://id.example.test/realms/setka"
MUNICIPALITY = str(uuid.uuid4())
ORGANIZATION = str(uuid.uuid4())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hs_settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(jwt_secret=SECRET, internal_token_secret=INTERNAL, **overrides)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "someone", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


async def refused(authenticator: Authenticator, token: str, match: str | None = None) -> str:
    with pytest.raises(AuthError, match=match) as caught:
        await authenticator.identify(f"Bearer {token}")
    return str(caught.value)


# -- HS256 with the gateway's secret -------------------------------------------------------------


async def test_an_issued_token_is_accepted_with_its_roles_and_scope() -> None:
    settings = hs_settings()
    token = issue_token(
        settings,
        subject="admin-1",
        roles=["regional_admin", "expert"],
        region_code="77",
        municipality_id=MUNICIPALITY,
        organization_id=ORGANIZATION,
    )
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="setka")
    assert payload["scope"] == "expert regional_admin"
    assert payload["exp"] - payload["iat"] == 12 * 3600
    identity = await Authenticator(settings).identify(f"Bearer {token}")
    assert identity.subject == "admin-1"
    assert identity.roles == {Role.regional_admin, Role.expert}
    assert (identity.region_code, identity.municipality_id, identity.organization_id) == (
        "77",
        MUNICIPALITY,
        ORGANIZATION,
    )


async def test_no_header_is_anonymous_and_other_schemes_are_refused() -> None:
    authenticator = Authenticator(hs_settings())
    assert await authenticator.identify(None) is ANONYMOUS
    assert await authenticator.identify("") is ANONYMOUS
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token"):
        with pytest.raises(AuthError, match="Bearer <token>"):
            await authenticator.identify(header)
    await refused(authenticator, "not-a-jwt", "invalid token")
    await refused(authenticator, "x" * 20_000, "invalid token")


async def test_an_expired_token_is_refused_beyond_a_small_leeway() -> None:
    settings = hs_settings()
    authenticator = Authenticator(settings)
    now = int(time.time())
    late = jwt.encode(claims(iss="setka", aud=None, exp=now - 10), SECRET, algorithm="HS256")
    assert (await authenticator.identify(f"Bearer {late}")).subject == "someone"
    expired = jwt.encode(claims(iss="setka", aud=None, exp=now - 120), SECRET, algorithm="HS256")
    assert await refused(authenticator, expired) == "token expired"
    no_exp = jwt.encode(claims(iss="setka", aud=None, exp=None), SECRET, algorithm="HS256")
    await refused(authenticator, no_exp, "'exp'")


async def test_the_issuer_is_checked() -> None:
    authenticator = Authenticator(hs_settings())
    other = jwt.encode(claims(iss="someone-else", aud=None), SECRET, algorithm="HS256")
    await refused(authenticator, other, "issuer")
    missing = jwt.encode(claims(iss=None, aud=None), SECRET, algorithm="HS256")
    await refused(authenticator, missing, "'iss'")


async def test_the_audience_is_checked_when_configured() -> None:
    settings = hs_settings(jwt_audience=AUDIENCE)
    authenticator = Authenticator(settings)
    ours = issue_token(settings, subject="a", roles=["viewer"])
    assert jwt.decode(ours, SECRET, algorithms=["HS256"], audience=AUDIENCE)["aud"] == AUDIENCE
    assert (await authenticator.identify(f"Bearer {ours}")).subject == "a"
    among = jwt.encode(claims(iss="setka", aud=["account", AUDIENCE]), SECRET, algorithm="HS256")
    assert (await authenticator.identify(f"Bearer {among}")).subject == "someone"
    other = jwt.encode(claims(iss="setka", aud="another-client"), SECRET, algorithm="HS256")
    await refused(authenticator, other, "not meant for this gateway")
    missing = jwt.encode(claims(iss="setka", aud=None), SECRET, algorithm="HS256")
    await refused(authenticator, missing, "'aud'")


async def test_alg_none_is_refused() -> None:
    authenticator = Authenticator(hs_settings())
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(iss="setka", aud=None)).encode())
    await refused(authenticator, f"{header}.{payload}.", "algorithm")
    await refused(authenticator, f"{header}.{payload}.c2ln", "algorithm")


async def test_a_token_signed_with_another_secret_is_refused() -> None:
    authenticator = Authenticator(hs_settings())
    forged = jwt.encode(claims(iss="setka", aud=None), "another-secret-of-at-least-32-characters", "HS256")
    assert await refused(authenticator, forged) == "invalid token"
    hs512 = jwt.encode(claims(iss="setka", aud=None), SECRET * 2, algorithm="HS512")
    await refused(authenticator, hs512, "algorithm")  # not in GATEWAY_JWT_ALGORITHMS


def test_issue_token_refuses_what_the_gateway_would_not_read() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        issue_token(hs_settings(), subject="a", roles=["superuser"])
    with pytest.raises(ValueError, match="UUID"):
        issue_token(hs_settings(), subject="a", roles=["viewer"], organization_id="school-5")


# -- the internal token --------------------------------------------------------------------------


async def test_the_internal_token_carries_the_identity_and_is_reused_for_half_its_life(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed: list[str] = []
    real_sign = auth.sign_internal

    def counting_sign(identity: Identity, secret: str) -> str:
        signed.append(identity.subject or "")
        return real_sign(identity, secret)

    monkeypatch.setattr(auth, "sign_internal", counting_sign)
    clock = Clock()
    settings = hs_settings()
    authenticator = Authenticator(settings, clock=clock)
    token = issue_token(
        settings, subject="rep", roles=["school_representative", "viewer"], organization_id=ORGANIZATION
    )
    identity = await authenticator.identify(f"Bearer {token}")
    internal = authenticator.internal_token(identity)
    passed = verify_internal(internal, INTERNAL)
    assert passed == identity
    assert passed.scopes == {"school_representative", "viewer"}
    payload = jwt.decode(internal, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == INTERNAL_TTL_SECONDS
    clock.now += 29
    assert authenticator.internal_token(identity) == internal
    assert signed == ["rep"]
    clock.now += 2
    assert verify_internal(authenticator.internal_token(identity), INTERNAL) == identity
    assert signed == ["rep", "rep"]
    other = await authenticator.identify(f"Bearer {issue_token(settings, subject='x', roles=['expert'])}")
    assert verify_internal(authenticator.internal_token(other), INTERNAL).subject == "x"
    with pytest.raises(ValueError, match="anonymous"):
        authenticator.internal_token(ANONYMOUS)


# -- an OpenID provider's key set ----------------------------------------------------------------


class Provider:
    """A JWKS endpoint whose keys and health the test changes; it counts the requests."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status = 200
        self.requests = 0
        self.url = ""

        async def certs(request: Request) -> Response:
            self.requests += 1
            if self.status != 200:
                return Response("unavailable", status_code=self.status)
            return JSONResponse({"keys": self.keys})

        self.app = Starlette(routes=[Route("/certs", certs)])

    def reset(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.status = 200
        self.requests = 0


class SigningKey:
    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm == "ES256":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}

    def sign(self, payload: dict[str, Any], *, kid: str | None = "same") -> str:
        headers = {} if kid is None else {"kid": self.kid if kid == "same" else kid}
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers=headers)

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    server = Provider()
    async with served(server.app, lifespan="off") as base:
        server.url = f"{base}/certs"
        yield server


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1", "RS256")


@pytest.fixture(scope="module")
def rsa_key_2() -> SigningKey:
    return SigningKey("rsa-2", "RS256")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey("ec-1", "ES256")


def oidc(provider: Provider, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "jwt_jwks_url": provider.url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "internal_token_secret": INTERNAL,
    }
    values.update(overrides)
    return GatewaySettings(**values)


async def test_rs256_and_es256_tokens_are_verified_with_the_providers_keys(
    provider: Provider, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    provider.reset(rsa_key.jwk, ec_key.jwk, {"kty": "RSA", "use": "enc", "kid": "enc", "n": "x", "e": "AQAB"})
    authenticator = Authenticator(oidc(provider))
    try:
        by_rsa = await authenticator.identify(f"Bearer {rsa_key.sign(claims(roles=['expert']))}")
        by_ec = await authenticator.identify(f"Bearer {ec_key.sign(claims(sub='other', roles=['viewer']))}")
        assert (by_rsa.subject, by_rsa.roles) == ("someone", {Role.expert})
        assert (by_ec.subject, by_ec.roles) == ("other", {Role.viewer})
        assert provider.requests == 1  # the keys are cached
        for _ in range(3):
            await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")
        assert provider.requests == 1
    finally:
        await authenticator.close()


async def test_provider_tokens_are_checked_like_any_other(
    provider: Provider, rsa_key: SigningKey, rsa_key_2: SigningKey, ec_key: SigningKey
) -> None:
    provider.reset(rsa_key.jwk, ec_key.jwk)
    authenticator = Authenticator(oidc(provider))
    try:
        await refused(authenticator, rsa_key.sign(claims(exp=int(time.time()) - 120)), "expired")
        await refused(authenticator, rsa_key.sign(claims(iss="https://elsewhere/realms/x")), "issuer")
        await refused(authenticator, rsa_key.sign(claims(aud="another-client")), "not meant")
        await refused(authenticator, rsa_key.sign(claims(aud=None)), "'aud'")
        # another key under a known kid: the signature does not verify
        assert await refused(authenticator, rsa_key_2.sign(claims(), kid=rsa_key.kid)) == "invalid token"
        # an ES256 token naming the RSA key's kid: the key does not fit the algorithm
        await refused(authenticator, ec_key.sign(claims(), kid=rsa_key.kid), "does not know")
        # no kid: the one key of the set that fits the algorithm
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims(), kid=None)}")).subject
        # HS256 is not accepted with a key set unless configured, nor with the public key as secret
        await refused(authenticator, issue_hs_with(rsa_key.public_pem, kid=rsa_key.kid), "algorithm")
    finally:
        await authenticator.close()


def issue_hs_with(secret: bytes, *, kid: str) -> str:
    """An HS256 token whose HMAC key is ``secret`` (PyJWT refuses to make one with a PEM key)."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims(roles=["regional_admin"], region="*")).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_hs256_beside_a_key_set_uses_the_secret_never_the_public_key(
    provider: Provider, rsa_key: SigningKey
) -> None:
    provider.reset(rsa_key.jwk)
    settings = oidc(provider, jwt_algorithms="RS256,HS256", jwt_secret=SECRET)
    authenticator = Authenticator(settings)
    try:
        assert await refused(authenticator, issue_hs_with(rsa_key.public_pem, kid=rsa_key.kid)) == (
            "invalid token"
        )
        ours = issue_token(settings, subject="local", roles=["viewer"])
        assert (await authenticator.identify(f"Bearer {ours}")).subject == "local"
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
    finally:
        await authenticator.close()


async def test_a_rotated_key_is_fetched_once_and_a_removed_one_refused(
    provider: Provider, rsa_key: SigningKey, rsa_key_2: SigningKey
) -> None:
    provider.reset(rsa_key.jwk)
    clock = Clock()
    authenticator = Authenticator(oidc(provider), clock=clock)
    try:
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
        assert provider.requests == 1
        provider.keys = [rsa_key_2.jwk]  # the provider rotates: the old key is gone
        clock.now += 31
        assert (await authenticator.identify(f"Bearer {rsa_key_2.sign(claims())}")).subject == "someone"
        assert provider.requests == 2
        await refused(authenticator, rsa_key.sign(claims()), "does not know")
        assert provider.requests == 2  # refetching again so soon is not allowed
        clock.now += 31
        await refused(authenticator, rsa_key.sign(claims()), "does not know")
        assert provider.requests == 3  # tried once more: still not there
    finally:
        await authenticator.close()


async def test_unknown_kids_refetch_at_most_once_per_interval(
    provider: Provider, rsa_key: SigningKey, rsa_key_2: SigningKey
) -> None:
    provider.reset(rsa_key.jwk)
    clock = Clock()
    authenticator = Authenticator(oidc(provider), clock=clock)
    try:
        await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")
        assert provider.requests == 1
        for n in range(20):
            await refused(authenticator, rsa_key_2.sign(claims(), kid=f"made-up-{n}"), "does not know")
        assert provider.requests == 1
        clock.now += 30
        await asyncio.gather(
            *(
                refused(authenticator, rsa_key_2.sign(claims(), kid=f"again-{n}"), "does not know")
                for n in range(20)
            )
        )
        assert provider.requests == 2
        clock.now += 10
        await refused(authenticator, rsa_key_2.sign(claims(), kid="later"), "does not know")
        assert provider.requests == 2
    finally:
        await authenticator.close()


async def test_many_first_requests_read_the_key_set_once(provider: Provider, rsa_key: SigningKey) -> None:
    provider.reset(rsa_key.jwk)
    authenticator = Authenticator(oidc(provider))
    try:
        token = f"Bearer {rsa_key.sign(claims())}"
        identities = await asyncio.gather(*(authenticator.identify(token) for _ in range(30)))
        assert {i.subject for i in identities} == {"someone"}
        assert provider.requests == 1
    finally:
        await authenticator.close()


async def test_a_provider_down_refuses_new_keys_but_cached_ones_still_verify(
    provider: Provider, rsa_key: SigningKey, rsa_key_2: SigningKey
) -> None:
    provider.reset(rsa_key.jwk)
    provider.status = 503
    clock = Clock()
    authenticator = Authenticator(oidc(provider), clock=clock)
    try:
        assert await refused(authenticator, rsa_key.sign(claims())) == "cannot verify tokens now"
        provider.status = 200
        await refused(authenticator, rsa_key.sign(claims()), "cannot verify tokens now")
        assert provider.requests == 1  # a failed read counts against the interval too
        clock.now += 30
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
        assert provider.requests == 2

        provider.status = 500
        clock.now += 301  # the cache is stale: refreshed in the background, which fails
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
        await asyncio.sleep(0.2)
        assert provider.requests == 3
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
        clock.now += 30
        await refused(authenticator, rsa_key_2.sign(claims()), "cannot verify tokens now")
    finally:
        await authenticator.close()


async def test_a_stale_key_set_is_refreshed_in_the_background(
    provider: Provider, rsa_key: SigningKey, rsa_key_2: SigningKey
) -> None:
    provider.reset(rsa_key.jwk, rsa_key_2.jwk)
    clock = Clock()
    authenticator = Authenticator(oidc(provider), clock=clock)
    try:
        await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")
        provider.keys = [rsa_key_2.jwk]
        clock.now += 300
        # still answered from the cache while the refresh runs
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(claims())}")).subject == "someone"
        for _ in range(50):
            if provider.requests == 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert provider.requests == 2
        await refused(authenticator, rsa_key.sign(claims()), "does not know")
        assert (await authenticator.identify(f"Bearer {rsa_key_2.sign(claims())}")).subject == "someone"
    finally:
        await authenticator.close()


async def test_keycloak_claims_map_to_roles_and_scope(provider: Provider, rsa_key: SigningKey) -> None:
    provider.reset(rsa_key.jwk)
    authenticator = Authenticator(oidc(provider))
    keycloak = claims(
        aud=["account", AUDIENCE],
        typ="Bearer",
        azp="setka-portal",
        scope="openid profile email",
        realm_access={"roles": ["offline_access", "uma_authorization", "municipal_coordinator"]},
        resource_access={"account": {"roles": ["manage-account"]}},
        municipality=MUNICIPALITY,
        region="50",
        preferred_username="coordinator",
    )
    try:
        identity = await authenticator.identify(f"Bearer {rsa_key.sign(keycloak)}")
        assert identity.roles == {Role.municipal_coordinator}  # the others are not Setka's
        assert (identity.region_code, identity.municipality_id) == ("50", MUNICIPALITY)
        both = claims(roles=["expert", "root"], realm_access={"roles": ["regional_admin"]})
        assert (await authenticator.identify(f"Bearer {rsa_key.sign(both)}")).roles == {Role.expert}
        bad_scope = claims(roles=["viewer"], municipality="not-a-uuid", org=12)
        identity = await authenticator.identify(f"Bearer {rsa_key.sign(bad_scope)}")
        assert (identity.municipality_id, identity.organization_id) == (None, None)
    finally:
        await authenticator.close()


async def test_claim_names_are_configurable(provider: Provider, rsa_key: SigningKey) -> None:
    provider.reset(rsa_key.jwk)
    settings = oidc(
        provider,
        jwt_roles_claim="resource_access.setka.roles",
        jwt_region_claim="setka.region",
        jwt_municipality_claim="municipality_id",
        jwt_organization_claim="organization_id",
    )
    authenticator = Authenticator(settings)
    token = rsa_key.sign(
        claims(
            realm_access={"roles": ["regional_admin"]},  # ignored: the roles are the client's
            resource_access={"setka": {"roles": ["school_representative"]}},
            setka={"region": ["16"]},  # a multivalued attribute with one value
            municipality_id=MUNICIPALITY,
            organization_id=ORGANIZATION,
        )
    )
    try:
        identity = await authenticator.identify(f"Bearer {token}")
        assert identity.roles == {Role.school_representative}
        assert (identity.region_code, identity.municipality_id, identity.organization_id) == (
            "16",
            MUNICIPALITY,
            ORGANIZATION,
        )
    finally:
        await authenticator.close()


async def test_a_token_meant_to_live_longer_than_the_cap_is_refused() -> None:
    """A token cannot be revoked: one that would serve for a month if stolen is not accepted."""
    authenticator = Authenticator(hs_settings())
    try:
        month = issue_token(hs_settings(), subject="portal", roles=["viewer"], ttl_seconds=30 * 24 * 3600)
        await refused(authenticator, month, "longer than the 24 hours")
        now = int(time.time())
        no_iat = jwt.encode({"sub": "portal", "iss": "setka", "exp": now + 60}, SECRET, algorithm="HS256")
        await refused(authenticator, no_iat, "iat")
        day = issue_token(hs_settings(), subject="portal", roles=["viewer"], ttl_seconds=24 * 3600)
        assert (await authenticator.identify(f"Bearer {day}")).subject == "portal"
    finally:
        await authenticator.close()
    relaxed = Authenticator(hs_settings(jwt_max_lifetime_hours=0))
    try:
        assert (await relaxed.identify(f"Bearer {month}")).subject == "portal"
    finally:
        await relaxed.close()


def test_an_internal_token_that_lives_longer_than_five_minutes_is_refused() -> None:
    from setka_runtime.access import AccessDenied, sign_internal

    who = Identity(subject="operator", roles=frozenset({Role.regional_admin}), region_code="39")
    assert verify_internal(sign_internal(who, INTERNAL, ttl_seconds=300), INTERNAL).subject == "operator"
    with pytest.raises(AccessDenied, match="longer than 300 seconds"):
        verify_internal(sign_internal(who, INTERNAL, ttl_seconds=3600), INTERNAL)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"internal_token_secret": SECRET}, "must differ"),
        (
            {
                "jwt_jwks_url": "http://id.example.test/certs",
                "jwt_audience": AUDIENCE,
                "environment": "production",
            },
            "https:// outside development",
        ),
    ],
)
def test_settings_refuse_a_shared_secret_and_keys_over_plain_http(
    overrides: dict[str, Any], message: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        GatewaySettings(**{"jwt_secret": SECRET, "internal_token_secret": INTERNAL, **overrides})
