"""Two project checkouts, one state store: two processes race for the same rollout lock.

Each checkout names the shared store in its own bakery.yaml (as two engineers' clones would);
each process finds its project from its working directory, as the CLI does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

RUN = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from bakery.errors import LockError
    from bakery.project import find_project
    from bakery.store import locks
    from bakery.store.url import state_url

    project = find_project()
    go = Path(sys.argv[1])
    while not go.exists():          # both start together
        time.sleep(0.001)
    try:
        with locks.Held(state_url(project), "rollout:staging/web", ttl=300,
                        purpose=f"rollout web from {project.root.name}",
                        on_takeover=lambda m: print("takeover:", m, flush=True)):
            print("holding", os.getpid(), flush=True)
            if sys.argv[2] == "stay":
                time.sleep(600)
    except LockError as exc:
        print("refused:", exc, flush=True)
        sys.exit(3)
""")


def _checkout(root: Path, url: str) -> Path:
    (root / "rollouts" / "staging").mkdir(parents=True)
    (root / "bakery.yaml").write_text(f"state: {url}\n")
    return root


def _start(checkout: Path, go: Path, mode: str = "stay") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("BAKERY_PROJECT", "BAKERY_STATE",
                                                            "BAKERY_STATE_DIR")}
    return subprocess.Popen([sys.executable, "-c", RUN, str(go), mode], cwd=checkout, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_checkouts_race_one_wins_and_kill_9_frees_the_lock(tmp_path, store_url):
    if store_url.startswith("sqlite:"):
        store_url = f"sqlite://{tmp_path / 'shared.db'}"  # outside both checkouts
    alice, bob = _checkout(tmp_path / "alice", store_url), _checkout(tmp_path / "bob", store_url)
    go = tmp_path / "go"
    procs = {"alice": _start(alice, go), "bob": _start(bob, go)}
    go.touch()
    try:
        first = {name: p.stdout.readline().strip() for name, p in procs.items()}
        winners = [n for n, line in first.items() if line.startswith("holding")]
        assert len(winners) == 1, (first, {n: p.stderr.read() for n, p in procs.items() if p.poll()})
        winner = winners[0]
        loser = "bob" if winner == "alice" else "alice"
        assert procs[loser].wait(timeout=60) == 3
        refusal = first[loser]
        holder_pid = procs[winner].pid
        assert re.search(rf"locked by \S+ on \S+ \(pid {holder_pid}\) since .*rollout web from {winner}",
                         refusal), refusal

        procs[winner].send_signal(signal.SIGKILL)
        procs[winner].wait()
        again = _start(alice if loser == "alice" else bob, go, mode="leave")
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, out + err
        assert "taking over the lock rollout:staging/web from" in out and f"(pid {holder_pid})" in out
        assert "holding" in out
        # At once: freed because the holder is gone, not because its 300 s lease ran out.
        assert "expired" not in out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
