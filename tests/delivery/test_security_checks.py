"""bandit and pip-audit gate every build (.ci/audit, run by .ci/run and both workflows); bandit
finds nothing, and every exception to either is named and explained in docs/security.md."""

from __future__ import annotations

import re

import pytest

from tests.delivery.support import APPS, REPO_ROOT, WORKFLOWS, run_tool, tool

AUDIT = REPO_ROOT / ".ci" / "audit"
IGNORES = REPO_ROOT / ".ci" / "pip-audit-ignore"
SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
SCANNED = ("scoring", "api", "dashboard", "clients/python/src")


def test_bandit_finds_nothing_in_the_code_that_ships() -> None:
    result = run_tool(tool("bandit"), "--quiet", "--recursive", *SCANNED, "--format", "txt")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_bandit_exception_names_its_check_and_is_explained() -> None:
    """No blanket `# nosec`: each names the check it silences, and docs/security.md explains
    each, as "`file` (Bxxx)"."""
    doc = SECURITY_DOC.read_text(encoding="utf-8")
    found = []
    for package in SCANNED:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if "nosec" in line:
                    match = re.search(r"# nosec (B\d{3})$", line)
                    assert match, f"{path}: {line.strip()}"
                    found.append((path.relative_to(REPO_ROOT).as_posix(), match.group(1)))
    for file, check in found:
        assert f"`{file}` ({check})" in doc, (file, check)


def test_pip_audit_ignores_are_explained() -> None:
    doc = SECURITY_DOC.read_text(encoding="utf-8")
    for line in IGNORES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            advisory, _, reason = line.partition(" ")
            assert reason.strip(), f"{advisory}: no reason given"
            assert advisory in doc, f"{advisory} is not explained in docs/security.md"


def test_ci_runs_the_security_checks() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash .ci/audit" in ci
    audit = AUDIT.read_text(encoding="utf-8")
    assert "--recursive scoring api dashboard" in audit
    assert "--requirement requirements.lock" in audit
    assert "strict=(--strict)" in audit
    assert "set -euo pipefail" in audit


@pytest.mark.parametrize("app", APPS)
def test_both_workflows_run_the_security_checks_before_the_tests(app: str) -> None:
    text = (WORKFLOWS / f"{app}.yml").read_text(encoding="utf-8")
    assert "run: bash .ci/audit\n" in text  # strict: a package it cannot audit fails
    assert "--allow-unreachable" not in text
    assert text.index("run: bash .ci/audit") < text.index("name: Test with coverage gate")
    assert '- ".ci/audit"' in text


def test_every_test_the_security_doc_cites_exists() -> None:
    doc = SECURITY_DOC.read_text(encoding="utf-8")
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", doc))
    assert len(cited) >= 40
    missing = [
        f"{file}::{name}"
        for file, name in sorted(cited)
        if not re.search(
            rf"^def {name}\(", (REPO_ROOT / file).read_text(encoding="utf-8"), re.MULTILINE
        )
    ]
    assert missing == []


def test_the_security_doc_goes_through_the_owasp_api_top_10() -> None:
    doc = SECURITY_DOC.read_text(encoding="utf-8")
    headings = re.findall(r"^### (API\d+) ", doc, re.MULTILINE)
    assert headings == [f"API{n}" for n in range(1, 11)]
