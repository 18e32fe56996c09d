"""Load YAML while remembering where every key came from.

PyYAML's composer gives nodes with line marks; we turn them into plain Python
values and a ``lines`` map from key path (``strategy.canary.steps[1].weight``)
to its 1-based line, so that validation errors can name the line. Duplicate
keys, which ``yaml.safe_load`` silently collapses, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bakery.errors import DefinitionError


@dataclass
class Source:
    """A parsed YAML document and the line of each key path in it."""

    path: Path
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key_path: str) -> int | None:
        """The line of ``key_path``, or of its closest ancestor that has one."""
        probe = key_path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = _parent(probe)
        return self.lines.get("")

    def error(self, key_path: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, self.line_of(key_path), key_path or None, message)


def _parent(key_path: str) -> str:
    if key_path.endswith("]"):
        return key_path[: key_path.rindex("[")]
    if "." in key_path:
        return key_path.rsplit(".", 1)[0]
    return ""


def join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def display_path(path: Path, project_root: Path | None) -> Path:
    """``path`` relative to the project root when it lies inside it, else as given."""
    if project_root is None:
        return path
    try:
        return path.resolve().relative_to(project_root.resolve())
    except ValueError:
        return path


def load(path: Path, display_path: Path | None = None) -> Source:
    """Parse ``path``; every failure is a DefinitionError naming the file and line."""
    shown = display_path or path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(shown, None, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(shown, None, None, f"cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        if exc.problem_mark and exc.context and exc.context_mark and \
                exc.context_mark.line != exc.problem_mark.line:
            # "got ':'" on line 27 is where the parser gave up; "[" on line 26 is the mistake.
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise DefinitionError(shown, line, None, f"malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(shown, None, None, f"malformed YAML: {exc}") from None
    source = Source(path=shown, data=None)
    if node is None or (node.tag == "tag:yaml.org,2002:null" and isinstance(node, yaml.ScalarNode)):
        # Nothing, only comments, or a bare "---".
        raise DefinitionError(shown, 1, None, "file is empty")
    source.lines[""] = node.start_mark.line + 1
    source.data = _convert(node, "", source, set())
    return source


def _convert(node: yaml.Node, key_path: str, source: Source, active: set[int]) -> Any:
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        # An alias inside its own anchor (a: &x [*x]) makes a cycle; follow it and we recurse forever.
        if id(node) in active:
            raise DefinitionError(source.path, node.start_mark.line + 1, key_path or None,
                                  "malformed YAML: an alias refers to a node that contains it")
        active.add(id(node))
        try:
            return _convert_collection(node, key_path, source, active)
        finally:
            active.discard(id(node))
    return _scalar(node, source)


def _convert_collection(node: yaml.Node, key_path: str, source: Source, active: set[int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DefinitionError(
                    source.path, key_node.start_mark.line + 1, key_path or None,
                    "keys must be plain strings",
                )
            key = _scalar(key_node, source)
            child = join(key_path, str(key))
            if key in result:
                first = source.lines.get(child)
                raise DefinitionError(
                    source.path, key_node.start_mark.line + 1, child,
                    f"duplicate key (first defined on line {first})",
                )
            source.lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, source, active)
        return result
    items = []
    for index, item_node in enumerate(node.value):
        child = join(key_path, index)
        source.lines[child] = item_node.start_mark.line + 1
        items.append(_convert(item_node, child, source, active))
    return items


def _scalar(node: yaml.Node, source: Source) -> Any:
    try:
        return yaml.SafeLoader(""  ).construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        line = node.start_mark.line + 1
        raise DefinitionError(source.path, line, None, f"malformed YAML: {exc.problem}") from None
