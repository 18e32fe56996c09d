"""dpkg status parsing and manifest diffs, as data cases."""

from __future__ import annotations

import pytest

from bakery.packages import Package, PackageChange, diff_manifests, parse_dpkg_status

STATUS = """Package: nginx-light
Status: install ok installed
Architecture: amd64
Version: 1.22.1-9
Description: small nginx
 continued line: with a colon

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 0.1

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
"""


def test_parse_keeps_only_installed_packages_sorted():
    assert parse_dpkg_status(STATUS) == [
        Package("base-files", "12.4+deb12u5", "amd64"),
        Package("nginx-light", "1.22.1-9", "amd64"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ([("a", "1")], [("a", "1")], []),
        ([("a", "1")], [("a", "2")], [PackageChange("a", "1", "2")]),
        ([], [("b", "1")], [PackageChange("b", None, "1")]),
        ([("c", "1")], [], [PackageChange("c", "1", None)]),
        ([("a", "1"), ("z", "3")], [("a", "1"), ("z", "4")], [PackageChange("z", "3", "4")]),
    ],
)
def test_diff_manifests(old, new, expected):
    def pkgs(rows):
        return [Package(n, v, "amd64") for n, v in rows]

    assert diff_manifests(pkgs(old), pkgs(new)) == expected


def test_change_renders_as_a_changelog_line():
    assert str(PackageChange("pkg", "1", "2")) == "  pkg 1 -> 2"
    assert str(PackageChange("pkg", None, "2")) == "+ pkg 2"
    assert str(PackageChange("pkg", "1", None)) == "- pkg 1"
