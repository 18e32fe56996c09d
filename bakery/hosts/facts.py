"""What `bakery hosts check` learns about a host over SSH (fabric), and what it makes of it.

``gather`` is the I/O (one shell command through fabric); ``judge`` is pure, so every verdict
is a unit test: unreachable, no engine, too little disk and a clock too far off fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakery.definitions.targets import HostSpec, parse_registry_address
from bakery.hosts.connect import CONNECT_TIMEOUT, HostUnreachable, new_client, open_client, policy_for
from bakery.hosts.trust import FirstContact, HostKeyError

MAX_SKEW = 30.0  # seconds; TLS to the registry and log timelines break beyond this

# One round trip: everything as key=value lines. `docker version` answers only when the engine
# runs and the user may use it; the free space is measured where the engine keeps its data.
FACTS_SCRIPT = r"""
. /etc/os-release 2>/dev/null; echo "os=${PRETTY_NAME:-unknown}"
echo "kernel=$(uname -r)"
echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null); [ -d "$root" ] || root=/var/lib/docker
[ -d "$root" ] || root=/
echo "free_kib=$(df -Pk "$root" | awk 'NR==2 {print $4}')"
echo "clock=$(date +%s.%N)"
"""
# Whether the host reaches a registry (TCP, as `docker pull` first does), one line per address.
REGISTRY_PROBE = ("if timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port}' 2>/dev/null; "
                  "then echo 'registry {address}=ok'; else echo 'registry {address}=unreachable'; fi")


def facts_script(registries: Sequence[str] = ()) -> str:
    """FACTS_SCRIPT plus a reachability probe of each registry address ``host:port``. Pure."""
    lines = [FACTS_SCRIPT]
    for address in registries:
        host, port = parse_registry_address(address)
        if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", host):
            raise ValueError(f"registry host {host!r} is not a host name or address")
        lines.append(REGISTRY_PROBE.format(host=host.strip("[]"), port=port, address=address))
    return "\n".join(lines)


@dataclass
class HostFacts:
    host: str
    address: str
    reachable: bool
    error: str = ""
    os: str = ""
    kernel: str = ""
    docker: str = ""
    free_mib: int | None = None
    skew: float | None = None  # host clock minus ours, seconds
    first_contact: list[FirstContact] = field(default_factory=list)
    registries: dict[str, str] = field(default_factory=dict)  # address -> "ok" | "unreachable"


def parse(host: HostSpec, text: str, sent: float, received: float) -> HostFacts:
    """Facts from the script's output; the clock is compared with the middle of the round trip."""
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    free = values.get("free_kib", "").strip()
    clock = values.get("clock", "").strip()
    try:
        skew = float(clock) - (sent + received) / 2 if clock else None
    except ValueError:
        skew = None
    registries = {key.removeprefix("registry ").strip(): value.strip()
                  for key, value in values.items() if key.startswith("registry ")}
    return HostFacts(host.name, host.address, True, os=values.get("os", "").strip(),
                     kernel=values.get("kernel", "").strip(), docker=values.get("docker", "").strip(),
                     free_mib=int(free) // 1024 if free.isdigit() else None, skew=skew,
                     registries=registries)


def judge(facts: HostFacts, min_free_mib: int, max_skew: float = MAX_SKEW) -> list[str]:
    """Why the host cannot take a fleet; empty when it can."""
    if not facts.reachable:
        return [facts.error or "unreachable"]
    problems = []
    if not facts.docker:
        problems.append("no Docker engine answers (install docker.io, start it, and let the SSH user use it)")
    if facts.free_mib is None:
        problems.append("free disk unknown")
    elif facts.free_mib < min_free_mib:
        problems.append(f"only {facts.free_mib} MiB free for Docker, needs {min_free_mib} MiB")
    if facts.skew is not None and abs(facts.skew) > max_skew:
        problems.append(f"clock is {facts.skew:+.1f}s off this machine's (more than {max_skew:g}s)")
    for address, verdict in sorted(facts.registries.items()):
        if verdict != "ok":
            problems.append(f"cannot reach the registry {address} (TCP, within 3 s): images would "
                            "not pull; is `bakery registry up` running, and does the host resolve its name?")
    return problems


def gather(host: HostSpec, state_dir: Path, first_contact: bool = True,
           timeout: float = CONNECT_TIMEOUT, registries: Sequence[str] = ()) -> HostFacts:
    """Connect with fabric (bakery's key and known_hosts, not ~/.ssh) and read the facts."""
    import fabric  # heavy (invoke, fabric): only when hosts are checked
    from paramiko import SSHConfig

    policy = policy_for(state_dir, first_contact)
    client = new_client(state_dir, policy)
    try:
        open_client(client, host, state_dir, timeout)
    except (HostUnreachable, HostKeyError) as exc:
        return HostFacts(host.name, host.address, False, error=str(exc))
    conn = fabric.Connection(host.address, user=host.user, port=host.port,
                             config=fabric.Config(ssh_config=SSHConfig()))
    conn.client = client  # fabric's own would auto-accept any host key
    conn.transport = client.get_transport()
    try:
        sent = time.time()
        result = conn.run(facts_script(registries), hide=True, warn=True, in_stream=False)
        received = time.time()
    except Exception as exc:  # noqa: BLE001 - any failure of the session is "unreachable" to the user
        return HostFacts(host.name, host.address, False, error=f"{host.name}: {exc}")
    finally:
        conn.close()
    facts = parse(host, result.stdout, sent, received)
    facts.first_contact = list(getattr(policy, "recorded", []))
    return facts
