"""Secrets as files for the local and SSH runtimes: which delivery, where the files live, how
members mount them, and the shell that writes them on a host (value on stdin, never argv)."""

from __future__ import annotations

import stat
import subprocess

import pytest

from bakery.rollout.adapters import secret_files
from bakery.rollout.adapters import secret_paths as sp

VALUES = {"API_TOKEN": "s3cr3t value", "DB_PASSWORD": "pw"}


def test_files_are_the_default_and_env_only_when_asked():
    assert sp.delivers_files("file", VALUES) and sp.container_env("file", VALUES) == {}
    assert not sp.delivers_files("env", VALUES) and sp.container_env("env", VALUES) == VALUES
    assert not sp.delivers_files("file", {})  # nothing to write, nothing mounted


def test_one_directory_per_fleet_and_each_file_mounted_read_only():
    d = sp.rollout_dir(sp.HOST_ROOT, "1a2b3c4d-staging-web", "20261201131600abcdef")
    assert d == "/run/bakery/secrets/1a2b3c4d-staging-web/20261201131600abcdef"
    assert sp.binds(d, tuple(VALUES)) == [f"{d}/API_TOKEN:/run/secrets/API_TOKEN:ro",
                                          f"{d}/DB_PASSWORD:/run/secrets/DB_PASSWORD:ro"]


@pytest.mark.parametrize("bad", ["..", "a/b", "", "x y", "$(id)"])
def test_a_path_part_that_could_escape_is_refused(bad):
    with pytest.raises(ValueError):
        sp.rollout_dir(sp.HOST_ROOT, "slug", bad)
    with pytest.raises(ValueError):
        sp.binds("/d", (bad,))


def test_root_for_root_and_the_runtime_dir_for_others():
    assert sp.local_root(0, None) == sp.HOST_ROOT
    assert sp.local_root(1000, "/run/user/1000/") == "/run/user/1000/bakery/secrets"
    assert sp.local_root(1000, None) is None


def test_only_an_engine_on_this_machine_can_mount_files_written_here():
    assert sp.engine_is_local("http+docker://localhost")
    assert not sp.engine_is_local("http://10.0.0.5:2375")
    assert not sp.engine_is_local("http+docker://ssh")


def test_the_host_script_takes_the_value_on_stdin_only(tmp_path):
    directory = str(tmp_path / "root" / "slug" / "rid1")
    script = sp.write_script(directory, "API_TOKEN")
    assert "s3cr3t" not in script and script.startswith("umask 077")
    assert sp.write_script(directory, "API_TOKEN", sudo=True).startswith("sudo -n sh -c ")
    subprocess.run(["sh", "-c", script], input=b"s3cr3t value", check=True)
    subprocess.run(["sh", "-c", script], input=b"rotated", check=True)  # replaced, not refused
    f = tmp_path / "root" / "slug" / "rid1" / "API_TOKEN"
    assert f.read_text() == "rotated" and stat.S_IMODE(f.stat().st_mode) == 0o444
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    assert [p.name for p in f.parent.iterdir()] == ["API_TOKEN"]  # no temporary left
    subprocess.run(["sh", "-c", sp.remove_script(str(tmp_path / "root"), "rid1")], check=True)
    assert not (tmp_path / "root" / "slug").exists() and (tmp_path / "root").is_dir()
    subprocess.run(["sh", "-c", sp.remove_script(str(tmp_path / "root"), "rid1")], check=True)  # idempotent


def test_local_files_written_private_and_removed_with_their_fleet_only(tmp_path):
    root = str(tmp_path / "run" / "bakery")
    mine, other = sp.rollout_dir(root, "p-env-web", "rid1"), sp.rollout_dir(root, "p-env-web", "rid2")
    secret_files.write_local(mine, VALUES)
    secret_files.write_local(mine, {**VALUES, "API_TOKEN": "rotated"})
    secret_files.write_local(other, VALUES)
    base = tmp_path / "run" / "bakery"
    f = base / "p-env-web" / "rid1" / "API_TOKEN"
    assert f.read_text() == "rotated" and stat.S_IMODE(f.stat().st_mode) == 0o444
    for folder in (f.parent, f.parent.parent, base, base.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    secret_files.remove_local(root, "rid1")
    assert not f.parent.exists() and (base / "p-env-web" / "rid2" / "DB_PASSWORD").is_file()
    secret_files.remove_local(root, "rid2")
    assert not (base / "p-env-web").exists() and base.is_dir()
