"""GraphiQL served by the gateway itself, so that it opens on a closed network.

The page at ``GET /graphql`` (a browser's, Accept: text/html) loads its files from the gateway
only, under ``/graphiql/<name>``: GraphiQL, React and ReactDOM as npm ships them for browsers, from
the packages pinned in tools/graphql/package.json and its package-lock.json (``make env`` runs
``npm ci`` there), and the gateway's own two files in gateway/static (the stylesheet and the script
that starts GraphiQL with its fetcher on the page's own URL; the page has no inline script). Only
the names of :data:`ASSETS` are served, each with its media type and a long cache when asked for by
its digest; nothing of the request reaches the filesystem. Where the npm files are absent (a
checkout without ``npm ci``) the page says GraphiQL is not installed.

The image has no node_modules: its build stage runs this file alone as a script,
``python graphiql.py fetch <dir>`` (``python -m gateway.graphiql fetch <dir>`` in a checkout). It
downloads the three npm tarballs of :data:`PACKAGES`, checks each against the integrity hash of the
lock (a unit test keeps :data:`PACKAGES` equal to tools/graphql/package-lock.json) and keeps only
the files of :data:`ASSETS`, 1.5 MB.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tools" / "graphql" / "node_modules"
STATIC = Path(__file__).resolve().parent / "static"
REGISTRY = "https://registry.npmjs.org"

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # GraphiQL's components set style attributes
        "img-src 'self' data:",
        "font-src 'self' data:",  # GraphiQL's stylesheet has its fonts inline
        "connect-src 'self'",  # the queries, and subscriptions over a WebSocket to the same host
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
"""The page's Content-Security-Policy: nothing but the gateway's own files and its own endpoint."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    """The npm tarball's hash as package-lock.json records it (``sha512-<base64>``)."""

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"


