"""JUnit XML from check results (one testsuite per image, or lint/build steps in `bakery ci`),
written with junitparser rather than by hand: it knows the schema CI servers read.

Same content as before: one ``testcase`` per check (classname ``<prefix>.<group>``), a
``failure`` or ``error`` whose message is the assertion's first line and whose text holds the
assertion, the command run in the container and its output; ``skipped`` with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bakery.verify.model import ERROR, FAILED, SKIPPED, CheckResult


@dataclass
class Suite:
    name: str
    cases: list[CheckResult] = field(default_factory=list)
    classname: str = ""  # prefix for each case's classname; defaults to the suite name


def failure_text(case: CheckResult) -> str:
    """The body of a failure: assertion, command run in the container, its output. Pure."""
    parts = [case.message]
    if case.command:
        parts.append(f"command run in the container:\n$ {case.command}")
    if case.output:
        parts.append(f"its output:\n{case.output}")
    if case.details and case.details != case.message:
        parts.append(case.details)
    return "\n\n".join(p for p in parts if p)


def write(path: Path, suites: list[Suite]) -> None:
    # junitparser (and its lxml-free ElementTree) loads only when a report is written.
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

    xml = JUnitXml()
    for suite in suites:
        node = TestSuite(suite.name)
        for case in suite.cases:
            testcase = TestCase(case.name, f"{suite.classname or suite.name}.{case.group}",
                                round(case.duration, 3))
            if case.outcome in (FAILED, ERROR):
                result = (Failure if case.outcome == FAILED else Error)(
                    case.message.splitlines()[0] if case.message else case.outcome)
                result.text = failure_text(case)
                testcase.result = [result]
            elif case.outcome == SKIPPED:
                testcase.result = [Skipped(case.message)]
            node.add_testcase(testcase)
        node.update_statistics()
        node.time = round(sum(c.duration for c in suite.cases), 3)
        xml.add_testsuite(node)
    xml.update_statistics()
    xml.time = round(sum(c.duration for s in suites for c in s.cases), 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path), pretty=True)
