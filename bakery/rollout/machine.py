"""The rollout state machine: (state, event) -> (next state, actions). Pure, tested with data cases.

The executor performs the actions in order against the engine and the balancer; the last
action that reports something produces the next event. Nothing here does I/O.

    new ──Begin──▶ starting ──GreenHealthy──▶ canary[0..n] ──Verdict(pass)──▶ promoting
                      │                          │                              │ WeightsSet
                      │ GreenUnhealthy           │ Verdict(fail|inconclusive)   ▼
                      ▼                          ▼                           draining ──Drained──▶ succeeded
                    failed ◀────────────────── failed (all weight back to blue)
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
    """Docker health=healthy, then HAProxy's own check UP at weight 0."""


@dataclass(frozen=True)
class SetWeights:
    green: int  # percent of traffic for green; blue gets the rest


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
class RetireOlder:
    """Remove fleets older than blue; blue stays for the rollback window."""


@dataclass(frozen=True)
class Finish:
    status: str
    reason: str = ""


Action = (StartGreen | WaitGreenHealthy | SetWeights | Analyse | RestoreBlue | RemoveGreen | DrainBlue
          | RetireOlder | Finish)


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

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL


def initial(has_blue: bool, canary: tuple[CanaryPlanStep, ...] = ()) -> State:
    """A first rollout (no blue) has nothing to compare a canary with: it goes all-in."""
    return State(phase="new", has_blue=has_blue, canary=canary if has_blue else ())


def _unwind(state: State, reason: str) -> tuple[State, list[Action]]:
    actions: list[Action] = [RestoreBlue()] if state.has_blue else []
    actions += [RemoveGreen(), Finish("failed", reason)]
    return replace(state, phase="failed", reason=reason), actions


def _after_promote_weights(state: State) -> tuple[State, list[Action]]:
    if state.has_blue:
        return replace(state, phase="draining"), [DrainBlue()]
    return replace(state, phase="succeeded"), [RetireOlder(), Finish("succeeded")]


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
            return (replace(state, phase="succeeded", reason=event.reason),
                    [RetireOlder(), Finish("succeeded", f"drain cut short: {event.reason}")])
        return _unwind(state, event.reason)
    if phase == "new" and isinstance(event, Begin):
        return replace(state, phase="starting"), [StartGreen(), WaitGreenHealthy()]
    if phase == "starting" and isinstance(event, GreenUnhealthy):
        return replace(state, phase="failed", reason=event.reason), [RemoveGreen(),
                                                                     Finish("failed", event.reason)]
    if phase == "starting" and isinstance(event, GreenHealthy):
        if state.canary:
            return _canary_step(state, 0)
        return replace(state, phase="promoting"), [SetWeights(100)]
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
        return replace(state, phase="succeeded"), [RetireOlder(), Finish("succeeded")]
    raise ValueError(f"no transition from {phase!r} on {event!r}")


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
