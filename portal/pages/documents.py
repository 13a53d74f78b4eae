"""Documents: a file attached to an agreement, a regulating document or an activity, and a file
downloaded. The browser sends the file as a multipart form; the workspace sends it to the gateway
in base64 (``attachRegistryDocument``, ``attachEventsDocument``), which checks it by its content.
A download is the gateway's ``/documents/<service>/<id>`` asked with the person's token, at the
same path here, so a document's ``downloadUrl`` is its link in the workspace too.

Also a network's regulating documents with their files (``/networks/{id}/regulations``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..gateway import GatewayError
from ..web import FileTooLarge, FormRefused, Portal

MAX_FILE_BYTES = 20 * 1024 * 1024
"""The services' default DOCUMENTS_MAX_BYTES (20 MB); the service says precisely what is too large."""
SERVICES = ("registry", "events")


@dataclass(frozen=True)
class Owner:
    operation: str
    field: str
    what: str
    """«договору», as in «Файл к договору»."""


OWNERS = {
    "agreement": Owner("AttachRegistryDocument", "attachRegistryDocument", "договору"),
    "regulation": Owner("AttachRegistryDocument", "attachRegistryDocument", "документу"),
    "activity": Owner("AttachEventsDocument", "attachEventsDocument", "мероприятию"),
    "meeting": Owner("AttachEventsDocument", "attachEventsDocument", "заседанию"),
}


def safe_back(value: str | None) -> str:
    """A path of the workspace to return to; anything else is the start page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} МБ".replace(".", ",")
    return f"{max(1, size // 1024)} КБ"


def routes(portal: Portal) -> list[Route]:
    def form_page(request: Request, values: dict[str, str], error: dict[str, str] | None = None) -> Response:
        kind = request.path_params["kind"]
        return portal.page(
            request,
            "documents_attach.html",
            status=400 if error else 200,
            owner=OWNERS[kind],
            action=request.url.path,
            values=values,
            error=error or {},
            back=safe_back(values.get("back")),
        )

    async def attach_form(request: Request) -> Response:
        if request.path_params["kind"] not in OWNERS:
            return portal.page(request, "error.html", status=404, message="К этому файлы не прикрепляются")
        if portal.person(request) is None:
            return portal.page(request, "error.html", status=401, message="Войдите, чтобы прикрепить файл")
        values = {k: request.query_params.get(k, "") for k in ("back", "name")}
        return form_page(request, values)

    async def attach(request: Request) -> Response:
        kind = request.path_params["kind"]
        owner = OWNERS.get(kind)
        if owner is None:
            return portal.page(request, "error.html", status=404, message="К этому файлы не прикрепляются")
        try:
            fields, files = await portal.upload(request, max_file_bytes=MAX_FILE_BYTES)
        except FileTooLarge as exc:
            return portal.page(request, "error.html", status=413, message=str(exc))
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        values = {name: fields.get(name, "").strip() for name in ("back", "name", "title")}
        upload = files.get("file")
        file_name, content = (upload.filename, upload.content) if upload is not None else (None, b"")
        if not file_name:
            return form_page(request, values, {"file": "Выберите файл"})
        variables: dict[str, Any] = {
            "input": {
                "ownerKind": kind,
                "ownerId": request.path_params["owner_id"],
                "fileName": file_name,
                "contentBase64": base64.b64encode(content).decode("ascii"),
                "title": values["title"] or None,
            }
        }
        try:
            data = await portal.gateway.run(owner.operation, variables, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        result = data[owner.field]
        if result["__typename"] == "ValidationError":
            field = "title" if result.get("field") == "title" else "file"
            return form_page(request, values, {field: result["message"]})
        session = portal.sessions.ensure(request)
        session.flash = f"Файл «{result['fileName']}» ({size_text(result['size'])}) прикреплён"
        return portal.sessions.keep(RedirectResponse(safe_back(values["back"]), 303), session)

    async def download(request: Request) -> Response:
        service = request.path_params["service"]
        if service not in SERVICES:
            return portal.page(request, "error.html", status=404, message="Документ не найден")
        path = f"/documents/{service}/{request.path_params['document_id']}"
        try:
            reply = await portal.gateway.report(path, {}, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        if reply.status_code != 200:
            message = {
                401: "Войдите, чтобы скачать этот документ",
                403: "Этот документ вам недоступен",
                404: "Документ не найден",
            }.get(reply.status_code, "Документ сейчас не получить; попробуйте позже")
            return portal.page(request, "error.html", status=reply.status_code, message=message)
        kept = ("content-type", "content-disposition", "content-length", "x-content-type-options")
        headers = {k: v for k, v in reply.headers.items() if k in kept}
        headers["cache-control"] = "private, no-store"
        return Response(reply.content, headers=headers)

    async def network_regulations(request: Request) -> Response:
        network_id = request.path_params["network_id"]
        variables = {"networkId": network_id, "first": 50, "after": request.query_params.get("after")}
        try:
            data = await portal.gateway.run("NetworkRegulations", variables, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        person = portal.person(request)
        return portal.page(
            request,
            "documents_regulations.html",
            network_id=network_id,
            rows=[e["node"] for e in data["regulations"]["edges"]],
            more=data["regulations"]["pageInfo"],
            may_attach=person is not None and person.has("regional_admin", "municipal_coordinator"),
            here=request.url.path,
            attach_query=lambda back, name: urlencode({"back": back, "name": name}),
            size=size_text,
        )

    return [
        Route("/documents/attach/{kind}/{owner_id}", attach_form, methods=["GET"]),
        Route("/documents/attach/{kind}/{owner_id}", attach, methods=["POST"]),
        Route("/documents/{service}/{document_id}", download, methods=["GET"]),
        Route("/networks/{network_id}/regulations", network_regulations, methods=["GET"]),
    ]
