"""The rollout state machine: (state, event) -> (next state, actions). Pure, tested with data cases.

Every path that moves traffic goes through it: a rollout (new fleet), a rollback and a
reattach (``bring_back``: an existing fleet back into rotation), and the recovery of a run
that was interrupted (``recover``). The driver (``driver.py``) journals each action, then
performs it against the ports; the last action that reports something produces the next
event. Nothing here does I/O.

A rollout:

    new ──Begin──▶ starting ──GreenHealthy──▶ canary[0..n] ──Verdict(pass)──▶ promoting
                      │                          │                              │ WeightsSet
                      │ GreenUnhealthy           │ Verdict(fail|inconclusive)   ▼
                      ▼                          ▼                           draining ──Drained──▶ succeeded
                    failed ◀────────────────── failed (all weight back to blue)

A rollback or a reattach ("green" is the fleet brought back, "blue" the one it replaces):

    new ──Begin──▶ starting [StartStopped?, WaitGreenHealthy] ──GreenHealthy──▶ promoting
                      │ GreenUnhealthy / Abort                                     │ WeightsSet
                      ▼                                                            ▼
                    failed (nothing removed: the fleet is kept)     draining (rollback) ──▶ succeeded
                                                                    succeeded (reattach)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TERMINAL = ("succeeded", "failed")


# -- events ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Begin:
    pass


@dataclass(frozen=True)
class GreenHealthy:
    pass


@dataclass(frozen=True)
class GreenUnhealthy:
    reason: str


@dataclass(frozen=True)
class WeightsSet:
    green: int


@dataclass(frozen=True)
class Verdict:
    outcome: str  # pass | fail | inconclusive
    summary: str


@dataclass(frozen=True)
class Drained:
    pass


@dataclass(frozen=True)
class Abort:
    """Something outside the plan stopped the rollout (an error, Ctrl-C)."""

    reason: str


Event = Begin | GreenHealthy | GreenUnhealthy | WeightsSet | Verdict | Drained | Abort


# -- actions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartGreen:
    pass


@dataclass(frozen=True)
class WaitGreenHealthy:
    """The runtime says healthy (bakery's probes while starting), then HAProxy's own check UP at weight 0."""

    slots: tuple[int, ...] = ()  # only these slots (a repair); empty: the whole fleet


@dataclass(frozen=True)
class ReplaceMembers:
    """Dead or missing members of the live fleet: new ones from the same image in their slots."""

    slots: tuple[int, ...]


@dataclass(frozen=True)
class Rejoin:
    """Repaired slots back to the weight the rest of the live fleet carries."""

    slots: tuple[int, ...]


@dataclass(frozen=True)
class DropMembers:
    """A repair that failed: its slots out of rotation and its new members removed."""

    slots: tuple[int, ...]


@dataclass(frozen=True)
class StartStopped:
    """Start the stopped members of the fleet being brought back (never a serving one)."""


@dataclass(frozen=True)
class SetWeights:
    green: int  # percent of traffic for green; blue gets the rest
    release_blue: bool = True  # False: at 100%, blue keeps its weight until its drain


@dataclass(frozen=True)
class Analyse:
    step: int
    weight: int
    pause: float


@dataclass(frozen=True)
class RestoreBlue:
    """All weight back to blue and green into maintenance: the unwind path."""


@dataclass(frozen=True)
class RemoveGreen:
    pass


@dataclass(frozen=True)
class DrainBlue:
    pass


@dataclass(frozen=True)
class CutDrain:
    """Blue out of rotation at once (weight 0, maintenance): a drain that was interrupted."""


@dataclass(frozen=True)
class ReleaseGreen:
    """Green's slots out of rotation at once; the fleet itself is kept (recovery of a rollback)."""


@dataclass(frozen=True)
class RetireOlder:
    """Remove fleets older than blue; blue stays for the rollback window."""


@dataclass(frozen=True)
class Finish:
    status: str
    reason: str = ""


Action = (StartGreen | StartStopped | WaitGreenHealthy | ReplaceMembers | Rejoin | DropMembers | SetWeights
          | Analyse | RestoreBlue | RemoveGreen | DrainBlue | CutDrain | ReleaseGreen | RetireOlder | Finish)

KINDS = ("rollout", "rollback", "reattach", "repair")


@dataclass(frozen=True)
class CanaryPlanStep:
    weight: int
    pause: float


@dataclass(frozen=True)
class State:
    phase: str = "new"  # new, starting, canary, promoting, draining, succeeded, failed
    has_blue: bool = True
    canary: tuple[CanaryPlanStep, ...] = field(default_factory=tuple)  # empty: blue/green in one step
    step: int = -1
    reason: str = ""
    kind: str = "rollout"  # rollout: a new fleet; rollback, reattach: an existing fleet brought back;
    # repair: dead members of the live fleet replaced
    start_stopped: bool = False  # bring_back: the fleet's members are stopped
    success: str = ""  # the reason recorded when it succeeds
    slots: tuple[int, ...] = ()  # repair: the slots being repaired

    @property
    def brings_back(self) -> bool:
        return self.kind != "rollout"

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL


def initial(has_blue: bool, canary: tuple[CanaryPlanStep, ...] = ()) -> State:
    """A first rollout (no blue) has nothing to compare a canary with: it goes all-in."""
    return State(phase="new", has_blue=has_blue, canary=canary if has_blue else ())


def bring_back(kind: str, has_blue: bool, stopped: bool, success: str = "") -> State:
    """A rollback (``has_blue``: the live fleet it replaces) or a reattach of a live fleet the
    balancer lost: the same path, an existing fleet put back in rotation, never changed."""
    if kind not in ("rollback", "reattach"):
        raise ValueError(f"bring_back is for a rollback or a reattach, not {kind!r}")
    return State(phase="new", has_blue=has_blue, kind=kind, start_stopped=stopped, success=success)


def repair(slots: tuple[int, ...], success: str = "") -> State:
    """The live fleet's dead or missing members replaced from the same verified image, one slot
    each, through the balancer like any new member: health first, then weight (invariant 3)."""
    return State(phase="new", has_blue=False, kind="repair", slots=tuple(slots), success=success)


def _unwind(state: State, reason: str) -> tuple[State, list[Action]]:
    if state.kind == "repair":  # the members that were live stay as they are
        failed = replace(state, phase="failed", reason=reason)
        return failed, [DropMembers(state.slots), Finish("failed", reason)]
    if state.brings_back:  # the fleet brought back existed before: it is kept as it is
        return replace(state, phase="failed", reason=reason), [Finish("failed", reason)]
    actions: list[Action] = [RestoreBlue()] if state.has_blue else []
    actions += [RemoveGreen(), Finish("failed", reason)]
    return replace(state, phase="failed", reason=reason), actions


def _succeed(state: State) -> tuple[State, list[Action]]:
    # A rollback keeps the fleet it left as the next rollback target: nothing is retired.
    actions: list[Action] = [] if state.brings_back else [RetireOlder()]
    return replace(state, phase="succeeded"), [*actions, Finish("succeeded", state.success)]


def _after_promote_weights(state: State) -> tuple[State, list[Action]]:
    if state.has_blue:
        return replace(state, phase="draining"), [DrainBlue()]
    return _succeed(state)


def _canary_step(state: State, index: int) -> tuple[State, list[Action]]:
    step = state.canary[index]
    return (replace(state, phase="canary", step=index),
            [SetWeights(step.weight), Analyse(index, step.weight, step.pause)])


def transition(state: State, event: Event) -> tuple[State, list[Action]]:
    """The next state and the actions that get there. Unknown pairs are programming errors."""
    phase = state.phase
    if state.done:
        raise ValueError(f"rollout already {phase}; no event expected, got {event!r}")
    if isinstance(event, Abort):
        if phase in ("draining",):
            # Green already holds all traffic: the swap happened, only the drain was cut short.
            cut = f"drain cut short: {event.reason}"
            done = replace(state, phase="succeeded", reason=event.reason)
            if state.brings_back:  # the fleet left still has weight: out of rotation at once
                why = f"{state.success}; {cut}" if state.success else cut
                return done, [CutDrain(), Finish("succeeded", why)]
            return done, [RetireOlder(), Finish("succeeded", cut)]
        return _unwind(state, event.reason)
    if phase == "new" and isinstance(event, Begin):
        if state.kind == "repair":
            starting = replace(state, phase="starting")
            return starting, [ReplaceMembers(state.slots), WaitGreenHealthy(state.slots)]
        if state.brings_back:
            first: list[Action] = [StartStopped()] if state.start_stopped else []
            return replace(state, phase="starting"), [*first, WaitGreenHealthy()]
        return replace(state, phase="starting"), [StartGreen(), WaitGreenHealthy()]
    if phase == "starting" and isinstance(event, GreenUnhealthy):
        if state.brings_back:  # a repair or a bring-back keeps what was there
            return _unwind(state, event.reason)
        return replace(state, phase="failed", reason=event.reason), [RemoveGreen(),
                                                                     Finish("failed", event.reason)]
    if phase == "starting" and isinstance(event, GreenHealthy):
        if state.kind == "repair":
            done = replace(state, phase="succeeded")
            return done, [Rejoin(state.slots), Finish("succeeded", state.success)]
        if state.canary:
            return _canary_step(state, 0)
        return replace(state, phase="promoting"), [SetWeights(100, release_blue=not state.brings_back)]
    if phase == "canary" and isinstance(event, Verdict):
        if event.outcome != "pass":
            return _unwind(state, f"canary analysis at step {state.step + 1} "
                                  f"({state.canary[state.step].weight}%): {event.outcome}: {event.summary}")
        if state.step + 1 < len(state.canary):
            return _canary_step(state, state.step + 1)
        return replace(state, phase="promoting"), [SetWeights(100)]
    if phase == "promoting" and isinstance(event, WeightsSet) and event.green == 100:
        return _after_promote_weights(state)
    if phase == "draining" and isinstance(event, Drained):
        return _succeed(state)
    raise ValueError(f"no transition from {phase!r} on {event!r}")


COMPLETED = "completed by the next run after an interruption"
UNWOUND = "interrupted; unwound by the next run"


def recover(kind: str, green_weight: int, blue_weight: int, green_running: bool,
            blue_running: bool) -> tuple[str, list[Action]]:
    """An interrupted run the journal still says is running: ('promote' | 'unwind', actions),
    decided from what the balancer shows (what runs wins over the journal). "green" is the
    fleet the run was moving traffic to, "blue" the one it was moving it from."""
    if kind == "repair":
        # The live fleet kept serving; the next run finds what is still dead and repairs it again.
        return "unwind", [Finish("unwound", "interrupted; the next run repairs what is still degraded")]
    if kind == "reattach":
        # Nothing to undo: the fleet was live before; it carries traffic or it does not.
        had = green_weight > 0
        return ("promote" if had else "unwind",
                [Finish("succeeded" if had else "unwound",
                        "interrupted; " + ("it already had traffic" if had else "tried again"))])
    decision = (recovery_rollback(green_weight, blue_weight) if kind == "rollback"
                else recovery(green_weight, blue_weight, green_running))
    if decision == "promote":
        return decision, [DrainBlue(), Finish("succeeded", COMPLETED)]
    if kind == "rollback":  # traffic had not moved yet: the target's slots back out of rotation
        release: list[Action] = [ReleaseGreen()] if blue_weight > 0 else []
        return decision, [*release, Finish("unwound", UNWOUND)]
    restore: list[Action] = [RestoreBlue()] if blue_running else []
    return decision, [*restore, RemoveGreen(), Finish("unwound", UNWOUND)]


def recovery(green_weight: int, blue_weight: int, green_running: bool) -> str:
    """What to do with a rollout the journal says was interrupted, from what HAProxy shows.

    'promote' when green already carries all traffic (finish the swap), else 'unwind'
    (traffic to blue, remove green). What runs wins over what the journal says.
    """
    if green_running and green_weight > 0 and blue_weight == 0:
        return "promote"
    return "unwind"


def recovery_rollback(target_weight: int, source_weight: int) -> str:
    """What to do with an interrupted rollback, from what HAProxy shows.

    A rollback gives its target weight only after HAProxy checked the target UP, so any weight
    there means the switch was under way: 'promote' (drain the fleet rolled back from), even
    when both colours still carry full weight (killed between the weight change and the drain).
    Otherwise nothing moved yet: 'unwind' (the target's slots go back to maintenance).
    """
    return "promote" if target_weight > 0 else "unwind"
