"""Modules that load on first use instead of at import.

The docker SDK imports paramiko at start-up for its ``ssh://`` transport, and paramiko pulls in
cryptography and invoke: about 0.1 s of every bakery command, most of which never speak SSH.
``defer("paramiko")`` puts a stand-in in ``sys.modules``; the first attribute read (an
``ssh://`` engine, fabric, bakery's host code) runs the real module into that same object.

Unlike ``importlib.util.LazyLoader`` on Python 3.11, the load is guarded by a lock: two threads
that touch the module first at once (hosts are reached in parallel) see it whole.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """A module whose body has not run yet; ``__getattr__`` only sees names it does not have."""

    def __getattr__(self, attr: str) -> object:
        with _lock:
            state = self.__dict__
            if state.get("_bakery_loading"):  # the module's own body asking for a name it lacks
                raise AttributeError(attr)
            if type(self) is _Deferred:
                state["_bakery_loading"] = True
                try:
                    self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
                    self.__class__ = types.ModuleType
                except BaseException:
                    sys.modules.pop(self.__name__, None)  # the next import tries afresh
                    raise
                finally:
                    state.pop("_bakery_loading", None)
        return getattr(self, attr)


def defer(name: str) -> None:
    """Load ``name`` on first attribute use; nothing if it is loaded already or not installed."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
