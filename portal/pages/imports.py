"""A regional admin loads a file of their region's organizations, educators, network memberships or
municipalities (CSV or XLSX) and reads the report line by line: what was taken, and each row that
was not, with its line number and why. A check without writing (dry run) comes first by default."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import signed_in
from ..gateway import GatewayError
from ..web import FormRefused, Portal

ORDER = 81
ADMINS = ("regional_admin",)
NAV: list[tuple[str, str, tuple[str, ...]]] = []
"""Reached from «Администрирование» (its own menu item is the admin's)."""

KINDS = {
    "organizations": "Организации",
    "educators": "Педагоги",
    "memberships": "Участие организаций в сетях",
    "municipalities": "Муниципальные образования",
}
"""What a file may hold (the API's ImportKind), as the page offers it."""
FILE = "file"


def routes(portal: Portal) -> list[Route]:
    limit = portal.settings.import_max_bytes

    def page(
        request: Request, status: int = 200, errors: dict[str, str] | None = None, **values: Any
    ) -> Response:
        values.setdefault("kind", "organizations")
        values.setdefault("dry_run", True)
        return portal.page(
            request,
            "admin_imports.html",
            status=status,
            kinds=KINDS,
            limit=limit,
            errors=errors or {},
            **values,
        )

    async def show(request: Request) -> Response:
        who = signed_in(portal, request, ADMINS)
        return who if isinstance(who, Response) else page(request)

    async def load(request: Request) -> Response:
        who = signed_in(portal, request, ADMINS)
        if isinstance(who, Response):
            return who
        _, token = who
        try:
            fields, files = await portal.upload(request, max_file_bytes=limit)
        except FormRefused as exc:
            return page(request, 400, problem=str(exc))
        kind = fields.get("kind", "")
        dry_run = fields.get("dryRun") == "on"
        errors: dict[str, str] = {}
        if kind not in KINDS:
            errors["kind"] = "Выберите, что в файле"
        upload = files.get(FILE)
        if upload is None or not upload.filename or not upload.content:
            errors[FILE] = "Выберите непустой файл CSV или XLSX"
        if errors or upload is None:
            return page(request, 400, errors, kind=kind, dry_run=dry_run)
        variables = {
            "kind": kind,
            "fileName": upload.filename,
            "contentBase64": base64.b64encode(upload.content).decode("ascii"),
            "dryRun": dry_run,
        }
        try:
            data = await portal.gateway.run("ImportFile", variables, token)
        except GatewayError as exc:
            if exc.status >= 500:
                return portal.failure(request, exc)
            return page(request, exc.status, kind=kind, dry_run=dry_run, problem=exc.message)
        result = data["importFile"]
        if result["__typename"] == "ValidationError":
            return page(request, 400, {FILE: result["message"]}, kind=kind, dry_run=dry_run)
        return page(request, kind=kind, dry_run=dry_run, report=result)

    return [
        Route("/admin/imports", show, methods=["GET"]),
        Route("/admin/imports", load, methods=["POST"]),
    ]
