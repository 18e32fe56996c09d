"""Reading apt-cache policy output and deciding which upgrades are pending. Pure."""

from __future__ import annotations

from bakery.packages import Package, PackageChange
from bakery.patch.pending import Policy, Verdict, describe, parse_policy, pending_changes

# Real apt 2.6 output (LC_ALL=C), trimmed: one current package, one with an upgrade in
# bookworm-security, one foreign-architecture package, one only dpkg still knows.
POLICY = """\
bash:
  Installed: 5.2.15-2+b13
  Candidate: 5.2.15-2+b13
  Version table:
 *** 5.2.15-2+b13 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
zlib1g:
  Installed: 1:1.2.13.dfsg-1
  Candidate: 1:1.2.13.dfsg-1+deb12u1
  Version table:
     1:1.2.13.dfsg-1+deb12u1 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 1:1.2.13.dfsg-1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
libc6:i386:
  Installed: 2.36-9+deb12u9
  Candidate: 2.36-9+deb12u10
  Version table:
     2.36-9+deb12u10 500
        500 http://deb.debian.org/debian bookworm/main i386 Packages
 *** 2.36-9+deb12u9 100
        100 /var/lib/dpkg/status
bakery-gone:
  Installed: 1
  Candidate: 1
  Version table:
 *** 1 100
        100 /var/lib/dpkg/status
"""


def policy(installed: str | None, candidate: str | None, archived: bool = True) -> Policy:
    return Policy(installed, candidate, archived)


def test_parse_reads_installed_candidate_and_whether_a_source_offers_it() -> None:
    parsed = parse_policy(POLICY)
    assert parsed == {
        "bash": policy("5.2.15-2+b13", "5.2.15-2+b13"),
        "zlib1g": policy("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1"),
        "libc6:i386": policy("2.36-9+deb12u9", "2.36-9+deb12u10"),
        "bakery-gone": policy("1", "1", archived=False),
    }


def test_parse_ignores_apt_notes_pins_and_none_versions() -> None:
    text = ("N: Unable to locate package nope\n"
            "Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n"
            "Pinned packages:\n"
            "held:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n")
    assert parse_policy(text) == {"held": policy(None, None, archived=False)}
    assert parse_policy("") == {}


def test_nothing_pending_when_every_candidate_is_installed() -> None:
    manifest = [Package("bash", "5.2.15-2+b13", "amd64")]
    verdict = pending_changes(manifest, {"bash": policy("5.2.15-2+b13", "5.2.15-2+b13")})
    assert verdict == Verdict()
    assert verdict.up_to_date and verdict.conclusive
    assert describe(verdict) == "no pending upgrades"


def test_one_upgrade_is_pending() -> None:
    manifest = [Package("bash", "5.2.15-2+b13", "amd64"), Package("zlib1g", "1:1.2.13.dfsg-1", "amd64")]
    verdict = pending_changes(manifest, parse_policy(POLICY.split("libc6:i386:")[0]))
    assert verdict.pending == [PackageChange("zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1")]
    assert verdict.conclusive and not verdict.up_to_date
    assert describe(verdict) == "1 pending upgrade(s): zlib1g 1:1.2.13.dfsg-1 -> 1:1.2.13.dfsg-1+deb12u1"


def test_a_package_gone_from_the_archive_is_not_pending() -> None:
    manifest = [Package("bakery-gone", "1", "all")]
    verdict = pending_changes(manifest, parse_policy(POLICY[POLICY.index("bakery-gone:"):]))
    assert verdict.pending == [] and verdict.orphaned == ["bakery-gone"]
    # apt keeps its own database as the candidate; without even that there is no candidate.
    assert pending_changes(manifest, {"bakery-gone": policy("1", None, archived=False)}).up_to_date
    assert "no apt source offers: bakery-gone" in describe(verdict)
    assert verdict.up_to_date


def test_foreign_architecture_packages_match_apt_qualified_names() -> None:
    manifest = [Package("libc6", "2.36-9+deb12u10", "amd64"), Package("libc6", "2.36-9+deb12u9", "i386")]
    policies = {"libc6": policy("2.36-9+deb12u10", "2.36-9+deb12u10"),
                "libc6:i386": policy("2.36-9+deb12u9", "2.36-9+deb12u10")}
    verdict = pending_changes(manifest, policies)
    assert verdict.pending == [PackageChange("libc6:i386", "2.36-9+deb12u9", "2.36-9+deb12u10")]
    assert verdict.conclusive


def test_arch_all_and_unqualified_manifests_use_the_bare_name() -> None:
    # base images record name=version without an architecture; arch "all" is printed bare.
    policies = {"tzdata": policy("2024a-0+deb12u1", "2025b-0+deb12u1")}
    for arch in ("", "all"):
        verdict = pending_changes([Package("tzdata", "2024a-0+deb12u1", arch)], policies)
        assert verdict.pending == [PackageChange("tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1")]


def test_a_package_apt_did_not_list_makes_the_probe_inconclusive() -> None:
    verdict = pending_changes([Package("bash", "5.2", "amd64")], {})
    assert verdict.unknown == ["bash"]
    assert not verdict.conclusive and not verdict.up_to_date
    assert "apt did not list 1 recorded package(s): bash" == describe(verdict)


def test_an_image_that_is_not_the_recorded_one_is_inconclusive() -> None:
    manifest = [Package("bash", "5.2", "amd64")]
    other_version = pending_changes(manifest, {"bash": policy("5.1", "5.2")})
    assert other_version.mismatched == ["bash (recorded 5.2, apt says 5.1)"]
    assert not other_version.up_to_date and other_version.pending == []
    extra = pending_changes(manifest, {"bash": policy("5.2", "5.2"), "curl": policy("7", "7")})
    assert extra.mismatched == ["curl (installed 7, not recorded)"]
    assert not extra.up_to_date
    # A package dpkg only remembers the configuration of (Installed: none) is not extra.
    removed = pending_changes(manifest, {"bash": policy("5.2", "5.2"), "old": policy(None, "1")})
    assert removed.up_to_date


def test_describe_shortens_long_lists() -> None:
    changes = [PackageChange(f"p{i}", "1", "2") for i in range(7)]
    assert describe(Verdict(pending=changes), limit=2) == \
        "7 pending upgrade(s): p0 1 -> 2, p1 1 -> 2 and 5 more"
