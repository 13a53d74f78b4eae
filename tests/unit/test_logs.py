"""Structured logs: one JSON object a line outside development, with the trace of what is handled,
and no personal data in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from setka_runtime import logs
from setka_runtime.settings import ServiceSettings

from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the root logger writes after :func:`logs.configure`, restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(stream: io.StringIO, fmt: str) -> None:
    logs.configure("INFO", fmt=fmt, service="events")
    for handler in logging.getLogger().handlers:
        handler.setStream(stream)  # type: ignore[attr-defined]


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_service(captured: io.StringIO) -> None:
    configured(captured, "json")
    logging.getLogger("setka.test").warning("outbox: %d events not acknowledged", 3)
    (line,) = lines(captured)
    assert line["level"] == "WARNING" and line["logger"] == "setka.test" and line["service"] == "events"
    assert line["message"] == "outbox: 3 events not acknowledged"
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert "trace_id" not in line and "span_id" not in line


def test_a_line_written_while_a_traced_message_is_handled_has_its_trace_and_span(
    captured: io.StringIO,
) -> None:
    configured(captured, "json")
    with logs.traced(TRACEPARENT):
        logging.getLogger("setka.test").info("handled")
    with logs.traced("not-a-traceparent"):
        logging.getLogger("setka.test").info("untraced")
    logging.getLogger("setka.test").info("after")
    traced, invalid, after = lines(captured)
    assert traced["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert traced["span_id"] == "b7ad6b7169203331"
    assert "trace_id" not in invalid and "trace_id" not in after


def test_a_failure_is_one_valid_line_with_its_traceback(captured: io.StringIO) -> None:
    configured(captured, "json")
    try:
        raise ValueError('строка с "кавычками"\nи переносом')
    except ValueError:
        logging.getLogger("setka.test").exception("the gateway failed on a request")
    (line,) = lines(captured)
    assert line["level"] == "ERROR" and "ValueError" in line["exception"]


def test_no_e_mail_snils_or_sql_values_reach_a_line(captured: io.StringIO) -> None:
    configured(captured, "json")
    failure = (
        "(psycopg.errors.UniqueViolation) duplicate key value\n"
        "DETAIL:  Key (snils)=(Иванова Мария) already exists.\n"
        "[SQL: INSERT INTO educator (full_name, email) VALUES (%(full_name)s, %(email)s)]\n"
        "[parameters: {'full_name': 'Иванова Мария Петровна', 'email': 'm.ivanova@school39.ru'}]"
    )
    logging.getLogger("setka.test").warning("facts could not be stored: %s", failure)
    logging.getLogger("setka.test").warning("e-mail to m.ivanova@school39.ru, СНИЛС 112-233-445 95")
    text = captured.getvalue()
    for personal in ("Иванова", "ivanova", "112-233-445 95"):
        assert personal not in text
    first, second = lines(captured)
    assert "UniqueViolation" in first["message"] and "[parameters: hidden]" in first["message"]
    assert second["message"] == "e-mail to <e-mail>, СНИЛС <СНИЛС>"


def test_text_lines_in_development(captured: io.StringIO) -> None:
    configured(captured, "text")
    with logs.traced(TRACEPARENT):
        logging.getLogger("setka.test").info("to me@example.org")
    line = captured.getvalue().strip()
    assert "INFO    setka.test: to <e-mail>" in line and "0af7651916cd43dd8448eb211c80319c" in line


def test_json_unless_development_or_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.delenv("SETKA_ENV", raising=False)
    assert ServiceSettings().log_format == "json" and GatewaySettings().log_format == "json"
    monkeypatch.setenv("SETKA_ENV", "development")
    assert ServiceSettings().log_format == "text" and GatewaySettings().log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert ServiceSettings().log_format == "json" and GatewaySettings().log_format == "json"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.configure("INFO", fmt="xml")
