"""Which package upgrades an image has pending, read from apt's own answer. Pure.

The probe (probe.py) runs ``apt-get update`` and ``apt-cache policy`` for every installed
package inside a throwaway container of the image; this module reads that output and
compares apt's candidate versions with the image's recorded manifest. A candidate that
differs from the installed version is what a patch rebuild would install, so the rebuild is
worth doing; when nothing differs the rebuild would make the same manifest and is skipped.

Why ``apt-cache policy`` and not ``apt-get -s upgrade``: it names the candidate of every
package (the version ``apt-get install`` in a definition's run step would take as well as
``apt-get upgrade``), and its version table says whether any configured source still offers
the package at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bakery.packages import Package, PackageChange

# apt's "no version" in policy output; where dpkg's own database shows up as a source.
NONE = "(none)"
DPKG_STATUS = "/var/lib/dpkg/status"


@dataclass(frozen=True)
class Policy:
    """One package in ``apt-cache policy`` output (LC_ALL=C)."""

    installed: str | None
    candidate: str | None
    archived: bool  # some configured apt source offers a version (not only dpkg's database)


def _version(text: str) -> str | None:
    value = text.strip()
    return None if not value or value == NONE else value


def parse_policy(text: str) -> dict[str, Policy]:
    """apt's name (``bash``, ``libc6:i386`` for a foreign architecture) -> its policy.

    Headers are unindented ``name:`` lines; ``Installed:``/``Candidate:`` follow, then the
    version table, whose source lines (indented further) name a URL or dpkg's status file.
    Anything else (apt's notes, the pin list printed with no package) is ignored."""
    found: dict[str, Policy] = {}
    name: str | None = None
    installed = candidate = None
    archived = False

    def close() -> None:
        if name is not None:
            found[name] = Policy(installed, candidate, archived)

    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            close()
            name = line[:-1] if line.endswith(":") and " " not in line else None
            installed = candidate = None
            archived = False
            continue
        if name is None:
            continue
        stripped = line.strip()
        if stripped.startswith("Installed:"):
            installed = _version(stripped[len("Installed:"):])
        elif stripped.startswith("Candidate:"):
            candidate = _version(stripped[len("Candidate:"):])
        elif line.startswith("        ") and stripped.split(maxsplit=1)[0].lstrip("-").isdigit():
            # a version table source line: "500 http://deb.debian.org/debian bookworm/main ..."
            parts = stripped.split(maxsplit=1)
            if len(parts) == 2 and parts[1].strip() != DPKG_STATUS:
                archived = True
    close()
    return found


@dataclass
class Verdict:
    """What the probe found for one image (or base).

    ``pending``: upgrades a rebuild would install. ``orphaned``: installed packages no
    configured source offers any more (gone from the archive; a rebuild cannot upgrade them,
    so they are not pending). ``unknown`` and ``mismatched`` mean the probe's answer does not
    describe the recorded image (apt did not list a package, or lists another version or
    package set): the probe cannot vouch for it, and patch rebuilds as before."""

    pending: list[PackageChange] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def conclusive(self) -> bool:
        return not self.unknown and not self.mismatched

    @property
    def up_to_date(self) -> bool:
        return self.conclusive and not self.pending


def _lookup(policies: dict[str, Policy], pkg: Package) -> tuple[str, Policy | None]:
    """apt prints native and ``all`` packages bare and foreign ones as ``name:arch``."""
    if pkg.arch and f"{pkg.name}:{pkg.arch}" in policies:
        key = f"{pkg.name}:{pkg.arch}"
        return key, policies[key]
    return pkg.name, policies.get(pkg.name)


def pending_changes(manifest: Iterable[Package], policies: dict[str, Policy]) -> Verdict:
    """Compare the recorded manifest with apt's policy for the same image.

    A package is pending when apt's candidate is another version than the manifest's (a newer
    one, or whatever a pin makes apt choose: the rebuild would install that too). No candidate,
    or a candidate equal to the installed version, is not pending. A package apt calls
    installed that the manifest lacks makes the answer a mismatch."""
    verdict = Verdict()
    seen: set[str] = set()
    for pkg in sorted(manifest):
        key, policy = _lookup(policies, pkg)
        seen.add(key)
        if policy is None:
            verdict.unknown.append(key)
            continue
        if policy.installed != pkg.version:
            verdict.mismatched.append(f"{key} (recorded {pkg.version}, apt says "
                                      f"{policy.installed or 'not installed'})")
            continue
        if not policy.archived:
            verdict.orphaned.append(key)
        if policy.candidate is not None and policy.candidate != pkg.version:
            verdict.pending.append(PackageChange(key, pkg.version, policy.candidate))
    for key, policy in sorted(policies.items()):
        if key not in seen and policy.installed is not None:
            verdict.mismatched.append(f"{key} (installed {policy.installed}, not recorded)")
    return verdict


def describe(verdict: Verdict, limit: int = 5) -> str:
    """One line for an event: why the probe decided what it did."""
    def some(items: list[str]) -> str:
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    if verdict.unknown:
        return f"apt did not list {len(verdict.unknown)} recorded package(s): {some(verdict.unknown)}"
    if verdict.mismatched:
        return (f"the image's packages differ from its build record: "
                f"{some(verdict.mismatched)}")
    if verdict.pending:
        return f"{len(verdict.pending)} pending upgrade(s): " + some(
            [f"{c.name} {c.old} -> {c.new}" for c in verdict.pending])
    text = "no pending upgrades"
    if verdict.orphaned:
        text += f" ({len(verdict.orphaned)} package(s) no apt source offers: {some(verdict.orphaned)})"
    return text
