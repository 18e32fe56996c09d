"""testinfra tests for the worker image, run by `bakery verify worker`."""

import json
import time


def test_worker_runs_as_its_own_user(host):
    status = host.file("/proc/1/status").content_string
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[2])
    assert uid == host.user("worker").uid
    assert "worker.py" in host.file("/proc/1/cmdline").content_string


def test_spool_belongs_to_the_worker_only(host):
    for path in ("/var/spool/worker/in", "/var/spool/worker/out"):
        folder = host.file(path)
        assert folder.is_directory and folder.user == "worker" and folder.mode == 0o750


def test_a_job_is_processed(host):
    job = json.dumps({"numbers": [1, 2, 3, 4]})
    host.run_test("printf %%s %s > /var/spool/worker/in/.j && mv /var/spool/worker/in/.j "
                  "/var/spool/worker/in/job1.json", job)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not host.file("/var/spool/worker/out/job1.json").exists:
        time.sleep(0.2)
    assert json.loads(host.file("/var/spool/worker/out/job1.json").content_string) == \
        {"sum": 10, "count": 4}
    assert not host.file("/var/spool/worker/in/job1.json").exists


def test_a_bad_job_gets_an_error_result_and_the_worker_lives_on(host):
    host.run_test("echo 'not json' > /var/spool/worker/in/.b && mv /var/spool/worker/in/.b "
                  "/var/spool/worker/in/bad.json")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not host.file("/var/spool/worker/out/bad.json").exists:
        time.sleep(0.2)
    assert "error" in json.loads(host.file("/var/spool/worker/out/bad.json").content_string)
    assert host.run("python3 /usr/local/bin/worker.py --check").rc == 0
