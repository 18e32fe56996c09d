"""bakery: a local-first image bakery and immutable rollout pipeline."""

__version__ = "0.1.0"

# Bumped whenever the way a definition is turned into an image changes, so that
# every fingerprint changes with it (docs/architecture.md, invariant 2).
RECIPE_VERSION = "3"  # 2: files keep their own paths in the build context

from bakery._deferred import defer as _defer  # noqa: E402 - must run before anything imports docker

_defer("paramiko")  # ~0.1 s off every command: only ssh:// engines and the host code use it
