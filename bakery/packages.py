"""Package manifests: what is installed in a root filesystem, and how two manifests differ.

Pure: parses dpkg's status file; the engine code fetches the bytes.
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
    """Installed packages from /var/lib/dpkg/status, sorted by name."""
    packages = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if "Package" in fields and fields.get("Status", "").endswith(" installed"):
            packages.append(Package(fields["Package"], fields.get("Version", ""),
                                    fields.get("Architecture", "")))
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
