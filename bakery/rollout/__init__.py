"""Rollouts: ports, observe, plan, the state machine and analysis (pure), the driver and the
service that do the I/O through the ports, and the adapters (docs/architecture.md)."""
