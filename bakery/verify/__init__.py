"""bakery verify: run an image in a throwaway container and check it with testinfra.

    runner.verify()      the public entry point (rollout and patch call it)
    container.py         the throwaway network + container, always removed
    session.py           runs pytest (image tests + built-in checks) in a child process
    plugin.py            the pytest plugin inside that child: `host` fixture, results
    builtin_checks.py    checks derived from the definition, as pytest tests
    procfs.py, secretscan.py, junit.py, model.py   pure helpers
    ci.py                which images changed since a git ref
"""
