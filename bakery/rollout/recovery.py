"""Housekeeping before a run acts: finish or unwind interrupted runs, put a live fleet the
balancer forgot back in rotation, and end the rollback window. Each goes through the state
machine and the driver, journaled like a rollout."""

from __future__ import annotations

from datetime import UTC, datetime

from bakery.balancer import commands as cmd
from bakery.errors import RolloutError
from bakery.model.fleet import Fleet
from bakery.model.records import RolloutRow, new_id, now
from bakery.rollout import machine as m
from bakery.rollout import traffic
from bakery.rollout.context import Context
from bakery.rollout.driver import Run
from bakery.rollout.observe import Observed, colour_weight
from bakery.rollout.ports import FleetSpec, HeldLock
from bakery.rollout.reattach import expected_live, standby_expired


def recover(ctx: Context, held: HeldLock | None = None) -> list[tuple[RolloutRow, str]]:
    """Finish or unwind runs the journal says are unfinished (their holder is gone: we hold the
    lock). Returns each row with what was decided ('promote' finished it, 'unwind' undid it)."""
    done: list[tuple[RolloutRow, str]] = []
    for row in ctx.journal.unfinished(ctx.scope.env, ctx.scope.service):
        stats = ctx.lb.stats()
        found = ctx.runtime.list_fleets(ctx.scope)
        mine = next((f for f in found if f.rollout_id == row.id), None)
        prev = next((f for f in found if f.rollout_id == row.prev_id), None)
        green_w, blue_w = colour_weight(stats, row.colour), colour_weight(stats, cmd.other(row.colour))
        decision, actions = m.recover(row.kind, green_w, blue_w, bool(mine and mine.running),
                                      bool(prev and prev.running))
        ctx.journal.step(row.id, "recovery", decision, {"green_weight": green_w, "blue_weight": blue_w})
        run = Run(row.id, row.colour, green=mine if row.kind == "rollout" else None, blue=prev)
        driver = ctx.driver(held, embedded=True)
        for action in actions:
            driver.act(run, "recovery", action)
        done.append((row, decision))
        if row.kind == "reattach":
            continue
        if decision == "promote":
            ctx.emit("warn", {"text": f"an interrupted {row.kind} {row.id} ({row.version}) already had "
                                      "traffic; finished it"})
        else:
            undone = ("its new containers removed" if row.kind == "rollout"
                      else "the fleet it was rolling back to is kept as it was")
            ctx.emit("warn", {"text": f"an interrupted {row.kind} {row.id} ({row.version}) was unwound: "
                                      f"traffic stays on the fleet that was live, {undone}"})
    return done


def detached_live(ctx: Context, obs: Observed) -> Fleet | None:
    """The fleet that should be live but that the balancer has not in rotation (its runtime state
    was lost: LB container restarted or recreated, engine restarted), or None."""
    if obs.live is not None or not obs.fleets:
        return None
    return expected_live(obs.fleets, ctx.journal.history(ctx.scope.env, ctx.scope.service, limit=50))


def reattach(ctx: Context, held: HeldLock | None = None) -> None:
    """Put the live fleet back in rotation after the balancer lost its runtime state: the same
    bring-back path as a rollback, with nothing to replace. The fleet is not changed: a running
    one only gets its slots back once healthy (invariant 3); a stopped one is started first."""
    fleet = detached_live(ctx, ctx.observe())
    if fleet is None:
        return
    ctx.emit("warn", {"text": "the load balancer has no fleet in rotation (its runtime state was lost: "
                              f"restarted?) while {fleet.colour} {fleet.version} "
                              f"(rollout {fleet.rollout_id}) is the live fleet; putting it back in rotation"})
    rid = new_id()
    ctx.journal.begin(RolloutRow(
        id=rid, env=ctx.scope.env, service=ctx.scope.service, kind="reattach", strategy="reattach",
        image_name=fleet.image_name, version=fleet.version, fingerprint=fleet.fingerprint,
        colour=fleet.colour, prev_id=fleet.rollout_id, prev_version=None, prev_colour=None,
        status="running", started=now(), finished=None, reason=""))
    driver = ctx.driver(held, embedded=True)
    state = m.bring_back("reattach", has_blue=False, stopped=not fleet.running,
                         success=f"{fleet.colour} {fleet.version} back in rotation")
    final = driver.drive(Run(rid, fleet.colour, green=fleet), state)
    if final.phase != "succeeded":
        raise driver.error or RolloutError(final.reason)


def repair(ctx: Context, held: HeldLock | None, live: Fleet, slots: tuple[int, ...], spec: FleetSpec,
           strategy: str = "repair", drain: tuple[int, ...] = (), success: str | None = None) -> m.State:
    """Replace the live fleet's members ``slots`` with new ones from the same verified image, put
    in through the balancer like any new member; journaled as a `repair` (``strategy`` says who
    asked). Members in ``drain`` still serve (reconcile's drifted ones): they are drained out of
    rotation first, journaled before it acts; nothing else that serves is touched."""
    rid = new_id()
    ctx.journal.begin(RolloutRow(
        id=rid, env=ctx.scope.env, service=ctx.scope.service, kind="repair", strategy=strategy,
        image_name=live.image_name, version=live.version, fingerprint=live.fingerprint, colour=live.colour,
        prev_id=live.rollout_id, prev_version=live.version, prev_colour=live.colour, status="running",
        started=now(), finished=None, reason=""))
    if drain:
        if held is not None:
            held.check()
        ctx.journal.step(rid, "starting", "DrainMembers", {"slots": list(drain), "why": "drifted"})
        traffic.drain_slots(ctx.lb, live.colour, drain, ctx.defn.drain_timeout, ctx.emit)
    driver = ctx.driver(held)
    success = success or f"replaced member(s) {', '.join(map(str, slots))} of {live.colour} {live.version}"
    final = driver.drive(Run(rid, live.colour, green=live, spec=spec), m.repair(slots, success=success))
    if final.phase != "succeeded":
        raise driver.error or RolloutError(final.reason)
    return final


def expire_standby(ctx: Context, obs: Observed) -> None:
    """Remove the previous fleet once the rollback window (keep_previous) has passed, counted
    from when the live fleet became live (see reattach.standby_expired)."""
    if obs.standby is None or obs.live is None:
        return
    rows = ctx.journal.history(ctx.scope.env, ctx.scope.service, limit=50)
    if standby_expired(obs.live, rows, datetime.now(UTC), ctx.defn.keep_previous):
        ctx.runtime.remove_fleet(obs.standby)
        ctx.emit("info", {"text": f"the rollback window for {obs.standby.version} has passed; removed it"})
        obs.standby = None
