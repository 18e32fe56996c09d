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


MULTILINE = """Package: libc-bin
Status: install ok installed
Priority: required
Architecture: amd64
Version: 2.36-9+deb12u4
Conffiles:
 /etc/bindresvport.blacklist 4c09213317e4e3dd3c71d74404e503c5
 /etc/ld.so.conf 4317c6de8564b68d628c21efa96b37e4
Description: GNU C Library: Binaries
 This package contains utility programs related to the GNU C Library.
 .
 Package: not-a-package
 Status: install ok installed
 Version: 9.9


package: lowercase-keys
status: install ok installed
architecture: all
version: 1.0
description: field names are case-insensitive in deb822

Package: held
Status: hold ok installed
Architecture: amd64
Version: 3
Package-Type: deb

Package: last
Status: install ok half-installed
Architecture: amd64
Version: 4"""


def test_multi_line_fields_and_continuation_lines():
    """Continuation lines that look like fields belong to the field above; several blank lines
    separate stanzas; field names are case-insensitive; no trailing newline is needed."""
    assert parse_dpkg_status(MULTILINE) == [
        Package("held", "3", "amd64"),
        Package("libc-bin", "2.36-9+deb12u4", "amd64"),
        Package("lowercase-keys", "1.0", "all"),
    ]
