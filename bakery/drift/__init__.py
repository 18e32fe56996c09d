"""Drift (issue 14): running members against what their rollout put there.

``facts`` (plain values, and the pure readers of the engine's inspect dicts), ``findings`` (the
comparison, pure), ``ports`` (what reading needs: an ``Inspector``; the docker SDK adapter is
``rollout/adapters/inspect_docker.py``). Nothing here changes a server.
"""
