"""Adapters: the ports of ``rollout/ports.py`` implemented against real things."""
