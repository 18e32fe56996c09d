"""Patch version numbers: build metadata, ordering, next number. Pure."""

from __future__ import annotations

import pytest

from bakery.patch import versions


def test_patch_version_is_build_metadata_on_the_definition_version() -> None:
    assert versions.patch_version("1.2.3", 1) == "1.2.3+patch.1"
    assert versions.patch_version("2.0.0-rc.1", 4) == "2.0.0-rc.1+patch.4"


@pytest.mark.parametrize(("version", "base", "n"), [
    ("1.2.3", "1.2.3", 0),
    ("1.2.3+patch.7", "1.2.3", 7),
    ("1.2.3-rc.1+patch.2", "1.2.3-rc.1", 2),
    ("1.2.3+build.5", "1.2.3", 0),  # someone else's metadata is not a patch number
])
def test_base_version_and_patch_number(version: str, base: str, n: int) -> None:
    assert versions.base_version(version) == base
    assert versions.patch_number(version) == n
    assert versions.is_patch(version) is (n > 0)


def test_next_patch_version_counts_only_its_own_definition_version() -> None:
    existing = ["1.0.0", "1.0.0+patch.1", "1.0.0+patch.3", "1.1.0+patch.9", "garbage"]
    assert versions.next_patch_version("1.0.0", existing) == "1.0.0+patch.4"
    assert versions.next_patch_version("1.1.0", existing) == "1.1.0+patch.10"
    assert versions.next_patch_version("2.0.0", existing) == "2.0.0+patch.1"
    assert versions.next_patch_version("1.0.0", []) == "1.0.0+patch.1"


def test_order_puts_patches_after_their_release_and_before_the_next() -> None:
    shuffled = ["1.0.1", "1.0.0+patch.10", "1.0.0-rc.1", "1.0.0", "1.0.0+patch.2",
                "1.0.0-rc.1+patch.1", "0.9.9+patch.1", "1.0.0-alpha", "1.0.0-rc.2"]
    assert sorted(shuffled, key=versions.sort_key) == [
        "0.9.9+patch.1", "1.0.0-alpha", "1.0.0-rc.1", "1.0.0-rc.1+patch.1", "1.0.0-rc.2",
        "1.0.0", "1.0.0+patch.2", "1.0.0+patch.10", "1.0.1",
    ]


def test_semver_prerelease_precedence_rules() -> None:
    # semver 11.4: numeric < alphanumeric, numeric compared as numbers, longer set wins a tie.
    ordered = ["1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1",
               "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"]
    assert sorted(reversed(ordered), key=versions.sort_key) == ordered


def test_docker_tag_has_no_plus() -> None:
    assert versions.docker_tag("1.2.3+patch.2") == "1.2.3_patch.2"
    assert versions.docker_tag("1.2.3") == "1.2.3"


def test_version_tag_of_a_patched_build_is_a_valid_docker_tag() -> None:
    from bakery.build.fingerprint import version_tag

    assert version_tag("web", "1.0.0+patch.2") == "bakery/web:1.0.0_patch.2"


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3", "1.2.3+", "01.2.3"])
def test_not_a_version(bad: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        versions.base_version(bad)


def test_patch_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        versions.patch_version("1.0.0", 0)


# one parser for the whole package (issue 9.6): the definition, verify and patch agree ---------

@pytest.mark.parametrize("bad", ["1.0.0-a..b", "1.0.0-", "1.0.0-01", "1.0.0-rc..1", "1.0.0-.x"])
def test_definition_verify_and_patch_refuse_the_same_malformed_versions(tmp_path, bad: str) -> None:
    from bakery.definitions.image import load_image
    from bakery.errors import DefinitionError, UsageError
    from bakery.verify.runner import parse_ref

    folder = tmp_path / "images" / "t"
    folder.mkdir(parents=True)
    (folder / "image.yaml").write_text(f"name: t\nversion: '{bad}'\nbase: debian:bookworm\n")
    with pytest.raises(DefinitionError) as caught:
        load_image(folder / "image.yaml", tmp_path)
    assert (caught.value.line, caught.value.key) == (2, "version")
    with pytest.raises(UsageError, match="is not a version"):
        parse_ref(f"t:{bad}")
    with pytest.raises(ValueError, match="not a semantic version"):
        versions.base_version(bad)


def test_the_schema_pattern_for_editors_agrees_with_the_parser() -> None:
    import re

    from bakery.definitions import versions as shared

    samples = ["1.2.3", "0.0.0", "1.2.3-rc.1", "1.2.3-0.a-b.c", "1.0.0-a..b", "1.0.0-01", "01.0.0",
               "1.2", "1.2.3+patch.1", "1.2.3-", "v1.2.3", "1.2.3-alpha-1", "1.0.0-0"]
    for sample in samples:
        assert bool(re.fullmatch(shared.DEFINITION_VERSION_PATTERN, sample)) == \
            shared.is_definition_version(sample), sample


def test_verify_does_not_import_patch() -> None:
    import ast
    from pathlib import Path

    import bakery.verify

    for path in Path(bakery.verify.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("bakery.patch"), path.name
