"""Hosts bakery deploys to over SSH: keys, host-key trust, connections, facts, placement.

Sits below the rollout layer (the ``ssh`` runtime adapter uses it) and above definitions: it
never imports build, verify, rollout or cli.
"""
