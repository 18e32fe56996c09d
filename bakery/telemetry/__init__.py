"""Rollout telemetry: record a rollout's events and load-balancer samples, read them back.

Low in the layers: it knows the balancer's ServerStat type and the state store, and is called
by the rollout executor (through ``recording``) and read by the report renderer.
"""

from bakery.telemetry.recorder import Recorder, recording
from bakery.telemetry.stored import StoredRollout, load, report_path, resolve

__all__ = ["Recorder", "StoredRollout", "load", "recording", "report_path", "resolve"]
