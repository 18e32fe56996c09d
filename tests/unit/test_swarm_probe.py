"""The canary's probe on a Swarm (swarm_wiring.SwarmProbe) and ``reenlist``: a task Swarm moved
is followed (its balancer slot re-pointed, the probe sent where it runs now), while a task that
runs at its address and does not answer, or a slot with no replacement, still fails the probe.
Fakes stand in for the runtime, the balancer and the HTTP probe."""

from __future__ import annotations

from pathlib import Path

from bakery.balancer.commands import ServerStat
from bakery.engine.scope import Scope
from bakery.model.fleet import Fleet, Member
from bakery.rollout.adapters import swarm_spec as sw
from bakery.rollout.adapters.swarm import SwarmRuntime
from bakery.rollout.adapters.swarm_wiring import SwarmProbe, reenlist

SCOPE = Scope(Path("/p"), Path("/p/.bakery"), "prod", "web")


class Runtime(SwarmRuntime):
    """Only ``list_fleets``: the green fleet's members as the script says they are now."""

    def __init__(self, members: list[Member]):  # noqa: D107 - no SSH, no targets
        self.members = members
        self.drained: set[str] = set()  # node addresses
        self.history: dict[tuple[str, int], tuple[str, int]] = {}  # past tasks: (ip, port) -> slot
        self.events: list[str] = []
        self.emit = lambda kind, data: self.events.append(data["text"])

    def slot_at(self, scope: Scope, ip: str, port: int) -> tuple[str, int] | None:
        now = {(m.ip, m.port): ("green", m.index) for m in self.members}
        return now.get((ip, port)) or self.history.get((ip, port))

    def nodes(self) -> dict[str, sw.Node]:
        ips = {m.ip for m in self.members} | self.drained
        return {ip: sw.Node(ip, ip, ip, "drain" if ip in self.drained else "active") for ip in ips}

    def list_fleets(self, scope: Scope) -> list[Fleet]:
        return [Fleet("r2", "green", "web", "1.1.0", "f", "", list(self.members))]


class Balancer:
    def __init__(self, addrs: dict[str, str]):
        self.addrs = addrs
        self.sent: list[str] = []

    def stats(self) -> dict[str, ServerStat]:
        return {n: ServerStat("app", n, "UP", 10, 0, 0, 0, 0, 0, 1, "L7OK", a) for n, a in self.addrs.items()}

    def send(self, command: str, timeout: float = 5.0) -> str:
        self.sent.append(command)
        return ""


def member(slot: int, ip: str, port: int, status: str = "running") -> Member:
    return Member(f"t{slot}", f"h/web.{slot}", slot, status, "healthy" if status == "running" else "starting",
                  ip, port)


def probe_for(runtime: Runtime, lb: Balancer, answers: set[tuple[str, int]]) -> tuple[SwarmProbe, list]:
    sent: list[tuple[str, int]] = []

    def send(host: str, port: int, timeout: float) -> tuple[bool, float]:
        sent.append((host, port))
        return (host, port) in answers, 1.0

    probe = SwarmProbe(runtime, send=send, settle=0.05, poll=0.01)
    probe.scope, probe.lb = SCOPE, lb  # type: ignore[assignment]
    return probe, sent


def test_a_task_swarm_moved_is_followed_and_re_enlisted():
    runtime = Runtime([member(1, "10.0.0.1", 30001), member(2, "10.0.0.3", 30002)])
    lb = Balancer({"green1": "10.0.0.1:30001", "green2": "10.0.0.3:30002"})
    probe, sent = probe_for(runtime, lb, {("10.0.0.1", 30001), ("10.0.0.2", 30005)})
    assert probe("10.0.0.1", 30001, 1.0) == (True, 1.0)
    runtime.members = [member(1, "10.0.0.1", 30001), member(2, "10.0.0.2", 30005)]  # h3 drained
    runtime.history = {("10.0.0.3", 30002): ("green", 2)}
    ok, _ = probe("10.0.0.3", 30002, 1.0)
    assert ok and sent[-1] == ("10.0.0.2", 30005)
    assert lb.sent == ["set server app/green2 addr 10.0.0.2 port 30005"]
    assert runtime.events == ["re-enlisted tasks Swarm moved: green2 -> 10.0.0.2:30005"]
    # The canary keeps the member's first address: the next probe there follows it again.
    lb.addrs["green2"] = "10.0.0.2:30005"
    assert probe("10.0.0.3", 30002, 1.0)[0] and len(lb.sent) == 1


def test_a_task_on_a_draining_node_still_listed_as_running_is_followed():
    """Right after a drain, Swarm may list the stopped task as running a moment longer."""
    runtime = Runtime([member(1, "10.0.0.3", 30002)])
    lb = Balancer({"green1": "10.0.0.3:30002"})
    probe, sent = probe_for(runtime, lb, {("10.0.0.1", 30007)})
    runtime.drained = {"10.0.0.3"}
    polls = iter([[member(1, "10.0.0.3", 30002)], [member(1, "10.0.0.1", 30007)]])
    original = runtime.list_fleets

    def moving(scope: Scope) -> list[Fleet]:
        runtime.members = next(polls, runtime.members)
        return original(scope)

    runtime.list_fleets = moving  # type: ignore[method-assign]
    assert probe("10.0.0.3", 30002, 1.0)[0] and sent[-1] == ("10.0.0.1", 30007)
    assert lb.sent == ["set server app/green1 addr 10.0.0.1 port 30007"]


def test_a_task_that_runs_at_its_address_and_does_not_answer_fails():
    runtime = Runtime([member(1, "10.0.0.1", 30001)])
    lb = Balancer({"green1": "10.0.0.1:30001"})
    probe, sent = probe_for(runtime, lb, set())
    assert probe("10.0.0.1", 30001, 1.0) == (False, 1.0)
    assert sent == [("10.0.0.1", 30001)] and lb.sent == []


def test_a_slot_whose_replacement_does_not_run_fails_after_settling():
    runtime = Runtime([member(1, "10.0.0.1", 30001)])
    lb = Balancer({"green1": "10.0.0.1:30001"})
    probe, _ = probe_for(runtime, lb, set())
    runtime.history = {("10.0.0.1", 30001): ("green", 1)}
    runtime.members = [member(1, "10.0.0.2", 0, status="created")]  # crash-looping: never running
    assert probe("10.0.0.1", 30001, 1.0) == (False, 1.0)
    assert lb.sent == []


def test_reenlist_points_only_moved_slots():
    runtime = Runtime([member(1, "10.0.0.1", 30001), member(2, "10.0.0.2", 30009)])
    lb = Balancer({"green1": "10.0.0.1:30001", "green2": "10.0.0.3:30002"})
    assert reenlist(lb, runtime, SCOPE) == ["green2"]  # type: ignore[arg-type]
    assert lb.sent == ["set server app/green2 addr 10.0.0.2 port 30009"]
