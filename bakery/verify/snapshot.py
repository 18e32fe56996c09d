"""What the built-in checks read inside the container, gathered in ONE exec (issue 13, item 2).

Each built-in check used to run its own `cat` or `dpkg-query` through the engine (an exec and,
with testinfra's docker backend, a `docker` CLI process each). One shell script now prints
every section (package states, /proc/net/tcp{,6}, /etc/passwd, PID 1's status and cmdline)
between markers, each followed by its exit status, and the host parses them. A check still
reports the command of its own section and that section's output, so failures read as before.
Pure: building the script and parsing its output need no container.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

MARK = "@@bakery-section"
END = "@@bakery-rc"


@dataclass(frozen=True)
class Section:
    """One command's part of the snapshot: what a check shows when it fails."""

    command: str
    rc: int
    output: str  # stdout and stderr, interleaved as the command wrote them

    def missing_tool(self) -> bool:
        """The shell could not run the command's program (or the image has no such tool)."""
        return self.rc in (126, 127) and ("not found" in self.output or "executable file" in self.output)


def package_command(name: str) -> str:
    return f"dpkg-query -W -f '${{Status}}|${{Version}}' {shlex.quote(name)}"


TCP = "cat /proc/net/tcp /proc/net/tcp6"
PASSWD = "cat /etc/passwd"
STATUS = "cat /proc/1/status"
CMDLINE = "cat /proc/1/cmdline"


def commands(packages: list[str]) -> dict[str, str]:
    """Section key -> command. Keys: ``package:<name>``, ``tcp``, ``passwd``, ``status``,
    ``cmdline``. Pure."""
    out = {f"package:{name}": package_command(name) for name in packages}
    out.update({"tcp": TCP, "passwd": PASSWD, "status": STATUS, "cmdline": CMDLINE})
    return out


def script(sections: dict[str, str]) -> str:
    """One /bin/sh script printing every section between markers. Pure.

    The markers sit on their own lines: an ``echo`` closes each section's output (which may
    lack a final newline), and parse() takes exactly that newline off again."""
    parts = []
    for key, command in sections.items():
        parts.append(f"echo {shlex.quote(f'{MARK} {key}')}; ( {command} ) 2>&1; "
                     f"rc=$?; echo; echo \"{END} $rc\"")
    return "\n".join(parts)


def parse(text: str, sections: dict[str, str]) -> dict[str, Section]:
    """The snapshot's output as sections. Pure. A section that never printed (the script was
    cut short) is absent."""
    found: dict[str, Section] = {}
    key: str | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(MARK + " "):
            key, lines = line[len(MARK) + 1:], []
        elif key is not None and line.startswith(END + " "):
            body = "\n".join(lines)
            # the `echo` before the rc line added one newline after the command's own output
            body = body[:-1] if body.endswith("\n") else body
            try:
                rc = int(line[len(END) + 1:].strip())
            except ValueError:
                rc = -1
            found[key] = Section(sections.get(key, key), rc, body)
            key = None
        elif key is not None:
            lines.append(line)
    return found
