"""Value types shared across layers: plain dataclasses with no I/O and no SDK or SQLite imports,
so that the rollout core, its adapters and the store can all speak them (docs/architecture.md)."""
