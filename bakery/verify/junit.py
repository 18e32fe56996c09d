"""JUnit XML from check results (one testsuite per image, or lint/build steps in `bakery ci`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from bakery.verify.model import ERROR, FAILED, SKIPPED, CheckResult


@dataclass
class Suite:
    name: str
    cases: list[CheckResult] = field(default_factory=list)
    classname: str = ""  # prefix for each case's classname; defaults to the suite name


def _failure_text(case: CheckResult) -> str:
    parts = [case.message]
    if case.command:
        parts.append(f"command run in the container:\n$ {case.command}")
    if case.output:
        parts.append(f"its output:\n{case.output}")
    if case.details and case.details != case.message:
        parts.append(case.details)
    return "\n\n".join(p for p in parts if p)


def to_element(suites: list[Suite]) -> ET.Element:
    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for suite in suites:
        counts = {"tests": len(suite.cases),
                  "failures": sum(c.outcome == FAILED for c in suite.cases),
                  "errors": sum(c.outcome == ERROR for c in suite.cases),
                  "skipped": sum(c.outcome == SKIPPED for c in suite.cases),
                  "time": sum(c.duration for c in suite.cases)}
        node = ET.SubElement(root, "testsuite", name=suite.name,
                             **{k: (f"{v:.3f}" if k == "time" else str(v)) for k, v in counts.items()})
        for key in totals:
            totals[key] += counts[key]
        for case in suite.cases:
            prefix = suite.classname or suite.name
            element = ET.SubElement(node, "testcase", classname=f"{prefix}.{case.group}",
                                    name=case.name, time=f"{case.duration:.3f}")
            if case.outcome in (FAILED, ERROR):
                tag = "failure" if case.outcome == FAILED else "error"
                failure = ET.SubElement(element, tag, message=case.message.splitlines()[0]
                                        if case.message else case.outcome)
                failure.text = _failure_text(case)
            elif case.outcome == SKIPPED:
                ET.SubElement(element, "skipped", message=case.message)
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    return root


def write(path: Path, suites: list[Suite]) -> None:
    tree = ET.ElementTree(to_element(suites))
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
