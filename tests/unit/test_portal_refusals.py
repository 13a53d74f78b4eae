"""Where the workspace puts what the API refused (by the field and the code it returns, in the
services' own Russian words), and how a list's file keeps a formula-like cell as text."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from portal.exports import Column, csv_file, xlsx_file
from portal.forms import WHOLE, Attempt, settle

pytestmark = pytest.mark.unit

INPUTS = ("name", "coordinatorId", "startsOn", "position")


def refused(data: Any, errors: list[dict[str, Any]], **kw: Any) -> Attempt:
    attempt = Attempt()
    assert settle(attempt, data, errors, inputs=INPUTS, **kw) is None
    return attempt


def invalid(field: str | None, code: str = "EMPTY", message: str = "Заполните это поле") -> dict[str, Any]:
    return {"m": {"__typename": "ValidationError", "field": field, "message": message, "code": code}}


def test_a_validation_error_is_put_at_the_input_it_names_in_the_services_words() -> None:
    assert refused(invalid("name"), []).errors == {"name": "Заполните это поле"}
    assert refused(invalid("input.coordinatorId"), []).errors == {"coordinatorId": "Заполните это поле"}
    assert refused(invalid("posts.0.position"), []).errors == {"position": "Заполните это поле"}


def test_an_input_the_form_lacks_goes_above_the_form_unless_its_code_names_one() -> None:
    assert refused(invalid("year"), []).errors == {WHOLE: "Заполните это поле"}
    closed = invalid(None, "NETWORK_CLOSED", "Сеть закрыта")
    assert refused(closed, []).errors == {WHOLE: "Сеть закрыта"}
    assert refused(closed, [], codes={"NETWORK_CLOSED": "startsOn"}).errors == {"startsOn": "Сеть закрыта"}


def test_a_query_refusal_and_a_value_graphql_could_not_take_go_to_their_input() -> None:
    query = {
        "message": "Неверная дата",
        "extensions": {"code": "BAD_USER_INPUT", "validationCode": "BAD_DATE", "field": "startsOn"},
    }
    attempt = refused(None, [query])
    assert attempt.errors == {"startsOn": "Неверная дата"} and attempt.status == 400
    coerced = {"message": "Variable '$i' has invalid value at .startsOn: Value cannot represent a Date"}
    assert refused(None, [coerced]).errors == {"startsOn": "Введите дату в виде ГГГГ-ММ-ДД"}
    missing = {"message": "Field 'name' of required type 'String!' was not provided."}
    assert refused(None, [missing]).errors == {"name": "Заполните это поле"}


def test_access_refusals_and_failures_go_above_the_form() -> None:
    attempt = refused(None, [{"message": "no", "extensions": {"code": "FORBIDDEN"}}])
    assert attempt.errors == {WHOLE: "Это вне ваших полномочий"} and attempt.status == 403
    broken = refused(None, [{"message": "boom", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
    assert set(broken.errors) == {WHOLE} and broken.status == 502
    assert refused(invalid("name"), [], at="hours-1").errors == {"hours-1": "Заполните это поле"}


def test_a_cell_that_begins_like_a_formula_stays_text_and_dates_are_dates() -> None:
    columns = (Column("Название", lambda r: r["t"]), Column("Дата", lambda r: r["d"]))
    rows = [{"t": t, "d": date(2026, 3, 5)} for t in ("=1+1", "+7 900", "-x", "@SUM(A1)", "Школа")]
    text = csv_file(columns, rows).decode("utf-8-sig").splitlines()
    assert text[0] == "Название;Дата"
    assert [line.split(";")[0] for line in text[1:]] == ["'=1+1", "'+7 900", "'-x", "'@SUM(A1)", "Школа"]
    assert text[1].endswith(";05.03.2026")
    sheet = load_workbook(io.BytesIO(xlsx_file("Список", columns, rows))).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells][:4] == ["=1+1", "+7 900", "-x", "@SUM(A1)"]
    assert all(c.data_type == "s" for c in cells) and cells[0].quotePrefix
    assert sheet["B2"].is_date and sheet["B2"].number_format == "DD.MM.YYYY"
