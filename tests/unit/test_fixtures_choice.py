"""Where the tests' broker and PostgreSQL come from: SETKA_TEST_INFRA, a Docker engine, or neither."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    InfrastructureError,
    choose_infrastructure,
    docker_engine_answers,
)


def answers(value: bool) -> Callable[[], bool]:
    return lambda: value


def must_not_be_asked() -> bool:
    raise AssertionError("probed although the answer did not depend on it")


@pytest.mark.unit
@pytest.mark.parametrize("requested", [None, "", "auto", " AUTO "])
def test_without_docker_the_local_broker_and_postgresql_are_used(requested: str | None) -> None:
    assert choose_infrastructure(requested, answers(False), must_not_be_asked) == "local"


@pytest.mark.unit
@pytest.mark.parametrize("requested", [None, "auto"])
def test_when_docker_answers_containers_are_used(requested: str | None) -> None:
    assert choose_infrastructure(requested, answers(True), answers(True)) == "containers"


@pytest.mark.unit
def test_docker_without_testcontainers_installed_stays_local() -> None:
    assert choose_infrastructure("auto", answers(True), answers(False)) == "local"


@pytest.mark.unit
def test_local_forced_is_local_without_asking_docker() -> None:
    assert choose_infrastructure("local", must_not_be_asked, must_not_be_asked) == "local"


@pytest.mark.unit
def test_containers_forced_with_docker_are_containers() -> None:
    assert choose_infrastructure("Containers", answers(True), answers(True)) == "containers"


@pytest.mark.unit
def test_containers_forced_without_docker_fails_and_says_what_to_do() -> None:
    with pytest.raises(InfrastructureError) as failure:
        choose_infrastructure("containers", answers(False), must_not_be_asked)
    assert "no Docker engine answers" in str(failure.value)
    assert "SETKA_TEST_INFRA=local" in str(failure.value)


@pytest.mark.unit
def test_containers_forced_without_testcontainers_names_the_package() -> None:
    with pytest.raises(InfrastructureError, match=r"pip install 'testcontainers\[kafka,postgres\]'"):
        choose_infrastructure("containers", answers(True), answers(False))


@pytest.mark.unit
def test_an_unknown_value_is_refused() -> None:
    with pytest.raises(InfrastructureError, match="local, containers or auto, not 'docker'"):
        choose_infrastructure("docker", must_not_be_asked, must_not_be_asked)


def fake_engine(listener: socket.socket, status: bytes) -> threading.Thread:
    """Answer one ping on ``listener`` the way a Docker engine does (or with ``status``)."""

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def no_docker_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The probe may not fall back on a real ``docker`` client of this machine."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    yield


@pytest.mark.integration
@pytest.mark.usefixtures("no_docker_client")
def test_an_engine_answering_its_ping_on_a_unix_socket_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = f"/tmp/setka-docker-{os.getpid()}.sock"  # short: unix socket paths are limited
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        try:
            listener.listen()
            monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
            engine = fake_engine(listener, b"200 OK")
            assert docker_engine_answers(timeout=5) is True
            engine.join()
        finally:
            os.unlink(path)


@pytest.mark.integration
@pytest.mark.usefixtures("no_docker_client")
def test_an_engine_on_tcp_is_found_and_one_that_refuses_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        engine = fake_engine(listener, b"200 OK")
        assert docker_engine_answers(timeout=5) is True
        engine.join()
        engine = fake_engine(listener, b"500 Internal Server Error")
        assert docker_engine_answers(timeout=5) is False
        engine.join()


@pytest.mark.integration
@pytest.mark.usefixtures("no_docker_client")
def test_no_engine_behind_the_socket_means_no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    assert docker_engine_answers(timeout=5) is False


def pytest_run(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """pytest, on one test of this file, as a developer would start it."""
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{empty}", "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}", **environment}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_an_unknown_value_is_refused",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration
def test_a_run_forced_on_containers_without_docker_stops_at_once_with_the_reason(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SETKA_TEST_INFRA="containers")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "SETKA_TEST_INFRA=containers, but no Docker engine answers" in run.stderr
    assert "passed" not in run.stdout


@pytest.mark.integration
def test_a_run_without_docker_says_it_uses_the_local_infrastructure(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SETKA_TEST_INFRA="auto")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "infrastructure: local" in run.stdout
