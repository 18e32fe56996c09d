"""bakery verify against the real engine: web and lb pass, results land in the store, JUnit parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bakery.build.docker_builder import build
from bakery.store import verifications
from bakery.store.db import connect
from bakery.verify.container import leftovers
from bakery.verify.runner import verify

pytestmark = pytest.mark.docker


def mine(name: str) -> list[str]:
    return [n for n in leftovers() if n.startswith(f"bakery-verify-{name}-")]


def test_web_passes_with_its_own_testinfra_tests(project, base_image, tmp_path):
    outcome = build(project, project.load_image("web"))
    events = []
    junit_path = tmp_path / "web.xml"
    report = verify(project, "web", junit_path=junit_path,
                    on_event=lambda kind, data: events.append((kind, data["text"])))
    failures = [(c.name, c.message, c.output) for c in report.failures]
    assert report.passed, failures
    assert report.fingerprint == outcome.record.fingerprint
    own = [c for c in report.checks if c.group == "tests" and c.outcome == "passed"]
    assert len(own) >= 8
    names = {c.name for c in report.checks}
    assert {"port_listening[8080]", "package_installed[nginx-light]", "declared_user",
            "main_process", "healthcheck_answers", "no_private_keys"} <= names
    assert ("passed", next(t for k, t in events if t.startswith("declared_user"))) in events
    conn = connect(project.db_path)
    try:
        latest = verifications.latest(conn, report.fingerprint)
        assert latest is not None and latest.passed
        assert verifications.is_verified(conn, report.fingerprint)
        assert len(latest.report["checks"]) == len(report.checks)
    finally:
        conn.close()
    root = ET.parse(junit_path).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(report.checks)
    assert any(c.get("classname") == "web.tests" for c in cases)
    assert root.get("failures") == "0"
    assert mine("web") == []


def test_lb_passes_its_builtin_checks(project, base_image):
    build(project, project.load_image("lb"))
    report = verify(project, "lb", "1.0.0")
    assert report.passed, [(c.name, c.message) for c in report.failures]
    names = {c.name for c in report.checks if c.outcome == "passed"}
    assert {"port_listening[8080]", "port_listening[8404]", "package_installed[haproxy]",
            "healthcheck_status", "main_process"} <= names
    assert mine("lb") == []
