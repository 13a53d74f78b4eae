import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

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


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "production")
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
    assert GatewaySettings(host="0.0.0.0", jwt_secret="s" * 40).host == "0.0.0.0"


def test_the_image_started_with_no_settings_refuses_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment the Dockerfile gives every container, and nothing else."""
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text(encoding="utf-8")
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    for statement in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", text, flags=re.MULTILINE):
        for name, value in re.findall(r"([A-Z_]+)=(\S+)", statement.replace("\\\n", " ")):
            monkeypatch.setenv(name, value)
    assert os.environ["GATEWAY_ENVIRONMENT"] == "production"
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        GatewaySettings()
