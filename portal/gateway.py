"""The workspace's only way to data: the public gateway, with the person's own token.

Every operation is a file ``operations/<Name>.graphql`` holding one named operation (the tests
check each against ``supergraph.graphql``); pages ask for it by name. A GraphQL error the API
reports about an input field (a ValidationError in a mutation's result, or ``BAD_USER_INPUT`` with
``extensions.field`` and ``validationCode``) is shown at that field in the service's own Russian
words (:func:`portal.forms.settle`); access refusals and unavailable services become the page's
own message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

OPERATIONS = Path(__file__).parent / "operations"


@cache
def operation(name: str) -> str:
    path = OPERATIONS / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no operation {name}")
    return path.read_text(encoding="utf-8")


def document_id(name: str) -> str:
    """The operation's id as a trusted document: the sha256 of its text."""
    return hashlib.sha256(operation(name).encode()).hexdigest()


@dataclass
class GatewayError(Exception):
    """The gateway refused or failed; ``message`` is for the person (Russian)."""

    message: str
    code: str | None = None
    status: int = 502

    def __str__(self) -> str:
        return self.message


MESSAGES = {
    "UNAUTHENTICATED": ("Войдите, чтобы увидеть это", 401),
    "FORBIDDEN": ("Это вне ваших полномочий", 403),
    "RATE_LIMITED": ("Слишком много запросов; подождите минуту", 429),
    "COST_BUDGET_EXCEEDED": ("Слишком много тяжёлых запросов; подождите минуту", 429),
    "SUBGRAPH_UNAVAILABLE": ("Одна из служб Setka сейчас недоступна; попробуйте позже", 503),
    "NOT_FOUND": ("Не найдено", 404),
}


class Gateway:
    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.url = base_url.rstrip("/")
        self.http = http

    async def run(self, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The data of operation ``name``; :class:`GatewayError` if the gateway refused it or any
        part failed."""
        data, errors = await self.ask(name, variables, token)
        if errors:
            raise _error(errors[0])
        return data

    async def ask(
        self, name: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        """The data and the errors of operation ``name`` (a partial answer keeps its data)."""
        headers = {"accept": "application/graphql-response+json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        body = {"query": operation(name), "operationName": name, "variables": variables or {}}
        try:
            reply = await self.http.post(f"{self.url}/graphql", json=body, headers=headers)
            answer = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GatewayError("Setka сейчас недоступна; попробуйте позже", "UNAVAILABLE", 503) from exc
        if not isinstance(answer, dict):
            raise GatewayError("Setka ответила непонятно", "UNAVAILABLE", 502)
        return answer.get("data"), list(answer.get("errors") or [])

    async def report(self, path: str, params: dict[str, str], token: str | None) -> httpx.Response:
        """A report file (``/reports/analysis.xlsx`` and the like), as the gateway answers it."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            return await self.http.get(f"{self.url}{path}", params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise GatewayError("Setka сейчас недоступна; попробуйте позже", "UNAVAILABLE", 503) from exc


def _error(error: dict[str, Any]) -> GatewayError:
    extensions = error.get("extensions") or {}
    code = extensions.get("code")
    message, status = MESSAGES.get(code, (f"Ошибка: {error.get('message', 'неизвестная')}", 502))
    if extensions.get("validationCode"):  # a rule of a service: its own Russian words
        message, status = str(error.get("message") or "Неверные данные"), 400
    elif code == "BAD_USER_INPUT" or (code is None and "invalid value" in str(error.get("message"))):
        message, status = "Setka не приняла эти данные; проверьте адрес страницы", 400
    return GatewayError(message, code, status)
