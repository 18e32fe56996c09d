"""Which rollout events are worth telling people about, and what to say. Pure.

``Conversation`` follows one rollout's event stream and turns the few events that matter into
messages: start, each canary verdict, the automatic rollback when a canary fails (traffic back
to the fleet that was live), success and failure. Every message names the service, the
environment, the rollout id and where its report is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENTS = ("start", "verdict", "rollback", "success", "failure")


@dataclass(frozen=True)
class Message:
    event: str  # one of EVENTS
    title: str
    body: str
    level: str  # apprise's notify type: info | success | warning | failure


class Conversation:
    """The messages for one rollout's events, in order. ``report`` is a path or a link to its
    report, where ``{rollout_id}`` stands for the id (not known until the rollout starts)."""

    def __init__(self, env: str, service: str, report: str = "", events: tuple[str, ...] = EVENTS):
        self.env, self.service, self.report, self.events = env, service, report, events
        self.rollout_id: str | None = None
        self.kind = "rollout"  # or rollback
        self.strategy = "rollout"  # canary, blue-green or rollback, as the start event said
        self.version = ""
        self.live: str | None = None
        self.moved = False  # traffic reached the new fleet
        self.finished = False

    @property
    def where(self) -> str:
        return f"{self.service}@{self.env}"

    def _footer(self) -> str:
        lines = [f"rollout {self.rollout_id}"]
        if self.report:
            lines.append(f"report: {self.report.replace('{rollout_id}', str(self.rollout_id))}")
        if self.rollout_id:
            lines.append(f"(bakery report {self.rollout_id} --env {self.env})")
        return "\n".join(lines)

    def _message(self, event: str, title: str, text: str, level: str) -> Message | None:
        if event not in self.events:
            return None
        return Message(event, f"bakery: {self.where} {title}", f"{text}\n{self._footer()}", level)

    def feed(self, kind: str, data: dict[str, Any]) -> Message | None:
        """The message this event calls for, if any."""
        if kind == "start":
            if self.rollout_id is not None:
                return None
            self.rollout_id = str(data.get("rollout_id"))
            self.version = str(data.get("version", ""))
            self.live = data.get("live")
            strategy = str(data.get("strategy") or "rollout")
            self.strategy = strategy
            self.kind = "rollback" if strategy == "rollback" else "rollout"
            if self.kind == "rollback":
                return self._message("rollback", f"rollback to {self.version} started",
                                     f"rolling back from {self.live} to {self.version}", "warning")
            return self._message("start", f"{strategy} of {self.version} started",
                                 f"{strategy} to {data.get('colour')}: {self.version}; "
                                 f"live now: {self.live or 'nothing yet'}", "info")
        if self.rollout_id is None:
            return None
        if kind == "verdict":
            outcome = str(data.get("outcome", "?"))
            level = {"pass": "success", "fail": "failure"}.get(outcome, "warning")
            return self._message("verdict", f"canary step {data.get('step')} ({data.get('weight')}%): "
                                 f"{outcome}", str(data.get("summary", "")), level)
        if kind == "weights":
            share = int(data.get("green_percent", 0))
            if share > 0:
                self.moved = True
            elif self.moved and self.kind == "rollout":
                self.moved = False
                return self._message("rollback", f"rolled back to {self.live}",
                                     f"all traffic is back on {self.live}; the new fleet "
                                     f"({self.version}) gets none", "warning")
            return None
        if kind == "done":
            if self.finished:
                return None
            self.finished = True
            status = str(data.get("status", ""))
            reason = str(data.get("reason", ""))
            if status == "succeeded":
                return self._message("success", f"{self.strategy} of {self.version} succeeded",
                                     reason or f"{self.version} is live", "success")
            return self._message("failure", f"{self.strategy} of {self.version} {status or 'failed'}",
                                 reason or status, "failure")
        return None
