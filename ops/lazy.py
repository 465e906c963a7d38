"""Third-party modules loaded on first use, so that a session running one suite does not
import the libraries of the others (numpy alone took 0.29 s of `pytest --co -m docs`).

The standard library's recipe (``importlib.util.LazyLoader``): the module object exists at
once and its code runs when an attribute is first read. Python 3.11 has no lazy import
statement, and moving every ``import`` into the functions that need it would scatter them.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module whose code runs on first attribute access (at once if it is
    already imported); ``ModuleNotFoundError`` now if it is not installed."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
