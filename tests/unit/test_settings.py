import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from setka_runtime.access import DEV_INTERNAL_SECRET

from gateway.settings import GatewaySettings
from services.analytics.settings import AnalyticsSettings
from services.registry.settings import RegistrySettings

pytestmark = pytest.mark.unit


def test_defaults_work_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REGISTRY_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE"):
        monkeypatch.delenv(name, raising=False)
    settings = RegistrySettings()
    assert settings.database_url == "sqlite:///var/registry.db"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka_enable_idempotence is False


def test_each_service_reads_its_own_prefix_and_the_shared_kafka_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", "postgresql://u@db/registry")
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", "postgresql://u@db/analytics")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "true")
    registry, analytics = RegistrySettings(), AnalyticsSettings()
    assert registry.database_url.endswith("/registry") and analytics.database_url.endswith("/analytics")
    assert registry.kafka_bootstrap_servers == analytics.kafka_bootstrap_servers == "kafka:9092"
    assert registry.kafka_enable_idempotence is True


INTERNAL = "an-internal-secret-of-at-least-32-chars!"


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("GATEWAY_") or n == "INTERNAL_TOKEN_SECRET"]:
        monkeypatch.delenv(name)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "production")
    monkeypatch.setenv("INTERNAL_TOKEN_SECRET", INTERNAL)
    monkeypatch.delenv("GATEWAY_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    assert GatewaySettings().environment == "production"


def test_the_development_secret_only_on_loopback_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_JWT_SECRET", raising=False)
    monkeypatch.delenv("GATEWAY_ENVIRONMENT", raising=False)
    monkeypatch.delenv("GATEWAY_HOST", raising=False)
    assert GatewaySettings().host == "127.0.0.1"  # make run: development, loopback
    with pytest.raises(ValidationError, match="development placeholder"):
        GatewaySettings(host="0.0.0.0")
    with pytest.raises(ValidationError, match="development placeholder"):
        GatewaySettings(environment="staging")
    assert (
        GatewaySettings(host="0.0.0.0", jwt_secret="s" * 40, internal_token_secret=INTERNAL).host == "0.0.0.0"
    )


def test_the_image_started_with_no_settings_refuses_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment the Dockerfile gives every container, and nothing else."""
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text(encoding="utf-8")
    for name in [n for n in os.environ if n.startswith("GATEWAY_") or n == "INTERNAL_TOKEN_SECRET"]:
        monkeypatch.delenv(name)
    for statement in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", text, flags=re.MULTILINE):
        for name, value in re.findall(r"([A-Z_]+)=(\S+)", statement.replace("\\\n", " ")):
            monkeypatch.setenv(name, value)
    assert os.environ["GATEWAY_ENVIRONMENT"] == "production"
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        GatewaySettings()


def test_the_gateway_reads_the_shared_internal_secret_or_its_own(
    monkeypatch: pytest.MonkeyPatch, no_secrets: None
) -> None:
    assert GatewaySettings().internal_token_secret.get_secret_value() == DEV_INTERNAL_SECRET
    monkeypatch.setenv("INTERNAL_TOKEN_SECRET", INTERNAL)
    assert GatewaySettings().internal_token_secret.get_secret_value() == INTERNAL
    monkeypatch.setenv("GATEWAY_INTERNAL_TOKEN_SECRET", "g" * 40)
    assert GatewaySettings().internal_token_secret.get_secret_value() == "g" * 40
    assert (
        GatewaySettings(internal_token_secret="k" * 40).internal_token_secret.get_secret_value() == "k" * 40
    )


def test_the_internal_placeholder_only_on_loopback_and_never_in_production(no_secrets: None) -> None:
    strong = {"jwt_secret": "s" * 40}
    assert GatewaySettings(environment="staging", **strong).internal_token_secret  # loopback
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN_SECRET is the development placeholder"):
        GatewaySettings(host="0.0.0.0", **strong)
    with pytest.raises(ValidationError, match="refused in production"):
        GatewaySettings(environment="production", **strong)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        GatewaySettings(internal_token_secret="short", **strong)
    production = GatewaySettings(
        environment="production", host="0.0.0.0", internal_token_secret=INTERNAL, **strong
    )
    assert production.internal_token_secret.get_secret_value() == INTERNAL


def test_token_algorithms_are_explicit(monkeypatch: pytest.MonkeyPatch, no_secrets: None) -> None:
    assert GatewaySettings().jwt_algorithms == ["HS256"]
    monkeypatch.setenv("GATEWAY_JWT_ALGORITHMS", "HS256, HS512")
    assert GatewaySettings().jwt_algorithms == ["HS256", "HS512"]
    monkeypatch.delenv("GATEWAY_JWT_ALGORITHMS")
    monkeypatch.setenv("GATEWAY_JWT_ALGORITHM", "HS384")  # the former single setting
    assert GatewaySettings().jwt_algorithms == ["HS384"]
    for refused in ("none", "HS256,none", "RS1"):
        with pytest.raises(ValidationError, match="not accepted"):
            GatewaySettings(jwt_algorithms=refused)
    with pytest.raises(ValidationError, match="GATEWAY_JWT_JWKS_URL is not set"):
        GatewaySettings(jwt_algorithms="RS256")


def test_a_key_set_needs_an_audience_and_no_shared_secret(no_secrets: None) -> None:
    jwks = "https://id.example.test/realms/setka/protocol/openid-connect/certs"
    with pytest.raises(ValidationError, match="GATEWAY_JWT_AUDIENCE must be set"):
        GatewaySettings(jwt_jwks_url=jwks)
    with pytest.raises(ValidationError, match="http"):
        GatewaySettings(jwt_jwks_url="file:///etc/keys.json", jwt_audience="setka")
    with pytest.raises(ValidationError, match="names no RS"):
        GatewaySettings(jwt_jwks_url=jwks, jwt_audience="setka", jwt_algorithms="HS256")
    production = {"environment": "production", "host": "0.0.0.0", "internal_token_secret": INTERNAL}
    oidc = GatewaySettings(jwt_jwks_url=jwks, jwt_audience="setka", **production)
    assert oidc.jwt_algorithms == ["RS256", "ES256"]  # GATEWAY_JWT_SECRET is not used, so not required
    assert not oidc.accepts_shared_secret
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):  # unless HS256 is accepted too
        GatewaySettings(jwt_jwks_url=jwks, jwt_audience="setka", jwt_algorithms="RS256,HS256", **production)
