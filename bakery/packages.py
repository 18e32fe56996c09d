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


def diff_manifests(old: list[Package], new: list[Package]) -> list[PackageChange]:
    """Added, removed and changed packages, by name (architecture folded in the name if mixed)."""
    before = {p.name if p.arch in ("all", "") else f"{p.name}:{p.arch}": p.version for p in old}
    after = {p.name if p.arch in ("all", "") else f"{p.name}:{p.arch}": p.version for p in new}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if before.get(name) != after.get(name):
            changes.append(PackageChange(name, before.get(name), after.get(name)))
    return changes
