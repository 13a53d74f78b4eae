import json
import uuid
from datetime import UTC, datetime

import pytest
from setka_contracts import (
    EVENT_TYPES,
    CloudEvent,
    EnvelopeError,
    as_sequence,
    decode_headers,
    json_schemas,
    parse,
    printable_header,
    sequence_of,
)
from setka_contracts.registry import OrganizationRegistered

pytestmark = pytest.mark.unit


def registered(**overrides: object) -> dict:
    data = {
        "organization_id": str(uuid.uuid4()),
        "full_name": "МБОУ СОШ № 1",
        "short_name": "СОШ № 1",
        "kind": "school",
        "region_code": "39",
        "registered_at": datetime.now(UTC).isoformat(),
    }
    data.update(overrides)
    return data


def test_binary_mode_round_trip_keeps_every_attribute() -> None:
    event = CloudEvent(type=OrganizationRegistered.event_type, source="/setka/registry", data=registered())
    headers = event.headers()
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    wire = [(name, value.encode()) for name, value in headers.items()]
    back = parse(decode_headers(wire), event.body())
    assert (back.id, back.type, back.source, back.data) == (event.id, event.type, event.source, event.data)
    assert back.time == event.time


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (
            {"ce_type": "x", "ce_source": "s", "ce_specversion": "1.0"},
            b"{}",
            "missing CloudEvents headers: ce_id",
        ),
        ({"ce_id": "1", "ce_type": "x", "ce_source": "s", "ce_specversion": "0.3"}, b"{}", "ce_specversion"),
        (
            {"ce_id": "1", "ce_type": "x", "ce_source": "s", "ce_specversion": "1.0"},
            b"{not json",
            "not valid JSON",
        ),
        ({"ce_id": "1", "ce_type": "x", "ce_source": "s", "ce_specversion": "1.0"}, b"[1]", "JSON object"),
        (
            {
                "ce_id": "1",
                "ce_type": "x",
                "ce_source": "s",
                "ce_specversion": "1.0",
                "content-type": "text/xml",
            },
            b"{}",
            "content-type",
        ),
        (
            {"ce_id": "1", "ce_type": "x", "ce_source": "s", "ce_specversion": "1.0", "ce_time": "yesterday"},
            b"{}",
            "ce_time",
        ),
    ],
)
def test_unreadable_envelopes_are_refused_with_the_reason(headers: dict, body: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse(headers, body)


def test_consumers_ignore_unknown_optional_fields() -> None:
    data = registered(some_future_field={"nested": True})
    model = OrganizationRegistered.model_validate(data)
    assert model.short_name == "СОШ № 1"
    assert "some_future_field" not in model.model_dump()


def test_the_key_is_the_aggregate_id() -> None:
    data = registered()
    assert OrganizationRegistered.model_validate(data).key() == data["organization_id"]


def test_every_event_type_is_versioned_and_has_a_json_schema() -> None:
    schemas = json_schemas()
    assert set(schemas) == set(EVENT_TYPES)
    for name, schema in schemas.items():
        assert name.startswith("setka.") and name.rsplit(".", 1)[1].startswith("v")
        assert schema["type"] == "object" and schema["required"]
        json.dumps(schema)


def _headers(**change: str) -> dict[str, str]:
    return {
        "ce_id": "fact-1",
        "ce_type": "setka.regional.assessment.published.v1",
        "ce_source": "/regional/rcoi",
        "ce_specversion": "1.0",
        "content-type": "application/json",
    } | change


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (_headers(), b'{"mean_score": NaN}', "NaN is not a JSON number"),
        (_headers(), b'{"mean_score": -Infinity}', "-Infinity is not a JSON number"),
        (_headers(), b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (_headers(), b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),
        (_headers(), b'{"a": 1, "a": 2}', "the key 'a' twice"),
        (_headers(), b'{"a": 1, "b": [{"c": 1, "d": 2, "c": 3}]}', "the key 'c' twice"),
        (_headers(), b"\xef\xbb\xbf\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),  # one is let through
        (_headers(), b'{"x": "' + b"a" * 1_100_000 + b'"}', "at most 1048576 bytes"),
        (_headers(), b"\xff\xfe{}", "not valid JSON"),
        (_headers(ce_id="x" * 201), b"{}", "ce_id must be 1 to 200"),
        (_headers(ce_id="has space"), b"{}", "ce_id must be"),
        (_headers(ce_source="/a\x00b"), b"{}", "ce_source must be"),
        (_headers(ce_type="кириллица"), b"{}", "ce_type must be"),
        (_headers(ce_time="2026-03-01T10:00:00"), b"{}", "with a UTC offset"),
        (_headers(ce_time="2026-03-01"), b"{}", "with a UTC offset"),
        (_headers(ce_time="вчера"), b"{}", "not an RFC 3339"),
        (_headers(x_trace="t" * 5000), b"{}", "longer than 4096 bytes"),
        ({**_headers(), **{f"h{n}": "v" for n in range(70)}}, b"{}", "at most 64"),
        ({**_headers(), "h" * 300: "v"}, b"{}", "header name is longer than 256 bytes"),
        (_headers(), b'{"mean_score": Infinity}', "Infinity is not a JSON number"),
        (_headers(), b'{"mean_score": 1e400}', "the number 1e400, too large for a 64-bit float"),
        (_headers(), b'{"participants": ' + b"9" * 5000 + b"}", "a number of more than 40 characters"),
        (_headers(), b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}", "nested too deeply; at most 32 levels"),
        (_headers(), b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (_headers(), b"[" * 1_000_000, "nested too deeply"),
        (_headers(), b'{"a": "\\ud800"}', "unpaired surrogate escape"),
        (_headers(), b'{"a": "\xed\xa0\x80"}', "not UTF-8 text"),
        (_headers(), '{"a": 1}'.encode("utf-16"), "not UTF-8 text"),
        (_headers(), None, "the message has no value"),
        (_headers(), b"", "not valid JSON"),
        (_headers(ce_id="a\u200bb"), b"{}", "ce_id must be 1 to 200 printable characters"),
        (_headers(ce_id="a\tb"), b"{}", "ce_id must be"),
        (_headers(ce_source="/regional/<rcoi>"), b"{}", "ce_source must be a URI reference"),
        (_headers(ce_source="/regional/рцои"), b"{}", "percent-encoded"),
        (_headers(ce_source="/" + "s" * 200), b"{}", "ce_source must be a URI reference of 1 to 200"),
        (_headers(ce_type="t" * 201), b"{}", "ce_type must be 1 to 200"),
        (_headers(ce_subject="a\x00b"), b"{}", "ce_subject must not contain control characters"),
        (_headers(ce_time="20260301T100000+0300"), b"{}", "RFC 3339 timestamp with a UTC offset"),
        (_headers(ce_time="2026-03-01 10:00:00+03:00"), b"{}", "RFC 3339 timestamp with a UTC offset"),
        (_headers(ce_time="9999-12-31T23:59:59-23:59"), b"{}", "ce_time is out of range"),
    ],
)
def test_everything_that_arrives_is_bounded_and_refused_with_a_reason(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse(headers, body)


def test_bodies_are_written_as_strict_json() -> None:
    event = CloudEvent(type="setka.test.v1", source="/test", data={"x": float("nan")})
    with pytest.raises(ValueError, match="not JSON compliant"):
        event.body()


def test_header_values_of_any_bytes_decode_without_raising() -> None:
    assert decode_headers([("ce_id", b"\xff\xfe"), ("empty", None), ("CE_TYPE", b"t")]) == {
        "ce_id": "\udcff\udcfe",
        "ce_type": "t",
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}",  # the object is level 1
        b'{"a": [' + b"[], " * 1000 + b"[]]}",
        b'\xef\xbb\xbf{"a": "\\ud83d\\ude00 \\u0441"}',
    ],
)
def test_what_is_within_the_bounds_is_read(body: bytes) -> None:
    assert isinstance(parse(_headers(ce_time="2026-03-12T18:05:00.123+03:00"), body).data, dict)


def test_ce_time_is_an_rfc_3339_time_with_an_offset() -> None:
    for text in ("2026-03-12T18:05:00+03:00", "2026-03-12T15:05:00Z", "2026-03-12T15:05:00.123456+00:00"):
        assert parse(_headers(ce_time=text), b"{}").time == datetime(2026, 3, 12, 15, 5, tzinfo=UTC).replace(
            microsecond=123456 if "." in text else 0
        )


def test_setkas_own_events_pass_its_own_envelope_checks() -> None:
    event = CloudEvent(
        type=OrganizationRegistered.event_type,
        source="/setka/registry",
        data=registered(),
        subject=str(uuid.uuid4()),
        time=datetime.now(UTC),
    )
    assert parse(event.headers(), event.body()).data == event.data


def test_nothing_but_envelope_errors_escapes_parse() -> None:
    weird: list[tuple[object, object]] = [
        ({}, b"{}"),
        ({"ce_id": 1, "ce_type": "t", "ce_source": "s", "ce_specversion": "1.0"}, b"{}"),
        (_headers(), "{}"),
        (_headers(), 12),
    ]
    for headers, body in weird:
        with pytest.raises(EnvelopeError):
            parse(headers, body)  # type: ignore[arg-type]


def test_header_names_and_values_of_any_kind_decode_without_raising() -> None:
    assert decode_headers([(b"CE_ID", bytearray(b"1")), ("x", memoryview(b"\xff")), (None, b"v")]) == {
        "ce_id": "1",
        "x": "\udcff",
    }


def wire(**change: bytes) -> list[tuple[str | bytes, bytes]]:
    """Valid headers as bytes on the wire, some of them replaced."""
    headers: list[tuple[str | bytes, bytes]] = [(name, value.encode()) for name, value in _headers().items()]
    return [(name, change.pop(str(name), value)) for name, value in headers] + list(change.items())


def test_ids_that_differ_only_in_bytes_that_are_not_utf8_stay_different() -> None:
    first = decode_headers(wire(ce_id=b"fact-\xff"))["ce_id"]
    second = decode_headers(wire(ce_id=b"fact-\xfe"))["ce_id"]
    assert first != second
    assert (first, second) == ("fact-\udcff", "fact-\udcfe")


@pytest.mark.parametrize(
    ("name", "raw", "where"),
    [
        ("ce_id", b"fac\xfft-1", "byte 0xff at 3"),
        ("ce_id", b"\xed\xa0\x80", "byte 0xed at 0"),  # an encoded surrogate is not UTF-8
        ("ce_type", b"setka.regional.assessment.published.v1\xc3", "byte 0xc3 at 38"),
        ("ce_source", b"/regional/\xd1\x80\xd1", "byte 0xd1 at 12"),
        ("ce_specversion", b"1.0\x80", "byte 0x80 at 3"),
        ("ce_time", b"2026-03-12T18:05:00+03:00\xff", "byte 0xff at 25"),
        ("ce_subject", "школа".encode() + b"\xfe", "byte 0xfe at 10"),
        ("ce_dataschema", b"\xff", "byte 0xff at 0"),
        ("content-type", b"application/json; charset=\xff", "byte 0xff at 26"),
    ],
)
def test_ce_headers_that_are_not_utf8_are_refused_with_the_header_and_the_byte(
    name: str, raw: bytes, where: str
) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse(decode_headers(wire(**{name: raw})), b"{}")
    assert str(caught.value) == f"header {name} is not valid UTF-8 ({where})"


def test_a_ce_header_name_that_is_not_utf8_is_refused() -> None:
    headers = decode_headers([*wire(), (b"CE_Extra\xff", b"1")])
    with pytest.raises(EnvelopeError) as caught:
        parse(headers, b"{}")
    assert str(caught.value) == "header name ce_extra\\xff is not valid UTF-8 (byte 0xff at 8)"


def test_other_headers_may_carry_any_bytes() -> None:
    headers = decode_headers([*wire(), ("x-origin", b"\xff\xfe"), (b"x-\xff", b"v")])
    assert parse(headers, b"{}").id == "fact-1"


def test_a_lone_surrogate_handed_over_as_text_is_refused_too() -> None:
    with pytest.raises(EnvelopeError, match=r"header ce_id is not valid UTF-8 \(character U\+D800 at 1\)"):
        parse(_headers(ce_id="a\ud800"), b"{}")


@pytest.mark.parametrize(
    "raw",
    [b"plain", "кириллица".encode(), b"\xff\xfe", b"a\xffb", b"\xed\xa0\x80", "ж".encode() + b"\xd0", b""],
)
def test_printable_header_shows_bytes_that_are_not_utf8_as_escapes(raw: bytes) -> None:
    decoded = decode_headers([("x", raw)])["x"]
    printable = printable_header(decoded)
    assert printable == raw.decode("utf-8", "backslashreplace")
    printable.encode("utf-8")  # valid text: can be written to a header, a database, JSON
    if raw.decode("utf-8", "replace") == raw.decode("utf-8", "ignore"):  # valid UTF-8: unchanged
        assert printable == decoded
    assert decoded.encode("utf-8", "surrogateescape") == raw  # nothing is lost by decoding


def test_printable_header_escapes_a_surrogate_that_was_not_a_byte() -> None:
    assert printable_header("a\ud800b") == "a\\ud800b"


def test_a_sequence_travels_as_ce_sequence_and_orders_as_text_and_as_a_number() -> None:
    positions = [1, 9, 10, 99, 100, 123_456_789_012]
    events = [
        CloudEvent(type="setka.test.v1", source="/setka/test", data={}, sequence=as_sequence(position))
        for position in positions
    ]
    read = [parse(event.headers(), event.body()) for event in events]
    assert [sequence_of(event) for event in read] == positions
    assert sorted(event.sequence or "" for event in read) == [event.sequence for event in read]


def test_an_event_without_a_sequence_of_setkas_digits_counts_as_older_than_any() -> None:
    assert sequence_of(parse(_headers(), b"{}")) == 0
    assert sequence_of(parse(_headers(ce_sequence="2026-03-12/7"), b"{}")) == 0
    with pytest.raises(EnvelopeError, match="ce_sequence must be"):
        parse(_headers(ce_sequence="a b"), b"{}")
