"""Load YAML while remembering where every key came from.

PyYAML's composer gives nodes with line marks; we turn them into plain Python
values and a ``lines`` map from key path (``strategy.canary.steps[1].weight``)
to its 1-based line, so that validation errors can name the line. Duplicate
keys, which ``yaml.safe_load`` silently collapses, are an error here.

Hostile files are refused while composing, before any alias is expanded into Python values:
the file's size, the nesting depth and the size an alias expansion *would* reach (nodes and
characters, computed from the anchors' sizes without expanding) are bounded, so a few hundred
bytes of nested aliases ("billion laughs") or ``[[[[...`` cannot take minutes, gigabytes or
Python's recursion limit. The limits sit far above any real definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bakery.errors import DefinitionError

#: The engine takes a build request of at most 1 MiB of request line and headers (Go's
#: http.DefaultMaxHeaderBytes; above it: HTTP 431), and the definition travels in that request
#: as labels; a definition file larger than that can never be built.
MAX_FILE_BYTES = 1024 * 1024
#: Nesting deeper than this is no definition (the deepest real key path has 5 levels) and would
#: otherwise reach Python's recursion limit in the composer.
MAX_DEPTH = 64
#: Values (scalars and collections) after alias expansion; 10,000 packages are 10,001. Also
#: bounds time: PyYAML composes about 40,000 values a second.
MAX_NODES = 20_000
#: Characters of scalar text after alias expansion: twice what the file itself may hold.
MAX_CHARS = 2 * MAX_FILE_BYTES


class _LimitError(Exception):
    def __init__(self, mark: yaml.Mark, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Budget:
    """What a stream of parse events would expand to, measured without expanding anything.

    Every anchored value's expanded size (values, characters, height) is recorded when its
    events end; an alias adds its anchor's recorded size, so the exponential growth of nested
    aliases is measured in one linear pass and refused at the alias that tips it.
    """

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[int, int, int]] = {}  # anchor -> (values, chars, height)
        self.nodes = 0
        self.chars = 0
        self.open: list[list[Any]] = []  # per open collection: [anchor, nodes, chars, tallest child]

    def _add(self, nodes: int, chars: int, height: int, mark: yaml.Mark) -> None:
        self.nodes += nodes
        self.chars += chars
        if self.nodes > MAX_NODES:
            raise _LimitError(mark, f"too many values: aliases and items expand to more than "
                                    f"{MAX_NODES} values")
        if self.chars > MAX_CHARS:
            raise _LimitError(mark, f"too large: aliases expand to more than {MAX_CHARS} characters")
        if len(self.open) + height > MAX_DEPTH:
            raise _LimitError(mark, f"nested deeper than {MAX_DEPTH} levels")
        if self.open:
            self.open[-1][3] = max(self.open[-1][3], height)

    def see(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):
            self._add(1, len(event.value), 1, event.start_mark)
            if event.anchor:
                self.sizes[event.anchor] = (1, len(event.value), 1)
        elif isinstance(event, yaml.AliasEvent):
            # An anchor still open (a: &x [*x]) has no size yet; that cycle is reported by
            # _convert, which names its key.
            self._add(*self.sizes.get(event.anchor, (1, 0, 1)), event.start_mark)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                raise _LimitError(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            self.open.append([event.anchor, self.nodes, self.chars, 0])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes, chars, tallest = self.open.pop()
            size = (self.nodes - nodes + 1, self.chars - chars, tallest + 1)
            self._add(1, 0, tallest + 1, event.start_mark)
            if anchor:
                self.sizes[anchor] = size


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer sees every event through a _Budget before composing it, so
    it stops at the limits with its recursion at most MAX_DEPTH deep."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.budget = _Budget()

    def get_event(self) -> yaml.Event:
        event = super().get_event()
        self.budget.see(event)
        return event

    def fetch_flow_collection_start(self, token_class: type) -> None:
        # The scanner looks up to 1024 characters ahead for a simple key, with work per open
        # flow level: refuse "[[[[..." as it is read, before that look-ahead grows quadratic.
        if self.flow_level >= MAX_DEPTH:
            raise _LimitError(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(token_class)


def _prescan(text: str) -> None:
    """Refuse a file over the limits at libyaml's speed (PyYAML's pure-Python composer takes
    ~25 us a value: 0.5 s to reach MAX_NODES). Only an accelerator: on any parse error it
    stays silent, and _BoundedLoader, which reports errors in PyYAML's words, measures again."""
    if not getattr(yaml, "__with_libyaml__", False):
        return
    budget = _Budget()
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            budget.see(event)
    except yaml.YAMLError:
        return


@dataclass
class Source:
    """A parsed YAML document and the line of each key path in it."""

    path: Path
    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    #: one constructor per file: scalars are built by the same rules as yaml.safe_load
    constructor: yaml.SafeLoader = field(default_factory=lambda: yaml.SafeLoader(""), repr=False,
                                         compare=False)

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
    text = _read(path, shown)
    try:
        _prescan(text)
        node = yaml.compose(text, Loader=_BoundedLoader)
    except _LimitError as exc:
        raise DefinitionError(shown, exc.mark.line + 1, None, exc.message) from None
    except yaml.reader.ReaderError as exc:
        # A control character: the reader knows only its offset in the text.
        line = text.count("\n", 0, exc.position) + 1
        raise DefinitionError(shown, line, None, f"malformed YAML: character #x{exc.character:04x} "
                              "is not allowed (control characters cannot appear in YAML)") from None
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


def _read(path: Path, shown: Path) -> str:
    """The file's text; too large, unreadable or not UTF-8 is a DefinitionError with a line."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DefinitionError(shown, None, None, "file not found") from None
    except OSError as exc:
        raise DefinitionError(shown, None, None, f"cannot read: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError(shown, 1, None, "file is larger than 1 MiB: the engine refuses a "
                              "build request over 1 MiB of headers (HTTP 431), and the definition "
                              "travels in it as labels")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DefinitionError(shown, line, None, f"not UTF-8: byte 0x{data[exc.start]:02x} at "
                              f"column {column}; save the file as UTF-8") from None


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
        return source.constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        line = node.start_mark.line + 1
        raise DefinitionError(source.path, line, None, f"malformed YAML: {exc.problem}") from None
