import pytest

from bakery.errors import UsageError
from bakery.packages import Package
from bakery.store.builds import BuildRecord
from bakery.verify.container import verdict, wait_budget
from bakery.verify.model import CheckResult, VerifyReport, redact, redact_check
from bakery.verify.plugin import clean_message
from bakery.verify.runner import choose, declared_packages, parse_ref


def record(fp, version="1.0.0", created="2024-01-01"):
    return BuildRecord(fp, "web", version, "sha256:x", created,
                       manifest=(Package("nginx-light", "1.22.1-9", "amd64"),))


def test_parse_ref():
    assert parse_ref("web") == ("web", None)
    assert parse_ref("web:1.2.3") == ("web", "1.2.3")
    with pytest.raises(UsageError):
        parse_ref("web:")


def test_choose_prefers_the_current_definitions_build_then_the_newest():
    newest, older = record("b" * 64, created="2024-02-01"), record("a" * 64)
    assert choose([newest, older], "a" * 64) is older
    assert choose([newest, older], "c" * 64) is newest
    assert choose([newest, older], None) is newest
    assert choose([], None) is None


def test_declared_packages_take_the_recorded_version():
    definition = {"packages": ["nginx-light", "curl=7.88.1-10"]}
    assert declared_packages(definition, record("a" * 64)) == {"nginx-light": "1.22.1-9", "curl": ""}


def test_report_passes_only_with_checks_and_no_failure():
    report = VerifyReport("web", "1.0.0", "f" * 64, "bakery/web:fp-f", "sha256:x", "now")
    assert not report.passed
    report.checks = [CheckResult("a", True, 0.1), CheckResult("b", True, 0.0, outcome="skipped")]
    assert report.passed
    report.checks.append(CheckResult("c", False, 0.1, outcome="failed"))
    assert not report.passed and [c.name for c in report.failures] == ["c"]
    assert report.as_dict()["counts"] == {"passed": 1, "failed": 1, "skipped": 1, "error": 0}


def test_redact_hides_injected_values_everywhere():
    check = CheckResult("x", False, 0, message="got s3cr3t-value", command="echo s3cr3t-value",
                        output="s3cr3t-value\n", details="... s3cr3t-value")
    redact_check(check, ["s3cr3t-value"])
    assert "s3cr3t" not in check.message + check.command + check.output + check.details
    assert redact("abc", []) == "abc"


def test_clean_message_keeps_the_checks_own_words():
    raw = "AssertionError: nothing listens on port 8080\nassert 8080 in {8081}"
    assert clean_message(raw) == "nothing listens on port 8080"
    assert clean_message("assert 1 == 2\n +  where 1 = f()") == "assert 1 == 2\n +  where 1 = f()"


def test_wait_budget_and_verdict():
    hc = {"interval": 1.0, "timeout": 2.0, "retries": 3, "start_period": 5.0}
    assert wait_budget(hc) == 5.0 + 3.0 * 4 + 10.0
    running = {"State": {"Running": True, "Status": "running", "Health": {"Status": "starting"}}}
    assert verdict(running, True) is None
    assert verdict(running, False) == "running"
    running["State"]["Health"]["Status"] = "unhealthy"
    assert verdict(running, True) == "unhealthy"
    assert verdict({"State": {"Running": False, "Status": "exited"}}, True) == "exited"
