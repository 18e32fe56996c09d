"""Which fleet should be live when HAProxy has none in rotation. Pure.

HAProxy keeps slot addresses and weights in memory only (they are set through the runtime
API), so a restarted or recreated LB container, or a restarted engine, comes back with every
slot empty while the fleets still exist. The journal says which fleet the last successful
rollout or rollback made live; the engine's labels say whether that fleet still exists. Only
when both agree is it put back: what runs wins, and nothing is guessed.
"""

from __future__ import annotations

from bakery.rollout.fleet import Fleet
from bakery.store.journal import RolloutRow


def expected_live(found: list[Fleet], history: list[RolloutRow]) -> Fleet | None:
    """The fleet the newest successful rollout or rollback made live, if it still exists.

    ``found``: fleets from engine labels, oldest first; ``history``: journal rows, newest first.
    With no successful row at all, a single fleet is the only candidate there is.
    """
    for row in history:
        if row.status != "succeeded" or row.kind not in ("rollout", "rollback"):
            continue
        if row.kind == "rollout":
            match = [f for f in found if f.rollout_id == row.id]
        else:  # a rollback made an earlier fleet live again: it has the row's colour and image
            match = [f for f in found if f.colour == row.colour and f.fingerprint == row.fingerprint
                     and f.rollout_id != row.prev_id]
        return match[-1] if match else None
    return found[0] if len(found) == 1 else None
