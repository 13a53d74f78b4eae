"""The image (Dockerfile), read as a builder reads it: a build stage that installs the hashed
production lock into a virtual environment, a runtime stage that copies it, a pinned base, a
user that is not root, a healthcheck, production by default, the operator's command, and only
what the image needs in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]


def parse(text: str) -> list[Stage]:
    """Instructions by stage: comments dropped, continuation lines joined."""
    logical = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        instruction, _, argument = line.strip().partition(" ")
        instruction, argument = instruction.upper(), argument.strip()
        if instruction == "FROM":
            base, _, name = argument.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=name.strip()))
        else:
            assert stages, f"{instruction} before the first FROM"
            stages[-1].instructions.append((instruction, argument))
    return stages


STAGES = parse(DOCKERFILE.read_text(encoding="utf-8"))
BUILD, RUNTIME = STAGES[0], STAGES[-1]


def environment(stage: Stage) -> dict[str, str]:
    return dict(pair for statement in stage.all("ENV") for pair in re.findall(r"([A-Z_]+)=(\S+)", statement))


def test_two_stages_the_build_installs_the_hashed_lock_into_a_venv_the_runtime_copies_it() -> None:
    assert [stage.name for stage in STAGES] == ["build", "runtime"]
    installs = " ".join(BUILD.all("RUN"))
    assert "python -m venv /opt/venv" in installs
    assert "/opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.prod.lock" in installs
    assert "requirements.prod.lock /tmp/requirements.prod.lock" in BUILD.all("COPY")
    assert "--from=build /opt/venv /opt/venv" in RUNTIME.all("COPY")
    # No compiler, no pip install, no lock in the runtime stage: only the built environment.
    assert not any("pip install" in run for run in RUNTIME.all("RUN"))
    assert environment(RUNTIME)["PATH"].startswith("/opt/venv/bin:")


def test_the_base_is_pinned_by_exact_version_and_digest_and_the_same_in_both_stages() -> None:
    pinned = re.compile(r"^python:3\.11\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}$")
    for stage in STAGES:
        assert pinned.match(stage.base), stage.base
    assert BUILD.base == RUNTIME.base


def test_the_processes_run_as_an_unprivileged_user() -> None:
    users = RUNTIME.all("USER")
    assert users, "no USER: the processes would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert int(user) >= 10000
    assert f"--uid {user}" in " ".join(RUNTIME.all("RUN"))


def test_a_healthcheck_probes_the_served_process_and_passes_one_shots() -> None:
    (healthcheck,) = RUNTIME.all("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    compile(code, "HEALTHCHECK", "exec")
    assert "/healthz" in code and "/proc/1/cmdline" in code
    for name, port in {"gateway": 8000, "registry": 8001, "events": 8002, "analytics": 8003}.items():
        assert f"'{name}': {port}" in code


def test_production_by_default_listening_on_every_interface() -> None:
    settings = environment(RUNTIME)
    assert settings["GATEWAY_ENVIRONMENT"] == "production"
    for name in ("GATEWAY", "REGISTRY", "EVENTS", "ANALYTICS"):
        assert settings[f"{name}_HOST"] == "0.0.0.0"
    assert json.loads(RUNTIME.all("CMD")[-1]) == ["python", "-m", "gateway", "serve"]


def test_the_operators_command_is_in_the_image() -> None:
    launcher = " ".join(BUILD.all("RUN"))
    assert "from operations.cli import main" in launcher and "/opt/venv/bin/setka" in launcher
    assert "chmod 0755 /opt/venv/bin/setka" in launcher
    assert "operations operations" in RUNTIME.all("COPY")


def test_no_secret_is_baked_in() -> None:
    settings = environment(BUILD) | environment(RUNTIME)
    secret = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL")
    assert [name for name in settings if secret.search(name)] == []
    assert not any(instruction in ("ARG",) for stage in STAGES for instruction, _ in stage.instructions)


def test_only_what_the_image_needs_is_copied_and_the_context_keeps_it() -> None:
    copied = {argument.split()[0] for argument in RUNTIME.all("COPY") if not argument.startswith("--from")}
    assert copied == {"contracts", "runtime", "services", "gateway", "operations", "supergraph.graphql"}
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert copied.isdisjoint(ignored) and "requirements.prod.lock" not in ignored
    for kept_out in (".git", ".venv", "tests", "tools", "**/node_modules", ".env", "var", "*.db"):
        assert kept_out in ignored
    for needed in copied | {"requirements.prod.lock"}:
        assert (ROOT / needed).exists(), needed
