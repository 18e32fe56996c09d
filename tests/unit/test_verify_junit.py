import xml.etree.ElementTree as ET

from bakery.verify import junit
from bakery.verify.model import CheckResult


def test_junit_has_cases_failures_and_skips(tmp_path):
    cases = [
        CheckResult("port_listening[8080]", False, 0.25, "nothing listens on port 8080",
                    command="cat /proc/net/tcp /proc/net/tcp6", output="  sl local_address ...",
                    outcome="failed"),
        CheckResult("declared_user", True, 0.1, "no user declared", outcome="skipped"),
        CheckResult("tests/test_web.py::test_healthz", True, 0.05, group="tests"),
    ]
    path = tmp_path / "out" / "report.xml"
    junit.write(path, [junit.Suite("bakery verify web:1.0.0", cases, classname="web"),
                       junit.Suite("bakery lint", [CheckResult("images/web/image.yaml", True, 0.0,
                                                               group="lint")], classname="lint")])
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert root.get("tests") == "4" and root.get("failures") == "1" and root.get("skipped") == "1"
    testcases = root.findall(".//testcase")
    assert [c.get("classname") for c in testcases] == ["web.builtin", "web.builtin", "web.tests",
                                                       "lint.lint"]
    failure = testcases[0].find("failure")
    assert failure.get("message") == "nothing listens on port 8080"
    assert "$ cat /proc/net/tcp /proc/net/tcp6" in failure.text
    assert testcases[1].find("skipped") is not None


def test_errors_empty_suites_and_counts_per_suite(tmp_path):
    path = tmp_path / "ci.xml"
    junit.write(path, [
        junit.Suite("bakery build", [], classname="build"),
        junit.Suite("bakery verify web", [CheckResult(
            "tests/test_x.py (collecting tests)", False, 0.1, "SyntaxError: invalid syntax\nmore",
            outcome="error", group="tests", details="tests/test_x.py:1: SyntaxError")], classname="web"),
    ])
    root = ET.parse(path).getroot()
    assert root.get("tests") == "1" and root.get("errors") == "1" and root.get("failures") == "0"
    build, verify = root.findall("testsuite")
    assert build.get("name") == "bakery build" and build.get("tests") == "0"
    assert verify.get("errors") == "1"
    case = verify.find("testcase")
    assert case.get("classname") == "web.tests" and case.get("time") == "0.1"
    error = case.find("error")
    assert error.get("message") == "SyntaxError: invalid syntax"
    assert error.text.startswith("SyntaxError: invalid syntax\nmore") and "tests/test_x.py:1" in error.text