PACKAGES = {
    package.name: package
    for package in (
        Package(
            "graphiql",
            "3.9.0",
            "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
        ),
        Package(
            "react",
            "18.3.1",
            "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        ),
        Package(
            "react-dom",
            "18.3.1",
            "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        ),
    )
}
"""The npm packages GraphiQL's files come from, as tools/graphql/package-lock.json pins them."""


@dataclass(frozen=True)
class Asset:
    name: str
    """The last segment of its URL, ``/graphiql/<name>``."""
    media_type: str
    package: str | None
    """The npm package it comes from; None: the gateway's own file in gateway/static."""
    file: str
    """Its path inside the package (or gateway/static)."""


ASSETS = {
    asset.name: asset
    for asset in (
        Asset("graphiql.min.css", CSS, "graphiql", "graphiql.min.css"),
        Asset("setka-graphiql.css", CSS, None, "graphiql.css"),
        Asset("react.production.min.js", JS, "react", "umd/react.production.min.js"),
        Asset("react-dom.production.min.js", JS, "react-dom", "umd/react-dom.production.min.js"),
        Asset("graphiql.min.js", JS, "graphiql", "graphiql.min.js"),
        Asset("setka-graphiql.js", JS, None, "graphiql.js"),
    )
}
"""Everything served under /graphiql/, in the order the page loads it; any other name is a 404."""

PAGE = """<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL — шлюз Сетки</title>
<link rel="icon" href="data:,">
{styles}
{scripts}
</head>
<body>
<div id="graphiql">Загрузка GraphiQL…</div>
</body>
</html>
"""

NOT_INSTALLED = """<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<title>GraphiQL не установлен — шлюз Сетки</title>
</head>
<body>
<h1>GraphiQL не установлен</h1>
<p>Шлюз отдаёт GraphiQL, React и ReactDOM сам, без CDN, из пакетов npm каталога
<code>tools/graphql</code>, а их здесь нет. Установите их командой <code>make env</code>
(она выполняет <code>npm ci</code> в <code>tools/graphql</code>) и обновите страницу.</p>
<p>Запросы GraphQL шлюз принимает и без GraphiQL: POST <code>application/json</code> на этот же адрес.</p>
</body>
</html>
"""


class GraphiQL:
    """The page and its files. A file is read when first asked for and kept in memory (about
    1.5 MB in all) until it changes; whether the files are there is looked up on every page."""

    def __init__(self, node_modules: Path = NODE_MODULES, static: Path = STATIC) -> None:
        self.node_modules = node_modules
        self.static = static
        self._loaded: dict[str, tuple[tuple[int, int], bytes, str]] = {}

    def path(self, asset: Asset) -> Path:
        base = self.static if asset.package is None else self.node_modules / asset.package
        return base / asset.file

    def installed(self) -> bool:
        return all(self.path(asset).is_file() for asset in ASSETS.values())

    def load(self, asset: Asset) -> tuple[bytes, str] | None:
        """The file's content and digest; None when it is absent. Read again when it changes
        (``npm ci`` while the gateway runs)."""
        path = self.path(asset)
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._loaded.get(asset.name)
            if cached is None or cached[0] != stamp:
                body = path.read_bytes()
                self._loaded[asset.name] = (stamp, body, hashlib.sha256(body).hexdigest()[:20])
        except OSError:
            return None
        _, body, digest = self._loaded[asset.name]
        return body, digest

    def page(self) -> HTMLResponse:
        headers = {
            "cache-control": REVALIDATE,
            "content-security-policy": PAGE_POLICY,
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
        }
        loaded = {name: self.load(asset) for name, asset in ASSETS.items()}
        digests = {name: found[1] for name, found in loaded.items() if found is not None}
        if len(digests) < len(ASSETS):
            return HTMLResponse(NOT_INSTALLED, headers=headers)
        # relative to the page's /graphql: the same host, and the same prefix behind a proxy
        urls = {name: f"graphiql/{name}?v={digest}" for name, digest in digests.items()}
        styles = "\n".join(
            f'<link rel="stylesheet" href="{urls[name]}">'
            for name, asset in ASSETS.items()
            if asset.media_type == CSS
        )
        scripts = "\n".join(
            f'<script defer src="{urls[name]}"></script>'
            for name, asset in ASSETS.items()
            if asset.media_type == JS
        )
        return HTMLResponse(PAGE.format(styles=styles, scripts=scripts), headers=headers)

    async def asset(self, request: Request) -> Response:
        """``GET /graphiql/{name}``: one of :data:`ASSETS`, or 404."""
        asset = ASSETS.get(request.path_params.get("name", ""))
        loaded = self.load(asset) if asset is not None else None
        if asset is None or loaded is None:
            return PlainTextResponse("Not Found", 404)
        body, digest = loaded
        etag = f'"{digest}"'
        headers = {
            # the page asks for each file by its digest: that URL's content never changes
            "cache-control": LONG_CACHE if request.query_params.get("v") == digest else REVALIDATE,
            "etag": etag,
            "x-content-type-options": "nosniff",
        }
        if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=asset.media_type, headers=headers)


GRAPHIQL = GraphiQL()
"""The gateway's: tools/graphql/node_modules of this checkout (or of the image)."""


def fetch(into: Path) -> None:
    """The npm files of :data:`ASSETS` into ``<into>/<package>/<file>``, from the registry's
    tarballs of :data:`PACKAGES`, each checked against its integrity hash first."""
    for package in PACKAGES.values():
        algorithm, _, expected = package.integrity.partition("-")
        with urllib.request.urlopen(package.tarball, timeout=120) as answer:
            tarball = answer.read()
        if base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode() != expected:
            raise SystemExit(f"{package.tarball}: not the tarball the lock pins ({package.integrity})")
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for asset in ASSETS.values():
                if asset.package != package.name:
                    continue
                member = archive.extractfile(f"package/{asset.file}")
                if member is None:
                    raise SystemExit(f"{package.tarball} has no {asset.file}")
                target = into / package.name / asset.file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.read())
                print(f"{package.name}@{package.version}: {asset.file}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "fetch":
        raise SystemExit("usage: python -m gateway.graphiql fetch <directory>")
    fetch(Path(sys.argv[2]))
