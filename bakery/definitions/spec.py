"""A tiny declarative schema: validates parsed YAML and emits JSON Schema.

One description serves both `bakery lint` (precise messages with key paths)
and `bakery schema` (editor completion), so they cannot disagree.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from bakery.definitions.yamlsource import Source, join
from bakery.errors import DefinitionError


class Spec:
    description: str = ""
    #: what the value should be, for "should be X or Y" messages
    kind: str = "a value"

    def fits(self, value: Any) -> bool:
        """Whether ``value`` has the right type for this spec (its content may still be wrong)."""
        return True

    def check(self, value: Any, key_path: str, source: Source) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _with_description(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            schema["description"] = self.description
        return schema


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass
class Str(Spec):
    description: str = ""
    pattern: str | None = None
    pattern_hint: str = ""
    choices: tuple[str, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    max_hint: str = ""
    kind = "a string"

    def fits(self, value: Any) -> bool:
        return isinstance(value, str)

    def check(self, value: Any, key_path: str, source: Source) -> str:
        if not isinstance(value, str):
            raise source.error(key_path, f"should be a string, got {_type_name(value)}")
        if len(value) < self.min_length:
            raise source.error(key_path, "must not be empty")
        if self.max_length is not None and len(value) > self.max_length:
            raise source.error(key_path, f"should be at most {self.max_length} characters"
                               + (f" ({self.max_hint})" if self.max_hint else ""))
        if self.choices and value not in self.choices:
            raise source.error(key_path, f"should be one of {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise source.error(key_path, f"should be {self.pattern_hint or self.pattern}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return self._with_description(schema)


@dataclass
class Num(Spec):
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "an integer" if self.integer else "a number"

    def fits(self, value: Any) -> bool:
        ok = isinstance(value, int) if self.integer else isinstance(value, int | float)
        return ok and not isinstance(value, bool)

    def check(self, value: Any, key_path: str, source: Source) -> float | int:
        if not self.fits(value):
            raise source.error(key_path, f"should be {self.kind}, got {_type_name(value)}")
        if not math.isfinite(value):
            raise source.error(key_path, f"should be a finite number, got {value}")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise source.error(key_path, f"must be {_range(self.minimum, self.maximum)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return self._with_description(schema)


def _range(lo: float | None, hi: float | None) -> str:
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if lo is not None and hi is not None:
        return f"{fmt(lo)}..{fmt(hi)}"
    if lo is not None:
        return f">= {fmt(lo)}"
    return f"<= {fmt(hi)}"  # type: ignore[arg-type]


@dataclass
class Bool(Spec):
    description: str = ""
    kind = "true or false"

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)

    def check(self, value: Any, key_path: str, source: Source) -> bool:
        if not isinstance(value, bool):
            raise source.error(key_path, f"should be true or false, got {_type_name(value)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return self._with_description({"type": "boolean"})


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass
class Duration(Spec):
    """``500ms``, ``5s``, ``2m``, ``1h`` or a plain number of seconds; checked as seconds."""

    description: str = ""
    minimum: float = 0.0
    maximum: float | None = None
    kind = "a duration"

    def fits(self, value: Any) -> bool:
        return isinstance(value, int | float | str) and not isinstance(value, bool)

    def check(self, value: Any, key_path: str, source: Source) -> float:
        if isinstance(value, bool):
            raise source.error(key_path, "should be a duration like 5s, got a boolean")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            raise source.error(key_path, f"should be a duration like 500ms, 5s or 2m, got {value!r}")
        if not math.isfinite(seconds):
            raise source.error(key_path, f"should be a finite duration, got {value}")
        if seconds < self.minimum or (self.maximum is not None and seconds > self.maximum):
            raise source.error(key_path, f"must be {_range(self.minimum, self.maximum)} seconds")
        return seconds

    def json_schema(self) -> dict[str, Any]:
        return self._with_description(
            {"oneOf": [{"type": "number", "minimum": self.minimum},
                       {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}]}
        )


@dataclass
class ListOf(Spec):
    item: Spec
    description: str = ""
    min_items: int = 0
    unique: bool = False
    kind = "a list"

    def fits(self, value: Any) -> bool:
        return isinstance(value, list)

    def check(self, value: Any, key_path: str, source: Source) -> list[Any]:
        if not isinstance(value, list):
            raise source.error(key_path, f"should be a list, got {_type_name(value)}")
        if len(value) < self.min_items:
            raise source.error(key_path, f"needs at least {self.min_items} item(s)")
        checked = [self.item.check(v, join(key_path, i), source) for i, v in enumerate(value)]
        if self.unique:
            seen: set[str] = set()
            for index, item in enumerate(checked):
                marker = repr(item)
                if marker in seen:
                    raise source.error(join(key_path, index), f"duplicate entry {item!r}")
                seen.add(marker)
        return checked

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        return self._with_description(schema)


@dataclass
class MapOf(Spec):
    """A mapping with free string keys (env, labels)."""

    value: Spec
    description: str = ""
    key_pattern: str | None = None
    key_hint: str = ""
    kind = "a mapping"

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, key_path: str, source: Source) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise source.error(key_path, f"should be a mapping, got {_type_name(value)}")
        result = {}
        for key, item in value.items():
            child = join(key_path, str(key))
            if not isinstance(key, str):
                raise source.error(child, "keys must be strings")
            if self.key_pattern and not re.fullmatch(self.key_pattern, key):
                raise source.error(child, f"key should be {self.key_hint or self.key_pattern}")
            result[key] = self.value.check(item, child, source)
        return result

    def json_schema(self) -> dict[str, Any]:
        return self._with_description(
            {"type": "object", "additionalProperties": self.value.json_schema()}
        )


@dataclass
class OneOf(Spec):
    """The first alternative whose type fits decides; its message is the one shown.

    So ``cmd: []`` reads "needs at least 1 item(s)" and ``cmd: [nginx, 5]`` names
    ``cmd[1]``, rather than "should be a string" from the alternative that never applied.
    """

    options: tuple[Spec, ...]
    description: str = ""

    @property
    def kind(self) -> str:  # type: ignore[override]
        return " or ".join(o.kind for o in self.options)

    def fits(self, value: Any) -> bool:
        return any(o.fits(value) for o in self.options)

    def check(self, value: Any, key_path: str, source: Source) -> Any:
        fitting = [o for o in self.options if o.fits(value)]
        if not fitting:
            raise source.error(key_path, f"should be {self.kind}, got {_type_name(value)}")
        first_error: DefinitionError | None = None
        for option in fitting:
            try:
                return option.check(value, key_path, source)
            except DefinitionError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    def json_schema(self) -> dict[str, Any]:
        return self._with_description({"oneOf": [o.json_schema() for o in self.options]})


@dataclass
class Obj(Spec):
    fields: dict[str, Spec]
    required: tuple[str, ...] = ()
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    kind = "a mapping"

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, key_path: str, source: Source) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise source.error(key_path, f"should be a mapping, got {_type_name(value)}")
        for key in value:
            if key not in self.fields:
                child = join(key_path, str(key))
                hint = difflib.get_close_matches(str(key), list(self.fields), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                known = ", ".join(self.fields)
                raise source.error(child, f"unknown key{suggestion}; known keys: {known}")
        for key in self.required:
            if key not in value:
                raise source.error(key_path, f"missing required key {key!r}")
        result = {}
        for key, spec in self.fields.items():
            if key in value:
                result[key] = spec.check(value[key], join(key_path, key), source)
            elif key in self.defaults:
                result[key] = self.defaults[key]
        return result

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: s.json_schema() for k, s in self.fields.items()},
        }
        if self.required:
            schema["required"] = list(self.required)
        return self._with_description(schema)
