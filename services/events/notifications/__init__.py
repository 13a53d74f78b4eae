"""The notifier (уведомления): tells the people of the network what concerns them — in the
workspace's list and by e-mail — from the events of all three services, in a consumer group of its
own (``setka.events.notifications``), so it can lag, stop or be replayed without holding up the
events service's own consumers.

:mod:`.rules` says who is told what; :mod:`.delivery` records each notification once per source
and recipient and queues the e-mails; :mod:`.mailer` sends them over SMTP; :mod:`.schedule` finds
plan items falling due and gathers the daily digests; :mod:`.people` and :mod:`.schema` are a
person's list and preferences.
"""

from __future__ import annotations

from setka_runtime.service import Service

from .mailer import Mailer
from .rules import Rules
from .schedule import Schedule
from .settings import NotificationSettings

GROUP = "setka.events.notifications"


def attach(service: Service, settings: NotificationSettings) -> None:
    """Add the notifier's consumers (one subscription of its own group), its SMTP sender and its
    periodic checks to the events service."""
    rules = Rules(settings)
    consumers = [
        service.guarded(topic, handlers, group=GROUP) for topic, handlers in rules.handlers().items()
    ]
    service.subscribe(consumers)
    schedule = Schedule(service.db, settings, rules)
    service.context["notification_settings"] = settings
    service.context["notification_schedule"] = schedule
    service.background.append(schedule.run)
    if settings.email_on:
        mailer = Mailer(service.db, settings)
        service.context["mailer"] = mailer
        service.background.append(mailer.run)
