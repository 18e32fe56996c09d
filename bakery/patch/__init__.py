"""Nightly patch rebuilds: refresh packages, compare manifests, bump, verify, record, roll out.

versions.py, decide.py and pending.py are pure; probe.py, bases.py, candidate.py and runner.py
do the I/O.
"""
