"""GraphiQL at the gateway: every file of its page comes from the gateway itself (no CDN), from a
fixed list of names, with its media type and a long cache; the npm pins are the lock's."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from gateway import graphiql
from gateway.app import create_app
from gateway.graphiql import ASSETS, GRAPHIQL, PACKAGES, GraphiQL
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "graphql"
UNREACHABLE = {
    "registry_url": "http://127.0.0.1:9/graphql",
    "events_url": "http://127.0.0.1:9/graphql",
    "analytics_url": "http://127.0.0.1:9/graphql",
}
PRODUCTION = {"environment": "production", "jwt_secret": "s" * 40, "internal_token_secret": "i" * 40}
BASE = "http://gateway"
installed = pytest.mark.skipif(
    not GRAPHIQL.installed(),
    reason="GraphiQL's npm files are absent: tools/graphql/node_modules is installed by make env (npm ci)",
)


class References(HTMLParser):
    """Every URL a page loads (src, href) and whether it has a script of its own inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name] or "")
        if tag == "script":
            self._in_script = True
            self.inline_script |= not values.get("src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        self.inline_script |= self._in_script and bool(data.strip())


@contextlib.asynccontextmanager
async def gateway(settings: dict[str, Any] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(**UNREACHABLE, **(settings or {})))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def references(page: str) -> References:
    parser = References()
    parser.feed(page)
    return parser


async def test_the_page_loads_nothing_from_another_origin_and_has_no_inline_script() -> None:
    async with gateway() as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    found = references(page.text)
    assert not found.inline_script
    for url in found.urls:  # relative to /graphql, or data: (the empty icon)
        assert url.startswith("data:") or urlsplit(urljoin(f"{BASE}/graphql", url)).netloc == "gateway", url
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "шлюз Сетки</title>" in page.text and 'lang="ru"' in page.text


@installed
async def test_each_file_of_the_page_answers_with_its_media_type_and_a_long_cache() -> None:
    async with gateway() as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        found = references(page.text).urls
        urls = [urljoin(f"{BASE}/graphql", url) for url in found if not url.startswith("data:")]
        assert sorted(urlsplit(url).path.removeprefix("/graphiql/") for url in urls) == sorted(ASSETS)
        media = {".js": "text/javascript", ".css": "text/css"}
        for url in urls:
            answer = await client.get(url)
            assert answer.status_code == 200, url
            assert answer.headers["content-type"].split(";")[0] == media[Path(urlsplit(url).path).suffix], url
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert len(answer.content) > 100
            again = await client.get(url, headers={"if-none-match": answer.headers["etag"]})
            assert again.status_code == 304 and not again.content
        # asked for without its digest (or with an old one), a file is revalidated, not kept a year
        old = await client.get("/graphiql/graphiql.min.js?v=old")
        assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"


async def test_a_name_outside_the_list_is_404() -> None:
    async with gateway() as client:
        for path in (
            "/graphiql/",
            "/graphiql/package.json",
            "/graphiql/graphiql.min.js.map",
            "/graphiql/graphiql.js",
            "/graphiql/react/umd/react.production.min.js",
            "/graphiql/..%2Fhttp.py",
            "/graphiql/%2e%2e%2F%2e%2e%2Fpyproject.toml",
            "/graphiql/setka-graphiql.js%00",
        ):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/plain"), path


async def test_with_graphiql_off_no_file_is_served() -> None:
    async with gateway() as client:
        assert (await client.get("/graphiql/setka-graphiql.js")).status_code == 200  # the gateway's own
    async with gateway(PRODUCTION) as client:
        assert (await client.get("/graphiql/setka-graphiql.js")).status_code == 404


def test_without_the_npm_files_the_page_says_graphiql_is_not_installed(tmp_path: Path) -> None:
    bare = GraphiQL(node_modules=tmp_path / "node_modules")
    assert not bare.installed()
    page = bare.page()
    assert page.status_code == 200
    text = bytes(page.body).decode()
    assert "GraphiQL не установлен" in text and "make env" in text
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert bare.load(ASSETS["graphiql.min.js"]) is None
    assert bare.load(ASSETS["setka-graphiql.js"]) is not None


def test_the_pinned_packages_are_those_of_tools_graphql_and_its_lock() -> None:
    manifest = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((TOOLS / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    assert {asset.package for asset in ASSETS.values()} - {None} == set(PACKAGES)
    for name, package in PACKAGES.items():
        assert manifest["dependencies"][name] == package.version  # exact, as --save-exact writes it
        locked = lock[f"node_modules/{name}"]
        assert (locked["version"], locked["integrity"]) == (package.version, package.integrity), name


def test_the_image_fetch_keeps_only_the_listed_files_of_tarballs_that_match_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def tarball(name: str) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            files = [asset.file for asset in ASSETS.values() if asset.package == name] + ["package.json"]
            for file in files:
                content = f"{name}/{file}".encode()
                info = tarfile.TarInfo(f"package/{file}")
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
        return buffer.getvalue()

    tarballs = {package.tarball: tarball(name) for name, package in PACKAGES.items()}
    monkeypatch.setattr(graphiql.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(tarballs[url]))
    matching = {
        name: graphiql.Package(
            name,
            package.version,
            "sha512-" + base64.b64encode(hashlib.sha512(tarballs[package.tarball]).digest()).decode(),
        )
        for name, package in PACKAGES.items()
    }
    monkeypatch.setattr(graphiql, "PACKAGES", matching)
    graphiql.fetch(tmp_path / "ok")
    fetched = sorted(str(path.relative_to(tmp_path / "ok")) for path in (tmp_path / "ok").rglob("*.*"))
    assert fetched == sorted(f"{a.package}/{a.file}" for a in ASSETS.values() if a.package)
    assert (tmp_path / "ok" / "react" / "umd" / "react.production.min.js").read_text() == (
        "react/umd/react.production.min.js"
    )

    monkeypatch.setattr(graphiql, "PACKAGES", PACKAGES)  # the real hashes: these tarballs are not them
    with pytest.raises(SystemExit, match="not the tarball"):
        graphiql.fetch(tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
