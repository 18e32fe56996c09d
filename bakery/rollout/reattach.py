"""Which fleet should be live when HAProxy has none in rotation. Pure.

HAProxy keeps slot addresses and weights in memory only (they are set through the runtime
API), so a restarted or recreated LB container, or a restarted engine, comes back with every
slot empty while the fleets still exist. The journal says which fleet the last successful
rollout or rollback made live; the engine's labels say whether that fleet still exists. Only
when both agree is it put back: what runs wins, and nothing is guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bakery.model.fleet import Fleet
from bakery.model.records import RolloutRow


def made_live(history: list[RolloutRow]) -> RolloutRow | None:
    """The newest successful rollout or rollback (``history`` newest first): the one that made
    the current live fleet live, and the moment the fleet before it became the rollback target."""
    return next((r for r in history if r.status == "succeeded" and r.kind in ("rollout", "rollback")), None)


def is_fleet_of(row: RolloutRow, fleet: Fleet) -> bool:
    """Whether ``row`` made ``fleet`` live: a rollout started it; a rollback went back to it
    (same colour and image, not the fleet it rolled back from)."""
    if row.kind == "rollout":
        return fleet.rollout_id == row.id
    return (fleet.colour == row.colour and fleet.fingerprint == row.fingerprint
            and fleet.rollout_id != row.prev_id)


def expected_live(found: list[Fleet], history: list[RolloutRow]) -> Fleet | None:
    """The fleet the newest successful rollout or rollback made live, if it still exists.

    ``found``: fleets from engine labels, oldest first; ``history``: journal rows, newest first.
    With no successful row at all, a single fleet is the only candidate there is.
    """
    row = made_live(history)
    if row is None:
        return found[0] if len(found) == 1 else None
    match = [f for f in found if is_fleet_of(row, f)]
    return match[-1] if match else None


def standby_expired(live: Fleet, history: list[RolloutRow], now: datetime, keep_previous: float) -> bool:
    """Whether the rollback window has passed. It opens when the live fleet became live (a
    rollback included), not when the live fleet was first rolled out; when the journal does not
    say how the live fleet became live, nothing is removed."""
    row = made_live(history)
    if row is None or not row.finished or not is_fleet_of(row, live):
        return False
    finished = datetime.strptime(row.finished, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (now - finished).total_seconds() > keep_previous
