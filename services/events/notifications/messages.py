"""What a notification says, in Russian: a title, a plain text and a link into the workspace; an
e-mail of one notification or of a day's digest, as plain text and as HTML (every name escaped)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from html import escape


class Kind(StrEnum):
    """What a notification is about; a person may turn each off."""

    plan_agreed = "plan_agreed"
    plan_amended = "plan_amended"
    activity_announced = "activity_announced"
    activity_changed = "activity_changed"
    activity_cancelled = "activity_cancelled"
    registration_confirmed = "registration_confirmed"
    alert_raised = "alert_raised"
    resource_request_answered = "resource_request_answered"
    plan_item_due = "plan_item_due"


KIND_TITLES: dict[Kind, str] = {
    Kind.plan_agreed: "План согласован",
    Kind.plan_amended: "План изменён",
    Kind.activity_announced: "Объявлено мероприятие",
    Kind.activity_changed: "Мероприятие изменено",
    Kind.activity_cancelled: "Мероприятие отменено",
    Kind.registration_confirmed: "Регистрация подтверждена",
    Kind.alert_raised: "Сигнал по школе",
    Kind.resource_request_answered: "Ответ на запрос ресурса",
    Kind.plan_item_due: "Наступает срок пункта плана",
}
"""How each kind is named in the preferences form and in e-mails."""


@dataclass(frozen=True)
class Message:
    """One notification's words: ``path`` is the workspace's page (joined to WORKSPACE_URL)."""

    kind: Kind
    title: str
    text: str
    path: str


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


FOOTER = "Настроить уведомления: {url}/notifications"


def link(workspace_url: str, path: str) -> str:
    return workspace_url.rstrip("/") + path


def single(message_title: str, message_text: str, url: str | None, workspace_url: str) -> Email:
    """The e-mail of one notification."""
    base = workspace_url.rstrip("/")
    subject = f"Сетка: {message_title}"
    text = "\n\n".join(
        part
        for part in (
            message_text,
            f"Открыть в рабочем месте: {url}" if url else "",
            FOOTER.format(url=base),
        )
        if part
    )
    button = f'<p><a href="{escape(url, quote=True)}">Открыть в рабочем месте</a></p>' if url else ""
    html = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>"
        f"<h1>{escape(message_title)}</h1><p>{_paragraphs(message_text)}</p>{button}"
        f'<p><small><a href="{escape(base, quote=True)}/notifications">Настроить уведомления</a>'
        "</small></p></body></html>"
    )
    return Email(subject=subject, text=text, html=html)


def digest(day: date, items: list[tuple[str, str, str | None]], workspace_url: str) -> Email:
    """One e-mail with everything of ``day``: ``items`` are (title, text, link)."""
    base = workspace_url.rstrip("/")
    when = day.strftime("%d.%m.%Y")
    subject = f"Сетка: уведомления за {when} ({len(items)})"
    lines = [f"Уведомления за {when}:"]
    blocks = []
    for number, (title, text, url) in enumerate(items, 1):
        lines.append(f"\n{number}. {title}\n{text}" + (f"\n{url}" if url else ""))
        anchor = f' <a href="{escape(url, quote=True)}">Открыть</a>' if url else ""
        blocks.append(f"<li><strong>{escape(title)}</strong><br>{_paragraphs(text)}{anchor}</li>")
    lines.append("\n" + FOOTER.format(url=base))
    html = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>"
        f"<h1>Уведомления за {escape(when)}</h1><ol>{''.join(blocks)}</ol>"
        f'<p><small><a href="{escape(base, quote=True)}/notifications">Настроить уведомления</a>'
        "</small></p></body></html>"
    )
    return Email(subject=subject, text="\n".join(lines), html=html)


def _paragraphs(text: str) -> str:
    return "<br>".join(escape(line) for line in text.splitlines())


def quoted(name: str | None, fallback: str) -> str:
    """A name in «ёлочки», or the fallback when the copy does not know it yet."""
    return f"«{name}»" if name else fallback


def day_text(value: date) -> str:
    return value.strftime("%d.%m.%Y")
