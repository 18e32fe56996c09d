"""HAProxy runtime API: command strings and parsers for its answers. Pure, so unit-tested.

A rollout never reloads HAProxy: every change is one of these commands sent over the
admin socket. Server slots come from ``server-template`` lines, named ``blue1..N`` and
``green1..N`` in the backend ``BACKEND``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass

from bakery.errors import BalancerError

BACKEND = "app"
COLOURS = ("blue", "green")
STATES = ("ready", "drain", "maint")
MAX_WEIGHT = 256


def other(colour: str) -> str:
    """The colour a new fleet takes when ``colour`` is live."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}")
    return "green" if colour == "blue" else "blue"


def server_name(colour: str, index: int) -> str:
    """Slot ``index`` (1-based) of a colour, as named by server-template."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}")
    if index < 1:
        raise ValueError("server slots are numbered from 1")
    return f"{colour}{index}"


def _server(colour: str, index: int, backend: str) -> str:
    return f"{backend}/{server_name(colour, index)}"


def set_addr(colour: str, index: int, addr: str, port: int, backend: str = BACKEND) -> str:
    ipaddress.ip_address(addr)  # raises ValueError on anything else: no injection into the socket
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    return f"set server {_server(colour, index, backend)} addr {addr} port {port}"


def set_state(colour: str, index: int, state: str, backend: str = BACKEND) -> str:
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    return f"set server {_server(colour, index, backend)} state {state}"


def set_weight(colour: str, index: int, weight: int, backend: str = BACKEND) -> str:
    if not 0 <= weight <= MAX_WEIGHT:
        raise ValueError(f"weight {weight} out of range 0..{MAX_WEIGHT}")
    return f"set weight {_server(colour, index, backend)} {int(weight)}"


def show_stat() -> str:
    return "show stat"


def show_servers_state(backend: str = BACKEND) -> str:
    return f"show servers state {backend}"


def split_weights(green_percent: int, green_servers: int = 1, blue_servers: int = 1) -> dict[str, int]:
    """Per-server weights that send ``green_percent`` of requests to green.

    Scaled by the fleet sizes, so the share holds when the colours have different replica
    counts; with equal counts green gets 2w and blue 2(100-w) per server (at most 200 <= 256).
    """
    if not 0 <= green_percent <= 100:
        raise ValueError("canary weight must be 0..100")
    if green_servers < 1 or blue_servers < 1:
        raise ValueError("each colour needs at least one server")
    scale = 2 * min(green_servers, blue_servers)
    green = round(green_percent * scale / green_servers)
    blue = round((100 - green_percent) * scale / blue_servers)
    if green_percent > 0:
        green = max(1, green)
    if green_percent < 100:
        blue = max(1, blue)
    return {"green": min(green, MAX_WEIGHT), "blue": min(blue, MAX_WEIGHT)}


def add_server(colour: str, index: int, port: int, options: str, backend: str = BACKEND) -> str:
    """A slot added to a running HAProxy (2.4+ dynamic servers): like a ``server-template``
    slot, disabled with weight 0 at a placeholder IPv4 address (so `set server addr` may
    change it later). ``options`` are the template's check options (config.check_options)."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    return f"add server {_server(colour, index, backend)} 127.0.0.1:{port} disabled weight 0 {options}"


def enable_health(colour: str, index: int, backend: str = BACKEND) -> str:
    """A dynamic server's checks are off until enabled; a template slot's are on from the start."""
    return f"enable health {_server(colour, index, backend)}"


def missing_slots(have: set[str], slots: int) -> list[tuple[str, int]]:
    """(colour, index) of every slot up to ``slots`` per colour that ``have`` (server names)
    lacks, in order. Pure."""
    return [(colour, i) for colour in COLOURS for i in range(1, slots + 1)
            if server_name(colour, i) not in have]


