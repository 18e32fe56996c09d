"""Hostile definition files: the YAML loader bounds size, depth and alias expansion.

Each case must end in one DefinitionError naming file and line (exit 2 from `bakery lint`),
refused *before* anything is expanded, so memory and time are bounded by construction
(the tests check the refusal and where it happens, never a wall-clock time).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.definitions import yamlsource
from bakery.errors import DefinitionError

HEAD = "name: t\nversion: 1.0.0\nbase: debian:bookworm\n"


@pytest.fixture(autouse=True, params=["libyaml-prescan", "pure-python"])
def loader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case twice: with libyaml's fast pre-scan, and with only the pure-Python loader
    (which is what runs when libyaml is missing or cannot parse the file)."""
    if request.param == "pure-python":
        monkeypatch.setattr(yamlsource, "_prescan", lambda text: None)
    return request.param


def write(root: Path, data: str | bytes, name: str = "t") -> Path:
    folder = root / "images" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.yaml"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def load_error(root: Path, data: str | bytes) -> DefinitionError:
    path = write(root, data)
    with pytest.raises(DefinitionError) as caught:
        yamlsource.load(path, Path("images/t/image.yaml"))
    assert caught.value.exit_code == 2
    assert caught.value.line is not None, "every error names its line"
    return caught.value


def lint(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--project", str(root), "lint"])
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.output


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return HEAD + "labels:\n" + "".join(f"  {line}\n" for line in lines)


@pytest.fixture
def no_compose_past_limits(monkeypatch: pytest.MonkeyPatch):
    """Fail the test if the loader turns any node into a Python value after refusing."""
    calls: list[int] = []
    real = yamlsource._convert

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(yamlsource, "_convert", counting)
    return calls


def test_alias_bomb_is_refused_before_expanding(tmp_path: Path, no_compose_past_limits) -> None:
    text = billion_laughs()
    assert len(text.encode()) < 1000  # a few hundred bytes that would expand to 9**10 strings
    err = load_error(tmp_path, text)
    assert "aliases" in err.message and str(yamlsource.MAX_NODES) in err.message
    assert 5 <= err.line <= 14
    assert no_compose_past_limits == []  # refused while composing: nothing was expanded


def test_alias_bomb_through_lint_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, billion_laughs())
    code, output = lint(tmp_path)
    assert code == 2 and "images/t/image.yaml:" in output and "aliases" in output


def test_aliases_of_a_long_string_are_bounded_by_characters(tmp_path: Path) -> None:
    big = "x" * 200_000
    refs = ", ".join(["*s"] * 20)
    err = load_error(tmp_path, HEAD + f"description: &s {big}\nlabels:\n  a: [{refs}]\n")
    assert err.line == 6 and "characters" in err.message


def test_a_few_honest_aliases_are_fine(tmp_path: Path) -> None:
    text = HEAD + "env: &e\n  A: '1'\nlabels:\n  x: &t hello\n  y: *t\n"
    source = yamlsource.load(write(tmp_path, text))
    assert source.data["labels"] == {"x": "hello", "y": "hello"}


@pytest.mark.parametrize("depth", [200, 5000, 100_000])
def test_deep_flow_nesting_is_refused_not_a_recursion_error(tmp_path: Path, depth: int) -> None:
    err = load_error(tmp_path, HEAD + "labels: " + "[" * depth + "]" * depth + "\n")
    assert err.line == 4
    assert f"deeper than {yamlsource.MAX_DEPTH}" in err.message


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    body = "".join(" " * i + f"k{i}:\n" for i in range(200))
    err = load_error(tmp_path, HEAD + "labels:\n" + "".join("  " + line for line in body.splitlines(True)))
    assert f"deeper than {yamlsource.MAX_DEPTH}" in err.message


def test_aliases_count_towards_depth(tmp_path: Path) -> None:
    half = yamlsource.MAX_DEPTH // 2 + 2
    nested = "[" * half + "]" * half
    err = load_error(tmp_path, HEAD + f"x: &d {nested}\nlabels:\n  y: {'[' * half}*d{']' * half}\n")
    assert err.line == 6 and f"deeper than {yamlsource.MAX_DEPTH}" in err.message


def test_deep_nesting_through_lint_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, HEAD + "labels: " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, output = lint(tmp_path)
    assert code == 2 and "images/t/image.yaml:4:" in output


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    err = load_error(tmp_path, HEAD + "description: " + "x" * (5 * 1024 * 1024) + "\n")
    assert err.line == 1
    assert "1 MiB" in err.message and "431" in err.message


def test_not_utf8_names_its_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, HEAD.encode() + b"description: caf\xe9 au lait\n")
    assert err.line == 4
    assert "not UTF-8" in err.message and "0xe9" in err.message


def test_a_control_character_names_its_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, HEAD + "description: a\x07b\n")
    assert err.line == 4 and "malformed YAML" in err.message
