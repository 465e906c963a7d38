"""The cycle collector and the harness's long-lived data.

A session holds large acyclic data for its whole length (the per-file results of a quality
analysis: millions of dicts and lists on the CPython standard library, the records every
test leaves, the reports built from them). Each full pass of the cycle collector walks all
of it again; on a warm stdlib quality session these passes were a third of the CPU time
(``benchmarks/quality_bench.py``: 3.0 s with them, 1.95 s with the collector off). Objects
are still freed by reference count as ever; these helpers only keep the collector from
walking, over and over, what cannot be a cycle or stays alive anyway.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The collector off while bulk acyclic data is built (a cache decoded, findings made,
    reports written); on again after, as it was. Bounded work only: garbage cycles made
    meanwhile wait for the next pass."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle() -> None:
    """Collect what is garbage now, then freeze what is left, so no later pass walks it
    again. Costs what was made since the last call (about 10 us after a small test);
    frozen objects are still freed by reference count, only cycles among them wait for
    :func:`gc.unfreeze`."""
    gc.collect()
    gc.freeze()


def skip_last_collection() -> None:
    """At this process's exit, no last garbage collection of what is still alive: the
    process's memory goes with it, and that collection took 0.1 s of every pytest session
    and 40-50 ms of every pipeline run (``benchmarks/small_project_bench.py``,
    ``pipeline_bench.py``). Objects are still freed as their references go; only cycles
    left at exit are not. Registering it again changes nothing."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
