"""Which fleet is live and which is the rollback target: a pure function of fleets and stats."""

from __future__ import annotations

from bakery.balancer.commands import ServerStat
from bakery.model.fleet import Fleet, Member
from bakery.rollout.observe import choose


def fleet(rid: str, colour: str, version: str, ip_base: int, n: int = 2) -> Fleet:
    return Fleet(rid, colour, "web", version, "f" * 64, rid,
                 [Member(f"c{rid}{i}", f"{colour}{i}", i, "running", "healthy", f"10.0.0.{ip_base + i}")
                  for i in range(1, n + 1)])


def stat(name: str, weight: int, addr: str, status: str = "UP") -> ServerStat:
    return ServerStat("app", name, status, weight, 0, 0, 0, 0, 0, 1, "L7OK", addr)


BLUE = fleet("r1", "blue", "1.0.0", 10)
GREEN = fleet("r2", "green", "1.1.0", 20)


def stats(blue_w: int, green_w: int, green_status: str = "UP") -> dict[str, ServerStat]:
    return {"blue1": stat("blue1", blue_w, "10.0.0.11:8080"),
            "blue2": stat("blue2", blue_w, "10.0.0.12:8080"),
            "green1": stat("green1", green_w, "10.0.0.21:8080", green_status),
            "green2": stat("green2", green_w, "10.0.0.22:8080", green_status)}


def test_no_balancer_means_nothing_is_known_to_be_live():
    assert choose([BLUE, GREEN], None, 8080) == (None, None)


def test_after_a_swap_the_new_fleet_is_live_and_the_old_one_the_standby():
    assert choose([BLUE, GREEN], stats(0, 100), 8080) == (GREEN, BLUE)


def test_a_canary_at_10_percent_is_not_live_even_when_its_colour_comes_first():
    canary = fleet("r3", "blue", "1.2.0", 30)
    s = {"blue1": stat("blue1", 11, "10.0.0.31:8080"), "green1": stat("green1", 100, "10.0.0.21:8080"),
         "green2": stat("green2", 100, "10.0.0.22:8080")}
    live, standby = choose([GREEN, canary], s, 8080, unfinished={"r3"})
    assert live == GREEN and standby is None


def test_most_weight_wins_without_a_journal_and_a_tie_keeps_the_older_fleet():
    assert choose([BLUE, GREEN], stats(10, 90), 8080)[0] == GREEN
    assert choose([BLUE, GREEN], stats(50, 50), 8080)[0] == BLUE


def test_a_half_started_fleet_is_never_offered_as_the_rollback_target():
    s = stats(100, 0, green_status="MAINT")
    assert choose([BLUE, GREEN], s, 8080, unfinished={"r2"}) == (BLUE, None)


def test_slots_pointing_elsewhere_do_not_make_a_fleet_live():
    s = {"blue1": stat("blue1", 100, "10.9.9.9:8080")}
    assert choose([BLUE], s, 8080) == (None, None)
