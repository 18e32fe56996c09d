"""bakery's example worker: takes job files from a spool folder, writes results, keeps a heartbeat.

A job is a JSON file {"numbers": [...]} dropped into /var/spool/worker/in; its result
{"sum": ..., "count": ...} appears under /var/spool/worker/out with the same name. The
heartbeat file's age is the health check (`worker.py --check`). Standard library only.
"""

import json
import os
import sys
import time
from pathlib import Path

SPOOL = Path(os.environ.get("WORKER_SPOOL", "/var/spool/worker"))
HEARTBEAT = Path(os.environ.get("WORKER_HEARTBEAT", "/run/worker/heartbeat"))
POLL = float(os.environ.get("WORKER_POLL", "0.5"))
STALE = 10.0


def handle(job: Path) -> None:
    try:
        numbers = json.loads(job.read_text())["numbers"]
        result = {"sum": sum(numbers), "count": len(numbers)}
    except (ValueError, KeyError, TypeError) as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    tmp = SPOOL / "out" / f".{job.name}.tmp"
    tmp.write_text(json.dumps(result) + "\n")
    tmp.replace(SPOOL / "out" / job.name)
    job.unlink()


def run() -> None:
    while True:
        for job in sorted((SPOOL / "in").glob("*.json")):
            handle(job)
        HEARTBEAT.touch()
        time.sleep(POLL)


def check() -> int:
    try:
        age = time.time() - HEARTBEAT.stat().st_mtime
    except FileNotFoundError:
        return 1
    return 0 if age < STALE else 1


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else run())
