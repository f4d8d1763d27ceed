"""Heavy CPU work away from the event loop: small jobs in a thread, large ones in a process.

A thread is enough for a short query or a small upload. It is not enough for large ones:
sqlglot's tokenizer and astropy's VOTable parser hold Python's global lock for long stretches,
and while they do, every other request of this server waits (a 1,000-column upload held them
up for most of a second). Work above HEAVY_BYTES of input goes to a process of its own, which
holds no lock of ours.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from loaders.orphans import exit_with_parent

HEAVY_BYTES = 20_000  # input size from which the work goes to a process
WORKERS = 1  # processes per server process: heavy requests queue for it, cheap ones never do

T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=WORKERS,
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=exit_with_parent, initargs=(os.getpid(),))
    return _pool


def _ready() -> bool:
    return True


async def warm_up() -> None:
    """Start the process now, so the first heavy request does not wait for it to import."""
    await asyncio.get_running_loop().run_in_executor(_executor(), _ready)


async def run(work: Callable[..., T], size: int, *args) -> T:
    """work(*args) in a thread, or in the worker process when `size` (bytes of input) is large.
    `work` and its arguments must be picklable (module-level functions, plain data)."""
    if size < HEAVY_BYTES:
        return await asyncio.to_thread(work, *args)
    global _pool
    try:
        return await asyncio.get_running_loop().run_in_executor(_executor(), work, *args)
    except BrokenProcessPool:  # the process died (killed, out of memory): a new one next time
        _pool = None
        raise RuntimeError("the worker process stopped while reading the request") from None


def shut_down() -> None:
    """Stop the worker process (the app's lifespan ends)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
