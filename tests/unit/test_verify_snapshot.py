"""The built-in checks' one-exec snapshot: the script it runs and how its output splits."""

from __future__ import annotations

import subprocess

from bakery.verify import snapshot


def run_here(script: str) -> str:
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True).stdout


def test_sections_keep_each_commands_output_and_exit_status(tmp_path):
    (tmp_path / "nul").write_bytes(b"nginx: master\x00-g\x00daemon off;\x00")
    (tmp_path / "lines").write_text("a: 1\nb: 2\n")
    wanted = {"nul": f"cat {tmp_path}/nul", "lines": f"cat {tmp_path}/lines",
              "missing": "no-such-tool-here --x", "fails": "echo partial; exit 3"}
    found = snapshot.parse(run_here(snapshot.script(wanted)), wanted)
    assert found["nul"] == snapshot.Section(wanted["nul"], 0, "nginx: master\x00-g\x00daemon off;\x00")
    assert found["lines"].output == "a: 1\nb: 2"
    assert found["missing"].rc == 127 and found["missing"].missing_tool()
    assert found["fails"] == snapshot.Section("echo partial; exit 3", 3, "partial")
    assert not found["fails"].missing_tool()


def test_a_cut_short_snapshot_has_only_the_finished_sections():
    wanted = snapshot.commands(["nginx-light"])
    text = "@@bakery-section tcp\n  sl local_address\n\n@@bakery-rc 0\n@@bakery-section passwd\nroot:x"
    assert list(snapshot.parse(text, wanted)) == ["tcp"]


def test_commands_are_the_ones_failures_have_always_shown():
    wanted = snapshot.commands(["nginx-light", "ca certificates"])
    assert wanted["tcp"] == "cat /proc/net/tcp /proc/net/tcp6"
    assert wanted["package:nginx-light"] == "dpkg-query -W -f '${Status}|${Version}' nginx-light"
    assert wanted["package:ca certificates"].endswith("'ca certificates'")
    assert {"passwd", "status", "cmdline"} <= set(wanted)
