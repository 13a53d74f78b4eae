"""Signing in with an OpenID provider: the authorization code flow with PKCE, on the server.

The provider is found by discovery (``<issuer>/.well-known/openid-configuration``). The browser is
sent to its authorization endpoint with a state, a nonce and a PKCE challenge kept in the
session; the code that comes back is exchanged for tokens at the token endpoint (the client's
secret, if it has one, sent with HTTP Basic), the ID token is checked against the provider's keys
(issuer, audience, expiry, nonce), and the tokens stay in the session. Signing out ends the
session here and, when the provider has an end-session endpoint, there too.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from .session import Person
from .settings import PortalSettings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class SignInError(Exception):
    """The sign-in cannot be completed; the message is for the person (in Russian)."""


@dataclass
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OpenIdClient:
    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._provider: Provider | None = None
        self._keys: jwt.PyJWKSet | None = None
        self._keys_at = 0.0

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.base_url}/auth/callback"

    async def provider(self) -> Provider:
        if self._provider is None:
            issuer = str(self.settings.oidc_issuer).rstrip("/")
            try:
                reply = await self.http.get(f"{issuer}/.well-known/openid-configuration")
                reply.raise_for_status()
                found = reply.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SignInError("Сервер входа (OpenID) не отвечает; попробуйте позже") from exc
            if str(found.get("issuer", "")).rstrip("/") != issuer:
                raise SignInError("Сервер входа назвал себя не тем издателем, что указан в настройках")
            self._provider = Provider(
                issuer=found["issuer"],
                authorization_endpoint=found["authorization_endpoint"],
                token_endpoint=found["token_endpoint"],
                jwks_uri=found["jwks_uri"],
                end_session_endpoint=found.get("end_session_endpoint"),
            )
        return self._provider

    async def start(self, pending: dict[str, Any], back_to: str) -> str:
        """Where to send the browser to sign in; what to check on return goes to ``pending``."""
        provider = await self.provider()
        verifier = secrets.token_urlsafe(64)
        pending.clear()
        pending.update(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=verifier,
            back_to=back_to,
            started=time.time(),
        )
        query = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.settings.oidc_scopes,
            "state": pending["state"],
            "nonce": pending["nonce"],
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        return f"{provider.authorization_endpoint}?{urlencode(query)}"

    async def finish(self, pending: dict[str, Any], params: dict[str, str]) -> tuple[dict[str, Any], Person]:
        """The tokens and the person, from the provider's answer to :meth:`start`."""
        if "error" in params:
            raise SignInError(f"Вход не выполнен: {params.get('error_description') or params['error']}")
        if not pending or not secrets.compare_digest(params.get("state", ""), pending.get("state", "")):
            raise SignInError("Вход устарел или начат в другом окне; начните его снова")
        if time.time() - pending.get("started", 0) > 600:
            raise SignInError("Вход занял больше 10 минут; начните его снова")
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": params.get("code", ""),
            "redirect_uri": self.redirect_uri,
            "code_verifier": pending["verifier"],
            "client_id": str(self.settings.oidc_client_id),
        }
        secret = self.settings.oidc_client_secret
        auth = (str(self.settings.oidc_client_id), secret.get_secret_value()) if secret else None
        try:
            reply = await self.http.post(provider.token_endpoint, data=form, auth=auth)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise SignInError("Сервер входа не ответил; попробуйте снова") from exc
        if reply.status_code != 200:
            raise SignInError("Сервер входа не выдал ключ доступа; начните вход снова")
        tokens = reply.json()
        claims = await self._verified(tokens.get("id_token", ""), provider)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending["nonce"]):
            raise SignInError("Ответ сервера входа не относится к этому входу")
        access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        return tokens, person_of(access, claims)

    async def _verified(self, id_token: str, provider: Provider) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self._key(provider, header.get("kid"))
            return jwt.decode(
                id_token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.oidc_client_id,
                issuer=provider.issuer,
                leeway=30,
            )
        except (jwt.PyJWTError, KeyError) as exc:
            raise SignInError("Сервер входа прислал неверное удостоверение личности") from exc

    async def _key(self, provider: Provider, kid: str | None) -> Any:
        if self._keys is None or (kid and kid not in {k.key_id for k in self._keys.keys}):
            if time.time() - self._keys_at > 10 or self._keys is None:
                reply = await self.http.get(provider.jwks_uri)
                reply.raise_for_status()
                self._keys, self._keys_at = jwt.PyJWKSet.from_dict(reply.json()), time.time()
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise KeyError(kid)

    async def end_session_url(self, id_token: str | None) -> str | None:
        """Where to send the browser so that the provider signs it out too (None: it has no such)."""
        provider = await self.provider()
        if not provider.end_session_endpoint:
            return None
        query = {
            "post_logout_redirect_uri": f"{self.settings.base_url}/",
            "client_id": self.settings.oidc_client_id,
        }
        if id_token:
            query["id_token_hint"] = id_token
        return f"{provider.end_session_endpoint}?{urlencode(query)}"


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def person_of(access: dict[str, Any], identity: dict[str, Any] | None = None) -> Person:
    """Who the token is for: roles from ``roles`` or Keycloak's ``realm_access.roles``, scope from
    ``region``, ``municipality`` and ``org``, as the gateway reads them."""
    identity = identity or {}
    roles = _claim(access, "roles") or _claim(access, "realm_access.roles") or []
    name = (
        identity.get("name")
        or identity.get("preferred_username")
        or access.get("name")
        or access.get("preferred_username")
        or str(access.get("sub", ""))
    )
    return Person(
        subject=str(access.get("sub", "")),
        name=str(name),
        roles=frozenset(str(r) for r in roles if isinstance(r, str)),
        region_code=_claim(access, "region"),
        municipality_id=_claim(access, "municipality"),
        organization_id=_claim(access, "org"),
    )
