"""The workspace in a browser (issue 17, "Done when"): Debian's Chromium driven by Playwright.

A stack of its own (real processes, SQLite, the demo data) with the workspace; an OpenID provider
run by the test (``tools/oidc/provider.mjs``, oidc-provider) with one client, the workspace, and an
account of each role; the gateway trusts only that provider's keys (``GATEWAY_JWT_JWKS_URL``, its
issuer and the audience it requires). Everyone signs in on the provider's form, typed with the
keyboard; axe-core checks every page visited (no serious or critical violation).

Each role does its main work by filling and submitting the pages' forms: a coordinator drafts a
plan (with the keyboard only), adds an item (first refused by the API: its message stands at the
input, what was entered stays), agrees the plan, plans an activity from the item and announces
it; a school's representative registers the school and one of its educators, and once the
coordinator has marked the activity held, records their attendance on the sign-in sheet. The
regional admin checks a file (its bad row's line in the report) and reads the dead letters; the
coordinator schedules a meeting, opens its documents' upload form, the network's regulations and
the notifications (their settings saved with the keyboard), and corrects the network's details
with the keyboard only, refused by the API with its message at the field. Each role signs in once
(``people_signed_in``): the later tests take the browser it signed in with.

Screenshots of the main pages at desktop and phone widths are taken each run; with
``SETKA_UPDATE_SCREENSHOTS=1`` they are written to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from setka_runtime.local_broker import free_port

from deploy.local_stack import Stack
from portal.forms import zone_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "oidc"
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_ENV = {"LANGUAGE": "ru"}
"""The browser's own words (a file input's, a date's format) in Russian, as a person here has them
(with Debian's chromium-l10n; without it they stay English)."""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AUDIENCE = "urn:setka:gateway"
CLIENT_ID = "setka-workspace"
REGION = "39"
PUBLIC_PAGES = ("/", "/organizations", "/networks")
SERIOUS = ("serious", "critical")

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
  }));
}"""

DUPLICATE_IDS = """() => {
  const seen = {};
  for (const e of document.querySelectorAll('[id]')) seen[e.id] = (seen[e.id] || 0) + 1;
  return Object.keys(seen).filter(id => seen[id] > 1);
}"""


# -- the OpenID provider -----------------------------------------------------------------------


@dataclass
class Account:
    key: str
    name: str
    claims: dict[str, Any]
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def login(self) -> str:
        return self.key

    def as_config(self) -> dict[str, Any]:
        return {"login": self.login, "password": self.password, "name": self.name, "claims": self.claims}


class OpenIdProvider:
    """``node tools/oidc/provider.mjs``: issuer ``http://127.0.0.1:<port>``, keys at ``/jwks``."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.client_secret = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workspace_url: str, accounts: list[Account]) -> None:
        node = shutil.which("node")
        if node is None or not (TOOLS / "node_modules" / "oidc-provider").is_dir():
            pytest.fail("node and tools/oidc/node_modules are needed: run `make env`")
        config = {
            "issuer": self.issuer,
            "port": self.port,
            "audience": AUDIENCE,
            "client": {
                "client_id": CLIENT_ID,
                "client_secret": self.client_secret,
                "redirect_uris": [f"{workspace_url}auth/callback"],
                "post_logout_redirect_uris": [workspace_url],
            },
            "accounts": [account.as_config() for account in accounts],
        }
        path = self.directory / "oidc-provider.json"
        path.write_text(json.dumps(config, ensure_ascii=False))
        path.chmod(0o600)
        self.process = subprocess.Popen(
            [node, str(TOOLS / "provider.mjs"), str(path)],
            cwd=TOOLS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                if line.startswith("ready "):
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(20):
            self.stop()
            pytest.fail("the OpenID provider did not start:\n" + "\n".join(self.output))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- the stack -----------------------------------------------------------------------------------


@dataclass
class Workspace:
    stack: Stack
    provider: OpenIdProvider
    accounts: dict[str, Account]
    network: dict[str, Any]
    """A municipal network of region 39 with its supported schools (the coordinator's)."""
    school: dict[str, Any]
    """The school representative's school (a member of ``network``)."""
    host: dict[str, Any]
    """Another member of ``network`` (a centre or a partner): it hosts the activities planned here."""

    @property
    def url(self) -> str:
        return self.stack.workspace_url.rstrip("/")


DEMO_PEOPLE = """{ networks(regionCode: "39", first: 20) { edges { node {
  id name level municipalityId members { role organization { id shortName } } } } } }"""


def supported(network: dict[str, Any]) -> list[dict[str, Any]]:
    return [m["organization"] for m in network["members"] if m["role"] == "supported"]


def wait_for_demo(gateway_url: str, timeout: float = 150.0) -> dict[str, Any]:
    """A municipal network of region 39 with supported schools, once the demo data has arrived,
    and the events service has its activities."""
    deadline = time.monotonic() + timeout
    last: Any = None
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                body = client.post(gateway_url, json={"query": DEMO_PEOPLE}).json()
                networks = [e["node"] for e in body["data"]["networks"]["edges"]]
                found = next((n for n in networks if n["municipalityId"] and supported(n)), None)
                activities = client.post(
                    gateway_url, json={"query": "{ activities(first: 1) { edges { node { id } } } }"}
                ).json()
                if found and activities["data"]["activities"]["edges"]:
                    return found
                last = body
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                last = exc
            time.sleep(0.5)
    raise AssertionError(f"the demo data did not arrive within {timeout}s: {last!r}")


def people(network: dict[str, Any], school: dict[str, Any]) -> list[Account]:
    """An account of each role, scoped as the demo sign-in's people are."""
    return [
        Account("admin", "Администратор региона 39", {"roles": ["regional_admin"], "region": REGION}),
        Account(
            "coordinator",
            f"Координатор сети «{network['name']}»",
            {"roles": ["municipal_coordinator"], "region": REGION, "municipality": network["municipalityId"]},
        ),
        Account(
            "school",
            f"Представитель школы «{school['shortName']}»",
            {"roles": ["school_representative"], "region": REGION, "org": school["id"]},
        ),
        Account("expert", "Методист КРИПКРО (регион 39)", {"roles": ["expert"], "region": REGION}),
        Account("viewer", "Наблюдатель (регион 39)", {"roles": ["viewer"], "region": REGION}),
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    directory = tmp_path_factory.mktemp("workspace")
    unset = (
        "KAFKA_BOOTSTRAP_SERVERS",
        "REGISTRY_DATABASE_URL",
        "EVENTS_DATABASE_URL",
        "ANALYTICS_DATABASE_URL",
        "GATEWAY_JWT_ALGORITHMS",
        "GATEWAY_JWT_ALGORITHM",
        "GATEWAY_JWT_ROLES_CLAIM",
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in unset:
            patch.delenv(name, raising=False)
        ports = {
            name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway", "portal")
        }
        provider = OpenIdProvider(free_port(), directory)
        env = {
            # the gateway trusts the provider's keys only (development allows them over http)
            "GATEWAY_ENVIRONMENT": "development",
            "GATEWAY_JWT_JWKS_URL": f"{provider.issuer}/jwks",
            "GATEWAY_JWT_ISSUER": provider.issuer,
            "GATEWAY_JWT_AUDIENCE": AUDIENCE,
            "PORTAL_OIDC_ISSUER": provider.issuer,
            "PORTAL_OIDC_CLIENT_ID": CLIENT_ID,
            "PORTAL_OIDC_CLIENT_SECRET": provider.client_secret,
            "PORTAL_DEMO_SIGN_IN": "false",
        }
        stack = Stack(var_dir=directory / "var", ports=ports, env=env, seed_demo=True, echo=False)
        try:
            stack.start()
            network = wait_for_demo(stack.gateway_url)
            school = supported(network)[0]
            host = next(
                m["organization"]
                for m in network["members"]
                if m["role"] in ("centre", "partner") and m["organization"]["id"] != school["id"]
            )
            accounts = people(network, school)
            provider.start(stack.workspace_url, accounts)
            yield Workspace(stack, provider, {a.key: a for a in accounts}, network, school, host)
        finally:
            provider.stop()
            stack.stop()


# -- the browser ---------------------------------------------------------------------------------


@dataclass
class Audit:
    """What axe-core found on every page visited (all impacts; serious and critical fail)."""

    pages: int = 0
    violations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, url: str, found: list[dict[str, Any]]) -> None:
        self.pages += 1
        for violation in found:
            seen = self.violations.setdefault(violation["id"], {**violation, "pages": []})
            seen["pages"].append(url)

    def summary(self) -> str:
        lines = [f"axe-core: {self.pages} pages checked"]
        for rule, seen in sorted(self.violations.items()):
            lines.append(f"  {seen['impact']}: {rule} ({seen['help']}) on {len(seen['pages'])} page(s)")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def audit() -> Iterator[Audit]:
    found = Audit()
    yield found
    print("\n" + found.summary())


@pytest.fixture(scope="module")
def chromium(workspace: Workspace) -> Iterator[Any]:
    """The browser, started after the stack and stopped before it: Playwright's synchronous API
    keeps an event loop running in this thread, where the stack's own ``asyncio.run`` cannot."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/ensure-chromium.sh installs it (make test)")
    if not AXE.exists():
        pytest.fail("tools/oidc/node_modules/axe-core is missing: run `make env`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, **CHROMIUM_ENV}
        )
        try:
            yield browser
        finally:
            browser.close()


class Browser:
    """One person's browser (its own cookies): every page it lands on is checked by axe-core."""

    def __init__(self, chromium: Any, workspace: Workspace, audit: Audit, tmp: Path) -> None:
        self.workspace = workspace
        self.audit = audit
        self.tmp = tmp
        self.context = chromium.new_context(
            bypass_csp=True, viewport=DESKTOP, locale="ru-RU", accept_downloads=True
        )
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()

    def close(self) -> None:
        self.context.close()

    def url(self, path: str) -> str:
        return f"{self.workspace.url}{path}"

    def open(self, path: str, *, expect: int | None = 200) -> Any:
        response = self.page.goto(self.url(path) if path.startswith("/") else path)
        assert response is not None
        if expect is not None:
            assert response.status == expect, f"{path}: {response.status}\n{self.text()[:500]}"
        self.check()
        return response

    def check(self) -> None:
        """axe-core on the page shown: no serious or critical violation."""
        self.page.wait_for_load_state("load")
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate(AXE_RUN)
        where = urlsplit(self.page.url)
        self.audit.add(f"{where.path}?{where.query}" if where.query else where.path, found)
        bad = [v for v in found if v["impact"] in SERIOUS]
        assert not bad, f"axe-core on {self.page.url}:\n" + json.dumps(bad, ensure_ascii=False, indent=1)
        # a label, an error's aria-describedby and the error summary's links find their input by
        # its id: each id once on a page
        twice = self.page.evaluate(DUPLICATE_IDS)
        assert not twice, f"{self.page.url}: ids used more than once: {twice}"

    def send(self, press: Callable[[], None]) -> int:
        """Submit a form (``press`` clicks its button or presses Enter): the status of the page it
        leads to (after a redirect, the page redirected to), checked by axe-core."""
        with self.page.expect_navigation() as shown:
            press()
        self.check()
        response = shown.value
        assert response is not None
        return response.status

    def flash(self) -> str:
        """What the page says was done (the message after a change)."""
        return self.page.locator("main p.flash").inner_text()

    def value(self, selector: str) -> str:
        return self.page.locator(selector).input_value()

    def text(self) -> str:
        return self.page.inner_text("body")

    def main_text(self) -> str:
        return self.page.inner_text("main")

    def focused(self) -> dict[str, str]:
        return self.page.evaluate(
            "() => { const e = document.activeElement; return {tag: e.tagName.toLowerCase(),"
            " id: e.id || '', name: e.getAttribute('name') || '', type: e.getAttribute('type') || '',"
            " text: (e.innerText || e.value || '').trim()}; }"
        )

    def tab_to(self, wanted: Callable[[dict[str, str]], bool], *, limit: int = 60) -> dict[str, str]:
        """Press Tab until the focused element is the one wanted."""
        seen = []
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            now = self.focused()
            if wanted(now):
                return now
            seen.append(now)
        raise AssertionError(f"not reached with Tab; focused in turn: {seen}")

    # -- signing in and out, with the keyboard only ----------------------------------------------

    def sign_in(self, account: Account) -> None:
        """From the start page: Tab to «Войти», Enter; on the provider's form type the login, Tab,
        the password, Enter; back on the workspace, signed in."""
        self.open("/")
        self.tab_to(lambda e: e["tag"] == "a" and e["text"] == "Войти")
        self.page.keyboard.press("Enter")
        self.login_form()
        if self.focused()["id"] != "login":
            self.tab_to(lambda e: e["id"] == "login")
        self.page.keyboard.type(account.login)
        self.page.keyboard.press("Tab")
        assert self.focused()["id"] == "password"
        self.page.keyboard.type(account.password)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(f"{self.workspace.url}/**")
        self.check()
        assert f"Вы вошли как {account.name}" in self.main_text()
        assert account.name in self.page.inner_text("header")

    def login_form(self) -> None:
        """The provider's sign-in form is shown (not the workspace, not an error)."""
        self.page.wait_for_url(f"{self.workspace.provider.issuer}/interaction/**")
        self.check()
        assert self.page.locator("input#login").is_visible()
        assert self.page.locator("input#password").is_visible()

    def sign_out(self) -> None:
        """Tab to «Выйти» in the header, Enter; the provider asks to confirm (Enter on its «Выйти»,
        which has the focus); back on the workspace, signed out."""
        self.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Выйти")
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(f"{self.workspace.provider.issuer}/session/end**")
        self.check()
        assert self.focused()["text"] == "Выйти"
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(f"{self.workspace.url}/")
        self.check()
        assert self.page.get_by_role("link", name="Войти").is_visible()

    def fits_a_phone(self) -> None:
        """The page shown is no wider than a phone's screen (its wide tables scroll in their box)."""
        self.page.set_viewport_size(PHONE)
        try:
            width = self.page.evaluate("document.documentElement.scrollWidth")
        finally:
            self.page.set_viewport_size(DESKTOP)
        assert width <= PHONE["width"] + 1, f"{self.page.url} is {width}px wide on a phone"

    # -- screenshots -------------------------------------------------------------------------------

    def screenshots(self, name: str) -> list[Path]:
        """The page at desktop and phone widths, as small palette PNGs; the page must not be
        wider than the phone's screen."""
        from PIL import Image

        taken = []
        for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            if width == "phone":
                overflow = self.page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= PHONE["width"] + 1, f"{name} is {overflow}px wide on a phone"
            shot = Image.open(io.BytesIO(self.page.screenshot()))
            path = self.tmp / f"{name}-{width}.png"
            shot.convert("RGB").quantize(colors=64).save(path, optimize=True)
            taken.append(path)
        self.page.set_viewport_size(DESKTOP)
        if os.environ.get("SETKA_UPDATE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for path in taken:
                shutil.copyfile(path, SCREENSHOTS / path.name)
        return taken


@pytest.fixture
def browser(
    chromium: Any, workspace: Workspace, audit: Audit, tmp_path: Path
) -> Iterator[Callable[[], Browser]]:
    opened: list[Browser] = []

    def new() -> Browser:
        opened.append(Browser(chromium, workspace, audit, tmp_path))
        return opened[-1]

    yield new
    for each in opened:
        each.close()


class People:
    """One signed-in browser of each role, kept for the module: the tests that only visit pages as
    a role take the browser that role signed in with, rather than signing in again."""

    def __init__(self, chromium: Any, workspace: Workspace, audit: Audit, tmp: Path) -> None:
        self.chromium, self.workspace, self.audit, self.tmp = chromium, workspace, audit, tmp
        self.kept: dict[str, Browser] = {}

    def sign_in(self, key: str) -> Browser:
        """A new browser, signed in now as ``key`` (with the keyboard), and kept."""
        person = Browser(self.chromium, self.workspace, self.audit, self.tmp)
        person.sign_in(self.workspace.accounts[key])
        if key in self.kept:
            self.kept[key].close()
        self.kept[key] = person
        return person

    def __call__(self, key: str) -> Browser:
        """The browser kept for ``key`` (signed in first when there is none)."""
        return self.kept[key] if key in self.kept else self.sign_in(key)

    def close(self) -> None:
        for person in self.kept.values():
            person.close()


@pytest.fixture(scope="module")
def people_signed_in(
    chromium: Any, workspace: Workspace, audit: Audit, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[People]:
    kept = People(chromium, workspace, audit, tmp_path_factory.mktemp("people"))
    yield kept
    kept.close()


def nav_links(browser: Browser) -> list[str]:
    return browser.page.eval_on_selector_all(
        "header nav a", "links => links.map(a => new URL(a.href).pathname)"
    )


def educator_names() -> set[str]:
    """Every demo educator's full name (personal data)."""
    from services.registry.demo.dataset import generate

    return {educator.full_name for educator in generate().educators}


def asked_to_sign_in(browser: Browser) -> bool:
    """The page's content (not the header's button) asks the visitor to sign in."""
    main = browser.page.locator("main")
    return main.get_by_role("link", name="Войти").count() > 0 or "войдите" in browser.main_text().lower()


ENTITY = re.compile(r"^/(activities|organizations|networks|plans)/[0-9a-f-]{36}(/plans)?$")
"""A page of one thing: an activity, an organization, a network (its plans), a plan."""


def names_on(person: Browser, path: str, names: set[str]) -> list[str]:
    """Open ``path``: the educators' names it shows."""
    person.open(path, expect=None)
    shown = person.text()
    return sorted(name for name in names if name in shown)


def things_linked(person: Browser, found: dict[str, list[str]]) -> dict[str, list[str]]:
    """Add the pages of things the page shown links to, by kind, to ``found``."""
    for href in person.page.eval_on_selector_all(
        "main a[href^='/']", "links => links.map(a => a.getAttribute('href'))"
    ):
        match = ENTITY.match(href)
        if match and href not in found.setdefault(match[1], []):
            found[match[1]].append(href)
    return found


# -- the tests -----------------------------------------------------------------------------------


def test_a_visitor_sees_the_public_pages_and_is_asked_to_sign_in_for_the_rest(
    browser: Callable[[], Browser], workspace: Workspace
) -> None:
    visitor = browser()
    visitor.open("/")
    assert "Сетевое взаимодействие школ" in visitor.main_text()
    assert REGION in visitor.main_text()
    assert asked_to_sign_in(visitor)
    visitor.screenshots("welcome")
    links = nav_links(visitor)
    for path in PUBLIC_PAGES[1:]:
        assert path in links, links

    visitor.open("/organizations")
    assert visitor.page.locator("main table tbody tr").count() > 1
    visitor.screenshots("organizations")
    visitor.open("/networks")
    assert workspace.network["name"] in visitor.main_text()
    visitor.page.get_by_role("link", name=workspace.network["name"]).click()
    visitor.page.wait_for_url(f"**/networks/{workspace.network['id']}")
    visitor.check()
    assert workspace.school["shortName"] in visitor.main_text()
    visitor.screenshots("network")
    visitor.page.get_by_role("link", name=workspace.school["shortName"]).first.click()
    visitor.page.wait_for_url(f"**/organizations/{workspace.school['id']}")
    visitor.check()

    # the other sections, and the things they link to, show a visitor nothing personal
    names = educator_names()
    things: dict[str, list[str]] = {}
    for path in [link for link in links if link not in PUBLIC_PAGES]:
        assert not names_on(visitor, path, names), f"{path} shows a visitor educators' names"
        things_linked(visitor, things)
    for path in [path for found in things.values() for path in found[:2]]:
        assert not names_on(visitor, path, names), f"{path} shows a visitor educators' names"
    # and what needs a person asks the visitor to sign in: a school's analysis
    visitor.open(f"/analysis?scope=school&id={workspace.school['id']}", expect=401)
    assert asked_to_sign_in(visitor), visitor.main_text()[-600:]


def test_every_role_signs_in_at_the_provider_and_reaches_its_start_page(
    people_signed_in: People, workspace: Workspace
) -> None:
    for key in ("admin", "coordinator", "school", "expert", "viewer"):
        person = people_signed_in.sign_in(key)  # kept signed in for the tests below
        account = workspace.accounts[key]
        assert person.page.url == f"{workspace.url}/"
        main = person.main_text()
        assert f"Здравствуйте, {account.name}" in main
        if key in ("coordinator", "school"):
            alerts = person.page.locator("ul.alerts li").count()
            activities = person.page.locator("main table tbody tr").count()
            assert alerts + activities > 0, f"{key}'s start page has no data:\n{main[:800]}"
        if key == "coordinator":
            person.screenshots("start")


def test_a_viewer_sees_no_personal_data(browser: Callable[[], Browser], workspace: Workspace) -> None:
    names = educator_names()
    network, school = f"/networks/{workspace.network['id']}", f"/organizations/{workspace.school['id']}"
    today = date.today()
    previous = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    sources = ["/calendar", f"/calendar?month={previous:%Y-%m}", f"{network}/plans", network, school]
    # the school's representative sees its educators' names (the activities it may register them
    # for, those registered): the viewer reads the same pages
    representative = browser()
    representative.sign_in(workspace.accounts["school"])
    things: dict[str, list[str]] = {}
    for path in sources:
        representative.open(path, expect=None)
        things_linked(representative, things)
    activities = things.get("activities", [])[:12]
    # the events service may still be loading the demo's registrations (the stack is ready once
    # the first activity is there): ask again until they show, as a person would reload
    deadline = time.monotonic() + 120
    named = [path for path in activities if names_on(representative, path, names)]
    while not named and time.monotonic() < deadline:
        time.sleep(3)
        named = [path for path in activities if names_on(representative, path, names)]
    assert named, f"no activity's page showed the school's representative a name: {activities}"
    representative.close()

    viewer = browser()
    viewer.sign_in(workspace.accounts["viewer"])
    pages = [
        "/",
        *nav_links(viewer),
        *sources,
        *activities,
        *(path for kind in ("organizations", "networks", "plans") for path in things.get(kind, [])[:3]),
        f"/analysis?scope=region&id={REGION}",
        f"/analysis?scope=network&id={workspace.network['id']}",
    ]
    for path in dict.fromkeys(pages):
        shown = names_on(viewer, path, names)
        assert not shown, f"{path} shows a viewer educators' names: {shown[:5]}"
    assert len(set(pages)) >= 10, pages


def test_a_methodologist_opens_a_networks_analysis_and_downloads_its_pdf(
    browser: Callable[[], Browser], workspace: Workspace
) -> None:
    expert = browser()
    expert.sign_in(workspace.accounts["expert"])
    expert.open(f"/networks/{workspace.network['id']}")
    expert.page.get_by_role("link", name="Анализ эффективности сети").click()
    expert.page.wait_for_url("**/analysis?**")
    expert.check()
    assert expert.page.locator("section.indicator").count() > 0, expert.main_text()[:800]
    expert.screenshots("analysis")
    with expert.page.expect_download() as download:
        expert.page.get_by_role("link", name="Документ PDF").click()
    path = expert.tmp / "analysis.pdf"
    download.value.save_as(path)
    assert download.value.suggested_filename.endswith(".pdf")
    assert path.read_bytes().startswith(b"%PDF-")
    assert path.stat().st_size > 1000


def test_a_filter_form_is_completed_with_the_keyboard(
    browser: Callable[[], Browser], workspace: Workspace
) -> None:
    person = browser()
    person.sign_in(workspace.accounts["coordinator"])
    person.open("/organizations")
    person.tab_to(lambda e: e["name"] == "search")
    person.page.keyboard.type("СОШ")
    person.tab_to(lambda e: e["name"] == "kind")
    person.page.keyboard.press("ArrowDown")  # a closed select: «все» → «школа»
    assert person.page.eval_on_selector("select[name=kind]", "s => s.value") == "school"
    person.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Найти")
    person.page.keyboard.press("Enter")
    person.page.wait_for_url("**/organizations?**")
    person.check()
    query = urlsplit(person.page.url).query
    assert "kind=school" in query and "search=" in query, query
    rows = person.page.locator("main table tbody tr")
    assert rows.count() > 0
    kinds = person.page.eval_on_selector_all(
        "main table tbody tr td:nth-child(2)", "cells => cells.map(c => c.innerText.trim())"
    )
    assert kinds and set(kinds) == {"школа"}, kinds


def test_signing_out_ends_the_session_at_the_provider_too(
    browser: Callable[[], Browser], workspace: Workspace
) -> None:
    person = browser()
    account = workspace.accounts["school"]
    person.sign_in(account)
    # signed in at the provider: signing in again passes through without its form
    person.page.goto(person.url("/sign-in"))
    person.page.wait_for_url(f"{workspace.url}/")
    assert account.name in person.page.inner_text("header")

    person.sign_out()
    person.open("/")
    assert account.name not in person.text()
    # the provider's session ended too: signing in asks for the password again
    person.page.goto(person.url("/sign-in"))
    person.login_form()


# -- each role's work, by the pages' forms ---------------------------------------------------------


@dataclass
class Planned:
    """What the coordinator planned through the pages."""

    plan: str
    year: int
    item: str
    activity: str
    title: str


@pytest.fixture(scope="module")
def planned() -> dict[str, Planned]:
    """The coordinator's test keeps its activity here for the school's (which, run alone, has the
    coordinator plan one first)."""
    return {}


def said(element: Any) -> str:
    """An element's text as a screen reader has it (visually hidden words too), spaces collapsed."""
    return " ".join((element.text_content() or "").split())


ITEM = {
    "#item-title": "Семинар «Смысловое чтение на уроках истории»",
    "#item-responsiblePerson": "заместитель директора по УВР",
    "#item-expectedResult": "Методические рекомендации для учителей сети",
}


def coordinator_announces_an_activity(coordinator: Browser, workspace: Workspace) -> Planned:
    """The coordinator, on their network's plans: a draft for a year with no plan yet (the form
    completed with the keyboard only); an item, first refused by the API (due outside the plan's
    year: the message at the date, what was entered kept), then added; the plan agreed; an
    activity planned from the item, hosted by ``workspace.host``, started half an hour ago; it is
    announced. Ends on the activity's page."""
    from playwright.sync_api import expect

    page = coordinator.page
    coordinator.open(f"/networks/{workspace.network['id']}/plans")
    taken = {int(y) for y in page.locator("main table tbody td:first-child").all_inner_texts() if y.isdigit()}

    # the draft, with the keyboard only: Tab to the year (offered: the first year with no plan),
    # Tab to the title, type it, Enter
    assert coordinator.tab_to(lambda e: e["id"] == "draft-year")["name"] == "year"
    year = int(coordinator.value("#draft-year"))
    assert year not in taken and year >= date.today().year, (year, taken)
    page.keyboard.press("Tab")
    assert coordinator.focused()["id"] == "draft-title"
    page.keyboard.press("Control+A")
    page.keyboard.type(f"Совместный план сети на {year} год")
    assert coordinator.send(lambda: page.keyboard.press("Enter")) == 200
    assert re.fullmatch(rf"{re.escape(workspace.url)}/plans/[0-9a-f-]{{36}}", page.url), page.url
    plan = page.url.rsplit("/", 1)[-1]
    assert coordinator.flash() == "Черновик плана создан: добавьте пункты"
    assert page.get_by_role("heading", level=1).inner_text() == f"Совместный план сети на {year} год"

    # an item due outside the plan's year: the API's refusal at the date, the rest kept
    for selector, text in ITEM.items():
        page.locator(selector).fill(text)
    page.locator("#item-dueOn").fill(f"{year + 1}-03-01")
    # the page has other forms too (a member's proposal): the item's own form is the one asked
    item_form = page.locator("form", has=page.locator("#item-dueOn"))
    item_form.get_by_label("Ответственная организация").select_option(workspace.host["id"])
    assert coordinator.send(lambda: page.get_by_role("button", name="Добавить пункт").click()) == 400
    message = f"Срок пункта должен быть в {year} году"
    due = page.locator("form", has=page.locator("#item-dueOn")).get_by_label("Срок")
    assert due.get_attribute("id") == "item-dueOn"
    assert due.get_attribute("aria-invalid") == "true"
    assert "item-dueOn-error" in (due.get_attribute("aria-describedby") or "").split()
    assert said(page.locator("#item-dueOn-error")) == f"Ошибка: {message}", "read out as an error"
    expect(due).to_have_accessible_description(re.compile(re.escape(message)))  # what is read out
    field = page.locator("div.field", has=page.locator("#item-dueOn"))
    assert said(field.locator(".field-error")) == f"Ошибка: {message}", "in the date's own field"
    assert page.locator("main [aria-invalid=true]").count() == 1, "no other input is marked"
    assert page.locator(".error-summary a[href='#item-dueOn']").inner_text() == message
    for selector, text in ITEM.items():
        assert coordinator.value(selector) == text, selector
    assert coordinator.value("#item-dueOn") == f"{year + 1}-03-01"
    assert coordinator.value("#item-responsibleOrganizationId") == workspace.host["id"]

    # corrected, it is added
    page.locator("#item-dueOn").fill(f"{year}-03-01")
    assert coordinator.send(lambda: page.get_by_role("button", name="Добавить пункт").click()) == 200
    assert coordinator.flash() == "Пункт добавлен в план"
    row = page.locator("table.plan-items tbody tr").filter(has_text=ITEM["#item-title"])
    assert row.count() == 1 and workspace.host["shortName"] in row.inner_text()
    assert page.locator("main [aria-invalid=true]").count() == 0

    assert coordinator.send(lambda: page.get_by_role("button", name="Согласовать план").click()) == 200
    assert coordinator.flash() == "План теперь: согласован"
    assert page.get_by_role("button", name="Добавить пункт").count() == 0, "items go into a draft only"

    # an activity from the item, going on now
    with page.expect_navigation():
        page.get_by_role("link", name="Запланировать мероприятие по пункту 1").click()
    coordinator.check()
    item = page.url.split("/items/", 1)[1].split("/", 1)[0]
    assert coordinator.value("#plan-title") == ITEM["#item-title"], "the item's title is offered"
    assert coordinator.value("#plan-hostOrganizationId") == workspace.host["id"], "its organization hosts"
    page.get_by_label("Вид мероприятия").select_option(label="семинар")
    page.get_by_label("Формат").select_option(label="очно")
    page.get_by_label("обмен опытом").check()
    now = datetime.now(zone_for(REGION)).replace(second=0, microsecond=0)  # the coordinator's clock
    page.get_by_label("Начало").fill(f"{now - timedelta(minutes=30):%Y-%m-%dT%H:%M}")
    page.get_by_label("Окончание").fill(f"{now + timedelta(minutes=90):%Y-%m-%dT%H:%M}")
    page.get_by_label("Место или ссылка").fill("Актовый зал, корпус 2")
    page.get_by_label("Мест", exact=True).fill("30")
    assert coordinator.send(lambda: page.get_by_role("button", name="Запланировать").click()) == 200
    assert re.fullmatch(rf"{re.escape(workspace.url)}/activities/[0-9a-f-]{{36}}", page.url), page.url
    activity = page.url.rsplit("/", 1)[-1]
    assert coordinator.flash() == "Мероприятие запланировано; объявите его, чтобы открыть запись"
    assert "запланировано" in page.locator("main p .tag").inner_text()

    assert (
        coordinator.send(lambda: page.get_by_role("button", name="Объявить и открыть запись").click()) == 200
    )
    assert page.url == coordinator.url(f"/activities/{activity}")
    return Planned(plan=plan, year=year, item=item, activity=activity, title=ITEM["#item-title"])


def test_a_coordinator_drafts_agrees_a_plan_and_announces_an_activity_from_it(
    browser: Callable[[], Browser], workspace: Workspace, planned: dict[str, Planned]
) -> None:
    coordinator = browser()
    coordinator.sign_in(workspace.accounts["coordinator"])
    done = planned["activity"] = coordinator_announces_an_activity(coordinator, workspace)

    page = coordinator.page
    assert coordinator.flash() == "Мероприятие объявлено: запись открыта"
    assert page.get_by_role("heading", level=1).inner_text() == done.title
    assert page.locator("main p .tag").inner_text() == "объявлено"
    facts = page.locator("dl.facts").inner_text()
    assert workspace.host["shortName"] in facts and "обмен опытом" in facts and "30, свободно 30" in facts
    assert page.get_by_role("button", name="Объявить и открыть запись").count() == 0, "announced once"
    # the plan lists it at its item
    coordinator.open(f"/plans/{done.plan}")
    assert page.locator("dl.facts .tag").inner_text() == "согласован"
    row = page.locator(f"#item-{done.item}")
    assert row.get_by_role("link", name=done.title).get_attribute("href") == f"/activities/{done.activity}"
    assert "объявлено" in row.inner_text()


def test_a_school_registers_for_an_activity_and_records_attendance_once_it_is_held(
    browser: Callable[[], Browser], workspace: Workspace, planned: dict[str, Planned]
) -> None:
    if "activity" not in planned:  # run alone
        coordinator = browser()
        coordinator.sign_in(workspace.accounts["coordinator"])
        planned["activity"] = coordinator_announces_an_activity(coordinator, workspace)
        coordinator.close()
    done = planned["activity"]
    path = f"/activities/{done.activity}"

    school = browser()
    school.sign_in(workspace.accounts["school"])
    page = school.page
    school.open(path)
    assert page.get_by_role("button", name="Отметить проведённым").count() == 0, "the host's side holds it"
    assert workspace.school["shortName"] in page.locator("#register").inner_text()
    # the whole school (no educator chosen), then one educator, chosen with the keyboard
    assert school.value("#register-educatorId") == ""
    assert school.send(lambda: page.get_by_role("button", name="Записать", exact=True).click()) == 200
    assert school.flash() == "Организация записана на мероприятие"
    school.tab_to(lambda e: e["id"] == "register-educatorId")
    page.keyboard.press("ArrowDown")  # a closed select: the first educator of the school
    educator = page.locator("#register-educatorId option:checked").inner_text().strip()
    assert school.value("#register-educatorId") and "организацию целиком" not in educator
    school.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Записать")
    assert school.send(lambda: page.keyboard.press("Enter")) == 200
    assert school.flash() == "Педагог записан на мероприятие"
    registered = page.locator("section:has(#registrations) table tbody").inner_text()
    assert page.locator("#registrations").inner_text() == "Записались (2)"
    assert educator in registered and "вся организация" in registered
    assert page.locator("form[action$='/attendance']").count() == 0, "no sheet before it is held"

    # the coordinator (the host's side) marks it held
    coordinator = browser()
    coordinator.sign_in(workspace.accounts["coordinator"])
    coordinator.open(path)
    hold = coordinator.page.get_by_role("button", name="Отметить проведённым")
    assert coordinator.send(hold.click) == 200
    assert coordinator.flash() == "Мероприятие отмечено проведённым: отметьте посещаемость"
    assert coordinator.page.locator("main p .tag").inner_text() == "проведено"

    # the school's sign-in sheet: a row for each of its registrations, every one filled in
    school.open(path)
    sheet = page.locator("form[action$='/attendance']")
    rows = sheet.locator("tbody tr")
    assert rows.count() == 2, sheet.inner_text()
    who = rows.locator("th").all_inner_texts()
    assert {w.split(" — ", 1)[1] for w in who} == {educator, "вся организация"}, who
    hours = {"вся организация": "2", educator: "1,5"}
    for name in who:
        sheet.get_by_label(f"Часов: {name}").fill(hours[name.split(" — ", 1)[1]])
    assert school.send(sheet.get_by_role("button", name="Записать посещаемость").click) == 200
    assert school.flash() == "Посещаемость записана: строк — 2"
    assert page.locator("#attendance").inner_text() == "Посещаемость: 3,50 ч"
    for name in who:
        shown = sheet.get_by_label(f"Часов: {name}").input_value()
        assert shown == {"2": "2,00", "1,5": "1,50"}[hours[name.split(" — ", 1)[1]]], (name, shown)
    assert page.locator("main [aria-invalid=true]").count() == 0


# -- the pages added for administration, meetings, documents, notifications and corrections -------


def schools_file() -> bytes:
    """A CSV of two schools of region 39: line 2 is right, line 3's ИНН has a wrong check digit."""
    from setka_contracts.identifiers import inn_check_digit

    body = f"39{secrets.randbelow(10**7):07d}"
    good = body + inn_check_digit(body)
    bad = body + str((int(good[9]) + 1) % 10)
    return (
        "Полное наименование;Тип ОО;ИНН;Код региона\n"
        f"МБОУ СОШ № 101 (проверка в браузере);школа;{good};39\n"
        f"МБОУ СОШ № 102 (проверка в браузере);школа;{bad};39\n"
    ).encode()


def test_a_regional_admin_checks_a_file_and_reads_the_dead_letters(
    people_signed_in: People, workspace: Workspace
) -> None:
    admin = people_signed_in("admin")
    page = admin.page
    admin.open("/admin/imports")
    assert admin.value("#f-kind") == "organizations" and page.locator("#f-dry").is_checked()
    page.locator("#f-file").set_input_files(
        files=[{"name": "школы.csv", "mimeType": "text/csv", "buffer": schools_file()}]
    )
    assert admin.send(page.get_by_role("button", name="Загрузить").click) == 200
    assert page.locator("#report").inner_text() == "Проверка файла «школы.csv»: ничего не записано"
    assert "Прочитано строк: 2" in admin.main_text() and "отклонено: 1" in admin.main_text()
    rows = page.locator("table.import-report tbody tr")
    assert rows.count() == 1, admin.main_text()
    line, column, reason = rows.first.locator("td").all_inner_texts()[:3]
    assert (line, column) == ("3", "ИНН") and "ИНН" in reason, (line, column, reason)
    admin.fits_a_phone()

    admin.open("/admin/dead-letters")
    assert admin.value("#f-period") == "7"
    caption = page.locator("table.dead-letters caption").first.inner_text()
    assert caption.startswith(f"Недоставленные сообщения региона {REGION} за неделю"), caption
    admin.fits_a_phone()


def test_a_coordinator_schedules_a_meeting_and_opens_its_documents_and_notifications(
    people_signed_in: People, workspace: Workspace
) -> None:
    coordinator = people_signed_in("coordinator")
    page = coordinator.page
    network = workspace.network["id"]

    coordinator.open(f"/networks/{network}/meetings")
    assert coordinator.value("#schedule-kind") == "council"
    coordinator.fits_a_phone()
    page.get_by_label("Место проведения").fill("Управление образования, зал заседаний")
    page.get_by_label("Повестка").fill("1. Итоги полугодия\n2. План методической работы")
    page.get_by_label(workspace.school["shortName"], exact=True).check()
    assert coordinator.send(page.get_by_role("button", name="Назначить заседание").click) == 200
    assert re.fullmatch(rf"{re.escape(workspace.url)}/meetings/[0-9a-f-]{{36}}", page.url), page.url
    assert coordinator.flash() == "Заседание «Заседание совета сети» назначено"
    assert page.locator("h2#agenda + ol li").all_inner_texts() == [
        "Итоги полугодия",
        "План методической работы",
    ]
    assert workspace.school["shortName"] in page.locator("h2#participants + ul").inner_text()
    assert page.get_by_role("button", name="Записать протокол").count() == 1
    coordinator.screenshots("meeting")

    # the upload form of the meeting's documents, from its link
    assert coordinator.send(page.get_by_role("link", name="Прикрепить файл").click) == 200
    assert page.get_by_role("heading", level=1).inner_text() == "Файл к заседанию: Заседание совета сети"
    assert page.get_by_label("Файл").get_attribute("type") == "file"
    coordinator.fits_a_phone()

    coordinator.open(f"/networks/{network}/regulations")
    assert page.locator("main table caption").inner_text().startswith("Документы (все редакции)")
    coordinator.fits_a_phone()

    # the notifications' settings, with the keyboard only: from the settings' heading (the page's
    # fragment), Tab to the first kind, Space, Tab to «Сохранить настройки», Enter
    coordinator.open("/notifications#settings")
    coordinator.fits_a_phone()
    kind = page.locator(
        f"input[name=kind][value='{coordinator.tab_to(lambda e: e['name'] == 'kind', limit=200)['text']}']"
    )
    was = kind.is_checked()
    page.keyboard.press("Space")
    coordinator.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Сохранить настройки")
    assert coordinator.send(lambda: page.keyboard.press("Enter")) == 200
    assert coordinator.flash() == "Настройки уведомлений сохранены"
    assert kind.is_checked() is not was, "the kind's setting is kept"


def test_a_correction_completed_with_the_keyboard_is_refused_with_the_message_at_its_field(
    people_signed_in: People, workspace: Workspace
) -> None:
    """The coordinator corrects their network's details, with the keyboard only: a school as the
    governing body, which the API refuses; its message stands at that field, the rest kept."""
    from playwright.sync_api import expect

    coordinator = people_signed_in("coordinator")
    page = coordinator.page
    coordinator.open(f"/networks/{workspace.network['id']}/edit")
    name = coordinator.value("#f-name")
    coordinator.tab_to(lambda e: e["id"] == "f-governingBodyId")
    # the school, with the arrows on the closed select (its options are «shortName, municipality»)
    options = page.locator("#f-governingBodyId option").evaluate_all("os => os.map(o => o.value)")
    steps = options.index(workspace.school["id"]) - options.index(coordinator.value("#f-governingBodyId"))
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowDown" if steps > 0 else "ArrowUp")
    assert coordinator.value("#f-governingBodyId") == workspace.school["id"]
    coordinator.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Сохранить")
    assert coordinator.send(lambda: page.keyboard.press("Enter")) == 400

    message = (
        "Высший орган управления сети — орган управления образованием (управление образования, министерство)"
    )
    body = page.locator("#f-governingBodyId")
    assert body.get_attribute("aria-invalid") == "true"
    expect(body).to_have_accessible_description(re.compile(re.escape(message)))
    field = page.locator("div.field", has=body)
    assert said(field.locator(".field-error")).endswith(message), "in the governing body's own field"
    assert page.locator("main [aria-invalid=true]").count() == 1, "no other input is marked"
    assert message in page.locator(".error-summary a[href='#f-governingBodyId']").inner_text()
    assert coordinator.value("#f-governingBodyId") == workspace.school["id"]
    assert coordinator.value("#f-name") == name
    coordinator.fits_a_phone()


def test_a_coordinator_sets_a_target_for_the_networks_indicator_and_its_source_is_shown(
    people_signed_in: People, workspace: Workspace
) -> None:
    """Issue 20: a target is the network's decision. The coordinator sets one on the network's
    analysis with the keyboard (a value that is no number is refused at its field first); the page
    then says who set it and when, and the indicator says where its target came from."""
    coordinator = people_signed_in("coordinator")
    page = coordinator.page
    coordinator.open(f"/analysis?scope=network&id={workspace.network['id']}")
    assert "Цели показателей на" in coordinator.main_text()
    indicator = page.locator("#target-indicatorId option").nth(1)
    title = indicator.inner_text().strip()
    page.select_option("#target-indicatorId", indicator.get_attribute("value"))
    coordinator.tab_to(lambda e: e["id"] == "target-value")
    page.keyboard.type("много")
    coordinator.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Установить цель")
    assert coordinator.send(lambda: page.keyboard.press("Enter")) == 400
    assert page.locator("#target-value").get_attribute("aria-invalid") == "true"
    assert "Укажите число" in page.locator(".error-summary").inner_text()

    page.locator("#target-value").fill("")
    coordinator.tab_to(lambda e: e["id"] == "target-value")
    page.keyboard.type("85")
    coordinator.tab_to(lambda e: e["tag"] == "button" and e["text"] == "Установить цель")
    coordinator.send(lambda: page.keyboard.press("Enter"))
    assert "Цель записана" in coordinator.flash()
    rows = page.locator("#targets-heading ~ table tbody tr", has_text=title)
    assert rows.count() == 1, coordinator.main_text()[-1500:]
    row = rows.first.inner_text()
    assert "85" in row and "муниципальный координатор" in row, row
    shown = page.locator("section.indicator", has_text=title).inner_text()
    assert "Цель 85" in shown and "Цель не установлена" not in shown, shown
    coordinator.screenshots("analysis-targets")
    coordinator.fits_a_phone()

    coordinator.send(lambda: rows.first.get_by_role("button", name="Снять цель").click())
    assert "Цель снята" in coordinator.flash()
    assert page.locator("#targets-heading ~ table tbody tr", has_text=title).count() == 0
