"""Dask distributed as the pipeline's executor (optional extra ``proofyard[dask]``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Executor

from ops.pipeline.runner import PipelineError

CONNECT_TIMEOUT_S = 10.0


@contextlib.contextmanager
def dask_executors(address: str | None, workers: int) -> Iterator[tuple[Executor, Executor]]:
    """The same executor for subprocess and call steps: a Dask client's executor, on the
    given scheduler or on a local cluster listening on 127.0.0.1 only (its dashboard off,
    since Dask's comms are unencrypted; the scheduler's HTTP routes, which Dask starts even
    then and would put on port 8787, go to a free loopback port)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise PipelineError(
            "--executor dask needs the extra: pip install 'proofyard[dask]'"
        ) from None
    with contextlib.ExitStack() as stack:
        if address:
            try:
                client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT_S))
            except (OSError, TimeoutError) as exc:
                raise PipelineError(
                    f"cannot reach the Dask scheduler {address} within "
                    f"{CONNECT_TIMEOUT_S:g} s: {exc}"
                ) from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    processes=True,
                )
            )
            client = stack.enter_context(Client(cluster))
        executor = client.get_executor(pure=False)
        yield executor, executor
