"""Nightly patch rebuilds: refresh packages, compare manifests, bump, verify, record, roll out.

versions.py and decide.py are pure; bases.py, candidate.py and runner.py do the I/O.
"""
