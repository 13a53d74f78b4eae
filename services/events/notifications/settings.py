"""The notifier's settings: the SMTP server (off when ``NOTIFY_SMTP_HOST`` is unset: then only
the list in the workspace), the digest's hour and the workspace's address for links."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationSettings(BaseSettings):
    """``NOTIFY_*`` variables, and ``WORKSPACE_URL``."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", hide_input_in_errors=True)

    smtp_host: str | None = Field(
        default=None, description="The SMTP server; unset: no e-mail, only the list"
    )
    smtp_port: int = 587
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 30.0
    from_address: str = Field(default="setka@localhost", description="The From of every e-mail")
    workspace_url: str = Field(
        default="http://127.0.0.1:8010",
        validation_alias=AliasChoices("WORKSPACE_URL", "NOTIFY_WORKSPACE_URL"),
        description="The workspace's address, for the links in e-mails",
    )
    digest_hour: int = Field(default=18, ge=0, le=23, description="When the daily digest goes out")
    timezone: str = Field(default="Europe/Moscow", description="The zone of the digest's hour and day")
    due_days_before: int = Field(default=0, ge=0, description="Tell a plan item's organization this early")
    check_seconds: float = Field(default=60.0, description="How often due items and digests are checked")
    send_poll_seconds: float = 1.0
    max_attempts: int = 8
    retention_days: int = Field(
        default=365,
        ge=0,
        description="Notifications and sent e-mails older than this many days are deleted; 0: kept for ever",
    )
    lease_seconds: float = Field(
        default=120.0,
        description="An e-mail still 'sending' this long after it was taken (the process died) is sent again",
    )

    @property
    def email_on(self) -> bool:
        return bool(self.smtp_host)
