"""bakery verify: run an image in a throwaway container and check it with testinfra.

    runner.verify()      the public entry point (rollout and patch call it)
    ci.py                `bakery ci`: which images changed since a git ref, and the whole run
    container.py         the throwaway network + container, always removed
    reaper.py            removes what a verification killed with SIGKILL left behind
    session.py           runs pytest (image tests + built-in checks) in a child process
    suites.py            which image test files run, and lines in them bakery warns about
    plugin.py            the pytest plugin inside that child: `host` fixture, results
    builtin_checks.py    checks derived from the definition, as pytest tests
    snapshot.py          what the built-in checks read in the container, in one exec
    procfs.py, secretscan.py, junit.py, model.py   pure helpers

Nothing imported by the CLI loads pytest, testinfra, junitparser or python-debian: they load
in the pytest child or inside the function that needs them (start-up time of every command).
"""
