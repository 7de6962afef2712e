"""tests/services.py: the PostgreSQL and Redis that `make test` gives the marked tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import services as services_module
from tests.services import (
    DEFAULT_POSTGRES_URL,
    DEFAULT_REDIS_URL,
    POSTGRES_ENV,
    REDIS_ENV,
    answers,
    postgres_url,
    redis_url,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHOW_URLS = f"import os; print(os.environ['{POSTGRES_ENV}']); print(os.environ['{REDIS_ENV}'])"
# Connects to both servers it is given, writes and reads back (the tests' own clients).
USE_BOTH = """
import os, sqlalchemy, redis
engine = sqlalchemy.create_engine(os.environ["TEST_POSTGRES_URL"])
with engine.begin() as conn:
    conn.execute(sqlalchemy.text("CREATE TABLE services_probe (x int)"))
    conn.execute(sqlalchemy.text("INSERT INTO services_probe VALUES (42)"))
    print(conn.execute(sqlalchemy.text("SELECT x FROM services_probe")).scalar())
engine.dispose()
store = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
store.set("services-probe", "ok")
print(store.get("services-probe").decode())
raise SystemExit(7)
"""


def services(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.services", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_urls_default_to_the_machine_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    monkeypatch.delenv(REDIS_ENV, raising=False)
    assert (
        postgres_url()
        == DEFAULT_POSTGRES_URL
        == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    assert redis_url() == DEFAULT_REDIS_URL == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv(POSTGRES_ENV, "postgresql+psycopg://u@db:5433/x")
    monkeypatch.setenv(REDIS_ENV, "redis://cache:6380/1")
    assert postgres_url() == "postgresql+psycopg://u@db:5433/x"
    assert redis_url() == "redis://cache:6380/1"


def test_urls_already_set_are_passed_on_untouched_and_nothing_started() -> None:
    given = {
        POSTGRES_ENV: "postgresql+psycopg://u@127.0.0.1:1/none",
        REDIS_ENV: "redis://127.0.0.1:1/0",
    }
    result = services("--throwaway", "--", sys.executable, "-c", SHOW_URLS, env=given)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [given[POSTGRES_ENV], given[REDIS_ENV]]
    assert "throwaway" not in result.stderr


def test_without_a_command_it_says_how_to_call_it() -> None:
    result = services()
    assert result.returncode == 2
    assert "no command to run" in result.stderr


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_throwaway_servers_answer_and_are_removed_after_the_command() -> None:
    env = {POSTGRES_ENV: "", REDIS_ENV: ""}
    result = services("--throwaway", "--", sys.executable, "-c", USE_BOTH, env=env)
    if "binaries are missing" in result.stderr:  # a machine without Debian's packages
        assert result.returncode == 2
        assert "apt-get install -y" in result.stderr
        return
    assert result.returncode == 7, result.stderr  # the command's own exit status
    assert result.stdout.split() == ["42", "ok"]
    urls = [line.split("=", 1)[1] for line in result.stderr.splitlines() if "throwaway" in line]
    ports = [urlsplit(url).port for url in urls]
    assert len(ports) == 2
    assert 5432 not in ports
    assert 6379 not in ports
    assert not [port for port in ports if port is None or answers(port)], "servers left running"


def test_missing_binaries_exit_2_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    monkeypatch.setenv(REDIS_ENV, "redis://127.0.0.1:1/0")
    monkeypatch.setattr(services_module, "postgres_bin", lambda name: None)
    assert services_module.run([sys.executable, "-c", "raise SystemExit(0)"], throwaway=True) == 2
    error = capsys.readouterr().err
    assert "PostgreSQL is not running on 127.0.0.1:5432 and its binaries are missing" in error
    assert "sudo apt-get install -y postgresql" in error
    assert POSTGRES_ENV in error
    assert "make test-fast" in error
