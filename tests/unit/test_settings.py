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
