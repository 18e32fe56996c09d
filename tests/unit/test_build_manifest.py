"""The package manifest read from the build's own output: the last RUN prints it, the host
parses it (no container afterwards). Pure parts; tests/integration/test_build_cache.py checks
it against the image's dpkg status file on a real build."""

from __future__ import annotations

import json

from bakery.build.dockerfile import MANIFEST_MARK, MANIFEST_QUERY, with_manifest_query
from bakery.packages import Package, parse_dpkg_query


def test_the_query_goes_into_the_last_run_only():
    lines = ["FROM b", "RUN export X=1 && apt-get install -y a",
             "RUN " + json.dumps(["/bin/bash", "-euo", "pipefail", "-c", "echo one"]), "USER x"]
    out = with_manifest_query(list(lines))
    assert out[1] == lines[1] and out[3] == "USER x"
    argv = json.loads(out[2].removeprefix("RUN "))
    assert argv[:4] == ["/bin/bash", "-euo", "pipefail", "-c"]
    # its own line of the step's script: it runs only when the step succeeded (bash -e)
    assert argv[4] == f"echo one\n{MANIFEST_QUERY}"


def test_a_shell_form_last_run_gets_it_after_and():
    out = with_manifest_query(["FROM b", "RUN chmod 0644 /x", "COPY a b"])
    assert out[1] == f"RUN chmod 0644 /x && {MANIFEST_QUERY}"


def test_no_run_no_query():
    assert with_manifest_query(["FROM b", "COPY a b"]) == ["FROM b", "COPY a b"]


def test_only_installed_packages_from_marked_lines_count():
    text = "\n".join([
        "Step 9/12 : RUN ...", "Get:1 http://deb.debian.org bookworm InRelease",
        f"{MANIFEST_MARK} ii |nginx-light|1.22.1-9|amd64",
        f"{MANIFEST_MARK} ii |libc6|2.36-9+deb12u4|amd64",
        f"{MANIFEST_MARK} rc |old-thing|1.0|amd64",  # removed, config files left: not installed
        f"{MANIFEST_MARK} ii |libc6|2.36-9+deb12u4|i386",
        f"  {MANIFEST_MARK} ii |indented|1|all", "done"])
    assert parse_dpkg_query(text, MANIFEST_MARK) == [
        Package("libc6", "2.36-9+deb12u4", "amd64"), Package("libc6", "2.36-9+deb12u4", "i386"),
        Package("nginx-light", "1.22.1-9", "amd64")]


def test_nothing_printed_is_an_empty_manifest():
    assert parse_dpkg_query("Step 1/2 : RUN true\n", MANIFEST_MARK) == []
