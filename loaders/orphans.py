"""Helper processes that end when the process that started them does.

A ProcessPoolExecutor's worker waits for work on a pipe whose other end it holds itself, so a
parent killed outright (kill -9, the OOM killer) leaves its workers waiting for ever. Each
worker started with `initializer=exit_with_parent, initargs=(os.getpid(),)` watches its
parent and leaves when the parent is gone.
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 2.0


def exit_with_parent(parent_pid: int) -> None:
    """In a pool worker: a daemon thread that ends the process once `parent_pid` is gone."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(POLL_SECONDS)
        os._exit(1)  # the parent died: nothing is waiting for this process's work

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
