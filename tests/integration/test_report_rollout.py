"""A real canary that passes and one that fails, recorded, reported and looked at in Chromium.

The rollout's own hook (rollout.service.reported) records and notifies; the test only watches
the recorder and the notifier it made (a spy around the real ones). The failing
canary's notifications go to a local receiver and to a target that accepts connections and never
answers; the rollout must neither wait for it nor fail because of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import matplotlib.image
import pytest

from bakery.build.docker_builder import build
from bakery.notify.notifier import redact
from bakery.rollout import service
from bakery.store import samples
from bakery.store.db import connect
from bakery.telemetry import report_path
from tests.integration.rollout_support import bakery, mark_verified, scratch_project, url
from tests.notify_support import Hanging, Receiver

ENV = "report"
pytestmark = pytest.mark.docker

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


class PacedLoad:
    """About 30 requests a second through the load balancer: enough traffic for a chart, little CPU."""

    def __init__(self, target: str):
        self.target = target
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.wait(0.03):
                try:
                    client.get(self.target)
                except httpx.HTTPError:
                    pass

    def __enter__(self) -> PacedLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe, "chromium is missing: scripts/setup.sh installs Debian's chromium package"
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                           *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120)


def looked_at(page: Path, tmp: Path) -> str:
    """The page's DOM after its scripts ran; fails on any console message (errors included)."""
    done = chromium(page, tmp / "profile-dom", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    dom = done.stdout
    assert len(re.findall(r'<svg class="main-svg"', dom)) >= 1
    lines = re.findall(r'<path class="js-line"[^>]* d="M[\d.,LM-]+', dom)
    assert len(lines) >= 8, "every colour's four timelines are drawn"
    return dom


@pytest.fixture(scope="module")
def rp(docker_engine, base_image, tmp_path_factory):
    with scratch_project(docker_engine, tmp_path_factory.mktemp("report") / "project", (ENV,)) as project:
        root = project.root
        defn = root / "rollouts" / ENV / "web.yaml"
        defn.write_text(defn.read_text().replace("pause: 1s", "pause: 2s"))
        recs = {"lb": build(project, project.load_image("lb")).record,
                "web-1.0.0": build(project, project.load_image("web")).record,
                "web-bad": build(project, project.load_image("web-bad")).record}
        web_yaml = root / "images" / "web" / "image.yaml"
        web_yaml.write_text(web_yaml.read_text().replace("version: 1.0.0", "version: 1.1.0"))
        recs["web-1.1.0"] = build(project, project.load_image("web")).record
        for rec in recs.values():  # `bakery verify` of these definitions is tested in their own suites
            mark_verified(project, rec)
        first = service.rollout(project, ENV, "web", "1.0.0")
        assert first.status == "succeeded", first.reason
        yield project


def recorded_canary(project, image: str, notify_urls: list[str]):  # noqa: ANN001, ANN201
    """One canary through the real rollout, whose hook records and notifies; the recorder and
    the notifier it made are handed back for the test to look at."""
    path = project.rollout_path(ENV, "web")
    text = re.sub(r"\nnotify:.*", "", path.read_text(), flags=re.S)
    if notify_urls:
        text += "\nnotify:\n  urls: [" + ", ".join(notify_urls) + "]\n  timeout: 1s\n"
    path.write_text(text)
    events: list[tuple[str, dict]] = []
    made: dict[str, object] = {}
    real_recording, real_notifying = service.recording, service.notifying

    @contextmanager
    def recording_spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with real_recording(*args, **kwargs) as rec:
            made["rec"] = rec
            yield rec

    @contextmanager
    def notifying_spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with real_notifying(*args, **kwargs) as notifier:
            made["notifier"] = notifier
            yield notifier

    service.recording, service.notifying = recording_spy, notifying_spy
    try:
        with PacedLoad(url(project, ENV)):
            outcome = service.rollout(project, ENV, "web", image, canary=True,
                                      on_event=lambda kind, data: events.append((kind, data)))
    finally:
        service.recording, service.notifying = real_recording, real_notifying
    return outcome, made["rec"], made.get("notifier"), events


def test_reports_of_a_passing_and_a_failing_canary_as_a_person_sees_them(rp, tmp_path):
    project = rp
    passed, rec, _, events = recorded_canary(project, "1.1.0", [])
    assert passed.status == "succeeded", passed.reason
    assert rec.errors == [] and rec.rollout_id == passed.rollout_id

    with Receiver() as receiver, Hanging() as dead:
        failed, rec, notifier, events = recorded_canary(project, "web-bad:1.0.0", [receiver.url, dead.url])
        assert failed.status == "failed" and "canary analysis" in failed.reason
        got = receiver.wait_for(4)
        assert dead.first.is_set()  # the dead target was tried ...
        dead_name = redact(dead.url)
    # ... and cost the rollout nothing: the executor's events never waited on a send (each target
    # has its own thread), and the end waited at most notify.timeout before dropping the rest.
    assert notifier is not None and notifier.timeout == 1.0
    dead_deliveries = [d for d in notifier.deliveries if d.target == dead_name]
    assert not any(d.ok for d in dead_deliveries)
    assert notifier.dropped or dead_deliveries

    # The receiver heard about each event of the failing canary, in order, with the report's path.
    rid = failed.rollout_id
    verdicts = [d for k, d in events if k == "verdict"]
    assert verdicts and verdicts[-1]["outcome"] == "fail"
    kinds = [p["title"].split(" ", 2)[2] for p in got]
    assert kinds == ["canary of web-bad 1.0.0 started"] + [
        f"canary step {v['step']} ({v['weight']}%): {v['outcome']}" for v in verdicts] + [
        "rolled back to 1.1.0", "canary of web-bad 1.0.0 failed"]
    assert [p["type"] for p in got][-2:] == ["warning", "failure"]
    for p in got:
        assert f"rollout {rid}" in p["message"]
        assert str(project.state_dir / "reports" / f"{rid}.html") in p["message"]

    # Samples were stored with the rollout's history row, bounded, and both colours are in them.
    conn = connect(project.db_path)
    try:
        rows = samples.load(conn, rid)
    finally:
        conn.close()
    lb_rows = [r for r in rows if r.kind == "lb"]
    # One a second (the rollout's hook); a canary this bad stops as soon as its error budget is
    # spent (judged continuously), so it lives a few seconds: a few samples, both colours in them.
    assert len(lb_rows) >= 2
    assert {name[:-1] for r in lb_rows for name in r.data["servers"]} == {"blue", "green"}
    canary = next(d for k, d in events if k == "start")["colour"]
    last = lb_rows[-1].data["servers"]
    canary_rows = [v for name, v in last.items() if name.startswith(canary)]
    assert sum(v["responses"] for v in canary_rows) > 0  # the load reached the canary through HAProxy
    assert sum(v["hrsp_5xx"] for v in canary_rows) >= verdicts[-1]["lb_errors"]  # what the verdict saw

    # The reports, written by the command, opened in Chromium.
    for outcome in (passed, failed):
        result = bakery(project, "report", outcome.rollout_id, "--env", ENV)
        assert result.exit_code == 0, result.output
    page = report_path(project.state_dir, rid)
    assert page.is_file() and page.with_suffix(".png").is_file()
    failing_step = verdicts[-1]
    label = f"step {failing_step['step']} at {failing_step['weight']}%: FAIL"
    dom = looked_at(page, tmp_path)
    assert label in dom  # drawn on the chart (an SVG annotation) and said above it
    assert f"max error rate {failing_step['max_error_rate']:.1%}" in dom
    good = looked_at(report_path(project.state_dir, passed.rollout_id), tmp_path)
    assert "%: FAIL" not in good and "step 1 at 10%: PASS" in good

    shot = tmp_path / "failed-canary.png"
    done = chromium(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1400,1600",
                    "--hide-scrollbars")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert (pixels < 0.9).any(axis=-1).mean() > 0.02  # drawn, not a blank page
    if keep := os.environ.get("BAKERY_KEEP_REPORT"):  # for a person: where to look afterwards
        shutil.copy(page, Path(keep) / "failed-canary.html")
        shutil.copy(shot, Path(keep) / "failed-canary-screenshot.png")
