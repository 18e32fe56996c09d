"""Package manifests: what is installed in a root filesystem, and how two manifests differ.

Pure: parses dpkg's status file (deb822, with python-debian); the engine code fetches the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Package:
    name: str
    version: str
    arch: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "arch": self.arch}


def parse_dpkg_status(text: str) -> list[Package]:
    """Installed packages from /var/lib/dpkg/status, sorted by name.

    python-debian reads the deb822 format (multi-line fields, continuation lines, field names
    in any case); the Status field's last word is the package's state."""
    # Loaded on first use: most bakery commands never read a status file.
    from debian.deb822 import Deb822

    packages = []
    for stanza in Deb822.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False):
        if "Package" in stanza and stanza.get("Status", "").split()[-1:] == ["installed"]:
            packages.append(Package(stanza["Package"], stanza.get("Version", ""),
                                    stanza.get("Architecture", "")))
    return sorted(packages)


def parse_dpkg_query(text: str, mark: str) -> list[Package]:
    """Installed packages from ``dpkg-query -W -f='MARK ${db:Status-Abbrev}|${Package}|${Version}|
    ${Architecture}\\n'`` output mixed into other text (a build log), sorted by name.

    Only lines starting with ``mark`` count; the status abbreviation's second letter ``i`` is
    dpkg's "installed", the state parse_dpkg_status keeps."""
    packages = []
    for line in text.splitlines():
        if not line.startswith(mark + " "):
            continue
        fields = line[len(mark) + 1:].split("|")
        if len(fields) == 4 and fields[0][1:2] == "i" and fields[1]:
            packages.append(Package(fields[1], fields[2], fields[3].strip()))
    return sorted(packages)


def manifest_to_text(packages: list[Package]) -> str:
    return "\n".join(f"{p.name}={p.version}" for p in packages)


@dataclass(frozen=True)
class PackageChange:
    name: str
    old: str | None  # None: added
    new: str | None  # None: removed

    def __str__(self) -> str:
        if self.old is None:
            return f"+ {self.name} {self.new}"
        if self.new is None:
            return f"- {self.name} {self.old}"
        return f"  {self.name} {self.old} -> {self.new}"


def _by_name(packages: list[Package]) -> dict[str, str]:
    """name -> version; a name installed for several architectures keeps them apart (name:arch)."""
    counts: dict[str, int] = {}
    for p in packages:
        counts[p.name] = counts.get(p.name, 0) + 1
    return {(p.name if counts[p.name] == 1 else f"{p.name}:{p.arch}"): p.version for p in packages}


def diff_manifests(old: list[Package], new: list[Package]) -> list[PackageChange]:
    """Added, removed and changed packages, sorted by name."""
    before, after = _by_name(list(old)), _by_name(list(new))
    return [PackageChange(name, before.get(name), after.get(name))
            for name in sorted(before.keys() | after.keys())
            if before.get(name) != after.get(name)]
