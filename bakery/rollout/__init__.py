"""Rollouts: plan and state machine (pure), executor (the only I/O), fleets on the engine."""
