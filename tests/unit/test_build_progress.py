"""The progress model and the plain (non-terminal) view."""

import io
import threading

from rich.console import Console

from bakery.build.progress import BUILDING, DONE, FAILED, WAITING, Progress, ProgressModel, render_table


def test_model_moves_each_image_along_its_own_line():
    model = ProgressModel.of([("web", "1.0.0"), ("lb", "1.0.0")])
    assert model.lines["web"].state == WAITING
    model.apply("web", "start", "", now=10.0)
    model.apply("web", "step", "3/9 RUN apt-get install", now=11.0)
    model.apply("web", "log", "Setting up nginx", now=11.5)
    assert (model.lines["web"].state, model.lines["web"].step) == (BUILDING, "3/9 RUN apt-get install")
    model.apply("web", "done", "built in 4.0s", now=14.0)
    model.apply("lb", "start", "", now=10.0)
    model.apply("lb", "failed", "lb: build failed at Step 4/9", now=12.0)
    assert model.lines["web"].state == DONE and model.lines["web"].elapsed(99.0) == 4.0
    assert model.lines["lb"].state == FAILED and model.lines["lb"].step.startswith("lb: build failed")
    assert model.lines["lb"].elapsed(99.0) == 2.0


def test_table_has_one_row_per_image():
    model = ProgressModel.of([("a", "1"), ("b", "2"), ("c", "3")])
    assert render_table(model, 0.0).row_count == 3


def test_plain_view_prints_steps_and_failures_but_not_log_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with Progress(console, [("web", "1.0.0")]) as progress:
        assert progress.live is False
        progress("start", {"image": "web", "text": ""})
        progress("step", {"image": "web", "text": "1/3 FROM base"})
        progress("log", {"image": "web", "text": "noisy output"})
        progress("failed", {"image": "web", "text": "exit code 3"})
    text = out.getvalue()
    assert "web 1/3 FROM base" in text and "exit code 3" in text
    assert "noisy output" not in text


def test_quiet_view_prints_nothing_and_is_thread_safe():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    progress = Progress(console, [(f"i{n}", "1") for n in range(8)], quiet=True)
    with progress:
        threads = [threading.Thread(target=lambda n=n: [progress(k, {"image": f"i{n}", "text": "x"})
                                                        for k in ("start", "step", "done")])
                   for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert out.getvalue() == ""
    assert all(line.state == DONE for line in progress.model.lines.values())