def check_answer(command: str, answer: str) -> None:
    """The runtime API answers an empty line on success; anything else for set commands is an error.
    `add server` answers "New server registered." on success."""
    text = answer.strip()
    if command.startswith("add server "):
        if "New server registered" not in text:
            raise BalancerError(f"HAProxy refused {command!r}: {text or 'no answer'}")
        return
    if not command.startswith(("set ", "enable ")):
        return
    if text and not _BENIGN.search(text):
        raise BalancerError(f"HAProxy refused {command!r}: {text}")


# `set server ... addr` answers with a description of the change; that is success.
_BENIGN = re.compile(r"^(IP changed from|no need to change|port changed from|.*changed from)", re.I)


@dataclass(frozen=True)
class ServerStat:
    """One server row of `show stat`, with the fields rollouts need."""

    backend: str
    name: str
    status: str  # UP, DOWN, MAINT, DRAIN, "UP 1/2", "no check", ...
    weight: int
    scur: int  # current sessions
    stot: int  # total sessions
    hrsp_2xx: int
    hrsp_5xx: int
    hrsp_other: int
    rtime_ms: int  # average response time over the last 1024 requests
    check_status: str
    addr: str

    @property
    def colour(self) -> str | None:
        m = re.fullmatch(r"(blue|green)(\d+)", self.name)
        return m.group(1) if m else None

    @property
    def index(self) -> int | None:
        m = re.fullmatch(r"(blue|green)(\d+)", self.name)
        return int(m.group(2)) if m else None

    @property
    def responses(self) -> int:
        return self.hrsp_2xx + self.hrsp_5xx + self.hrsp_other

    @property
    def up(self) -> bool:
        return self.status.startswith("UP") or self.status == "no check"

    @property
    def in_maint(self) -> bool:
        return "MAINT" in self.status


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def parse_stat(text: str, backend: str = BACKEND) -> dict[str, ServerStat]:
    """Server rows of `show stat` CSV for ``backend``, keyed by server name."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        raise BalancerError(f"unexpected `show stat` answer: {text[:200]!r}")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    found: dict[str, ServerStat] = {}
    for row in reader:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        other_codes = sum(_int(row.get(k)) for k in ("hrsp_1xx", "hrsp_3xx", "hrsp_4xx", "hrsp_other"))
        found[row["svname"]] = ServerStat(
            backend=backend, name=row["svname"], status=row.get("status", ""),
            weight=_int(row.get("weight")), scur=_int(row.get("scur")), stot=_int(row.get("stot")),
            hrsp_2xx=_int(row.get("hrsp_2xx")), hrsp_5xx=_int(row.get("hrsp_5xx")),
            hrsp_other=other_codes, rtime_ms=_int(row.get("rtime")),
            check_status=row.get("check_status", ""), addr=row.get("addr", ""),
        )
    return found


@dataclass(frozen=True)
class ServerState:
    """One row of `show servers state`: what HAProxy itself holds for a slot."""

    name: str
    addr: str
    port: int
    op_state: int  # 0 stopped, 1 starting, 2 running, 3 stopping
    admin_state: int  # bit flags; 0x01 forced maint, 0x02 inherited, 0x04 config maint, 0x08 drain ...
    weight: int

    @property
    def in_maint(self) -> bool:
        return bool(self.admin_state & 0x27)  # forced, inherited, config or resolver maint

    @property
    def draining(self) -> bool:
        return bool(self.admin_state & 0x18)


def parse_servers_state(text: str) -> dict[str, ServerState]:
    """`show servers state` answer (version line, header, rows) keyed by server name."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header: list[str] | None = None
    found: dict[str, ServerState] = {}
    for line in lines:
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        if header is None:
            continue  # the format version line
        fields = dict(zip(header, line.split(), strict=False))
        if "srv_name" not in fields:
            continue
        found[fields["srv_name"]] = ServerState(
            name=fields["srv_name"], addr=fields.get("srv_addr", "-"),
            port=_int(fields.get("srv_port")), op_state=_int(fields.get("srv_op_state")),
            admin_state=_int(fields.get("srv_admin_state")), weight=_int(fields.get("srv_uweight")),
        )
    return found
