"""Load policy/*.rego and evaluate it with regopy (OPA's Rego, in-process, no server).

regopy prints compile errors on the process's stdout (from C++) and raises a RegoError whose
text is an AST dump; we capture the printed report and turn it into one DefinitionError that
names the file and line, so a syntax error is bad input (exit 2) like any other.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakery.errors import DefinitionError

PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
# "-- policy/x.rego:4:7" in regopy's printed error report
WHERE = re.compile(r"^-- (.+?):(\d+):(\d+)\s*$", re.MULTILINE)
# "(error 13:policy/x.rego|43|2" in the RegoError text: file, byte offset, length
OFFSET = re.compile(r"\(error \d+:(.+?)\|(\d+)\|\d+")

_stdout_lock = threading.Lock()


@dataclass
class PolicySet:
    """The compiled policies of one project, ready to evaluate inputs."""

    files: dict[str, str] = field(default_factory=dict)   # relative path -> source
    packages: list[str] = field(default_factory=list)
    package_files: dict[str, list[str]] = field(default_factory=dict)
    interpreter: Any = None
    bundle: Any = None

    def origin(self, package: str) -> str:
        """The policy file a package lives in (the package name when it spans several files)."""
        files = self.package_files.get(package, [])
        return files[0] if len(files) == 1 else package

    def __bool__(self) -> bool:
        return bool(self.files)


def policy_dir(root: Path) -> Path:
    return root / "policy"


def policy_files(root: Path) -> list[Path]:
    folder = policy_dir(root)
    if not folder.is_dir():
        return []
    # conftest's layout: policies, not their tests (x_test.rego) and not data files.
    return sorted(p for p in folder.glob("*.rego") if not p.stem.endswith("_test"))


@contextmanager
def _captured_stdout() -> Iterator[list[str]]:
    """Send fd 1 to a temporary file while regopy runs; yields a list that receives the text."""
    captured: list[str] = []
    with _stdout_lock, tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def _compile_error(files: dict[str, str], fallback: str, printed: str,
                   raw: str) -> DefinitionError:
    """One DefinitionError naming the policy file, the line and regopy's first message."""
    rel, line = fallback, None
    if m := WHERE.search(printed):
        rel, line = m.group(1), int(m.group(2))
    elif m := OFFSET.search(raw):
        rel = m.group(1) if m.group(1) in files else fallback
        line = files.get(rel, "").encode("utf-8")[: int(m.group(2))].count(b"\n") + 1
    message = "Rego error"
    lines = [x.strip() for x in printed.splitlines()]
    if "Errors:" in lines:
        following = lines[lines.index("Errors:") + 1:]
        message = next((x for x in following if x), message)
    elif m := re.search(r"\(errormsg \d+:([^)]*)\)", raw):
        message = m.group(1)
    return DefinitionError(rel, line, None, f"invalid Rego: {message}")


def _query(packages: list[str]) -> str:
    """One query binding every package (p0 := data.a; p1 := data.b): one compilation."""
    return "; ".join(f"p{index} := data.{pkg}" for index, pkg in enumerate(packages))


def load(root: Path) -> PolicySet:
    """Read and compile every policy file; raises DefinitionError (exit 2) for a bad one.

    The modules and one query over all packages are compiled once into a bundle, which
    each input is then evaluated against (rego-cpp would recompile on every plain query)."""
    paths = policy_files(root)
    policies = PolicySet()
    if not paths:
        return policies
    import regopy  # deferred: a native library, needed only when a project has policies

    interpreter = regopy.Interpreter()
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DefinitionError(rel, None, None, f"cannot read: {exc}") from None
        found = PACKAGE.search(source)
        if not found:
            raise DefinitionError(rel, 1, None, "invalid Rego: no package declaration")
        policies.files[rel] = source
        with _captured_stdout() as printed:
            try:
                interpreter.add_module(rel, source)
                error = None
            except regopy.RegoError as exc:
                error = str(exc)
        if error is not None:
            raise _compile_error(policies.files, rel, "".join(printed), error)
        if found.group(1) not in policies.packages:
            policies.packages.append(found.group(1))
        policies.package_files.setdefault(found.group(1), []).append(rel)
    with _captured_stdout() as printed:
        try:
            policies.bundle = interpreter.build(_query(policies.packages), [])
            error = None
        except regopy.RegoError as exc:
            error = str(exc)
    if error is not None:
        raise _compile_error(policies.files, next(iter(policies.files)), "".join(printed), error)
    policies.interpreter = interpreter
    return policies


def _run(policies: PolicySet, document: dict[str, Any]) -> str:
    """The bundle's result for ``document`` as regopy's text: JSON, or an ``(error …)`` tree.

    Read through regopy's C-API wrapper (its public ``rego_shared`` module) rather than
    ``Interpreter.query_bundle``, whose Output parses the text itself and loses the error."""
    from regopy import rego_shared  # deferred, see load()

    policies.interpreter.set_input_term(json.dumps(document))
    impl = rego_shared.rego_bundle_query(policies.interpreter._impl, policies.bundle._impl)  # noqa: SLF001
    try:
        return rego_shared.rego_output_string(impl)
    finally:
        rego_shared.rego_free_output(impl)


def evaluate(policies: PolicySet, document: dict[str, Any],
             subject: str = "the input") -> list[tuple[str, str, Any]]:
    """(package, rule, result) for every deny/warn-style rule that holds for ``document``.

    A rule that fails at run time (an unknown function, a conflict) is bad input too: exit 2
    naming the policies and regopy's message (run-time errors carry no line)."""
    if not policies:
        return []
    import regopy  # deferred, see load()

    with _captured_stdout():
        try:
            text = _run(policies, document)
        except regopy.RegoError as exc:
            text = f"(error (errormsg 0:{exc}))"
    where = "policy/*.rego" if len(policies.files) > 1 else next(iter(policies.files))
    if text.startswith("(error"):
        m = re.search(r"\(errormsg \d+:([^\n]*?)\)?\n", text + "\n")
        raise DefinitionError(where, None, None, f"evaluating {subject} failed: "
                              + (m.group(1).strip() if m else text.strip()[:200]))
    if text.strip() == "undefined":
        return []
    try:
        result = json.loads(text)
    except ValueError:
        # rego-cpp writes strings unescaped; a message holding a quote breaks the JSON.
        raise DefinitionError(where, None, None, f"evaluating {subject} gave an unreadable result "
                              "(a message with a double quote in it?): " + text[:200]) from None
    first = result[0] if isinstance(result, list) and result else result
    bindings = first.get("bindings", {}) if isinstance(first, dict) else {}
    out: list[tuple[str, str, Any]] = []
    for index, pkg in enumerate(policies.packages):
        value = bindings.get(f"p{index}")
        if not isinstance(value, dict):
            continue
        for rule, items in sorted(value.items()):
            if not isinstance(items, list | dict):
                continue
            for item in items if isinstance(items, list) else list(items):
                out.append((pkg, rule, item))
    return out
