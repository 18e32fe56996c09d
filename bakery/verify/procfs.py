"""Read what a container is doing from /proc text, so checks need no ps or ss. Pure."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

TCP_LISTEN = "0A"


@dataclass(frozen=True, order=True)
class Listener:
    address: str
    port: int


def _hex_ipv4(raw: str) -> str:
    # /proc/net/tcp prints the address as a host-order (little-endian) 32-bit hex number.
    octets = [str(int(raw[i:i + 2], 16)) for i in range(0, 8, 2)]
    return ".".join(reversed(octets))


def _hex_ipv6(raw: str) -> str:
    words = []
    for i in range(0, 32, 8):
        chunk = raw[i:i + 8]
        word = "".join(reversed([chunk[j:j + 2] for j in range(0, 8, 2)]))
        words.extend([word[:4], word[4:]])
    return ":".join(w.lstrip("0") or "0" for w in words)


def parse_net_tcp(text: str) -> list[Listener]:
    """Listening sockets from /proc/net/tcp and/or /proc/net/tcp6 (concatenated is fine:
    the address width tells IPv4 from IPv6, and header lines are skipped)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        address, _, port = fields[1].partition(":")
        try:
            host = _hex_ipv6(address) if len(address) == 32 else _hex_ipv4(address)
            found.append(Listener(host, int(port, 16)))
        except ValueError:
            continue
    return sorted(set(found))


def reachable_ports(listeners: list[Listener]) -> set[int]:
    """Ports listening on an address other containers can reach (not only loopback)."""
    loopback = ("127.", "0:0:0:0:0:0:0:1")
    return {item.port for item in listeners if not item.address.startswith(loopback)}


def parse_status(text: str) -> dict[str, str]:
    """/proc/<pid>/status as a dict of its fields."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def effective_uid(status: dict[str, str]) -> int:
    """The effective uid from a parsed status (Uid: real effective saved fs)."""
    return int(status["Uid"].split()[1])


def parse_cmdline(raw: str) -> list[str]:
    return [part for part in raw.split("\0") if part]


def parse_passwd(text: str) -> dict[str, int]:
    users = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            users[parts[0]] = int(parts[2])
    return users


def expected_uid(user: str, passwd: dict[str, int]) -> int | None:
    """The uid a declared ``user`` (name, uid, or name:group) maps to; None when unknown."""
    name = user.split(":", 1)[0]
    if name.isdigit():
        return int(name)
    return passwd.get(name)


SHELLS = {"sh", "bash", "dash", "ash"}


def _script_programs(script: str) -> list[str]:
    """Programs a shell script may leave as PID 1: its first command and any `exec`ed one."""
    words = script.replace(";", " ; ").replace("&&", " && ").replace("||", " || ").split()
    found = []
    expect, first, execed = True, True, False
    for word in words:
        if word in (";", "&&", "||"):
            expect, execed = True, False
        elif not expect:
            continue
        elif word == "exec":
            execed = True
        elif "=" in word and not word.startswith(("/", "-")):
            continue  # VAR=value before the command
        else:
            if first or execed:
                found.append(posixpath.basename(word.strip("'\"")))
            expect, first, execed = False, False, False
    return found


def expected_programs(entrypoint: list[str] | None, cmd: list[str] | None) -> list[str]:
    """Program names PID 1 may show: the entrypoint's or the command's, seen through `sh -c`."""
    names = []
    for argv in (entrypoint, cmd):
        if not argv:
            continue
        program = posixpath.basename(argv[0])
        names.append(program)
        if program in SHELLS and len(argv) >= 3 and argv[1] == "-c":
            names.extend(_script_programs(argv[2]))
    return list(dict.fromkeys(names))


def process_matches(comm: str, cmdline: list[str], programs: list[str]) -> bool:
    """Whether PID 1 (its comm, as cut to 15 chars by the kernel, or argv[0]) is one of ``programs``.

    Daemons such as nginx rewrite their title ("nginx: master process ..."), so the first
    word of argv[0] counts too."""
    if not programs:
        return True
    first = cmdline[0] if cmdline else ""
    candidates = {comm, posixpath.basename(first), posixpath.basename(first.split(":")[0].split()[0])
                  if first.strip() else ""}
    return any(p[:15] in candidates or p in candidates for p in programs)
