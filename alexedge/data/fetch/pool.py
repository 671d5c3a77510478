"""Worker threads for ``data fetch``, and stopping them at once on Ctrl-C or SIGTERM.

Daemon threads rather than a ``ThreadPoolExecutor``: the interpreter joins executor
threads at exit, so one worker stuck in a DNS lookup (which no socket timeout
bounds) would hold the process after Ctrl-C. The caller feeds a few tasks per
worker at a time, so neither a million URLs nor their downloaded bytes pile up.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType

from alexedge.data.fetch.types import Outcome, Task

__all__ = ["run_pool", "stop_on_signals"]

_IN_FLIGHT_PER_WORKER = 2
_POLL_SECONDS = 0.1


def run_pool(
    tasks: Iterable[Task], work: Callable[[Task], Outcome], workers: int, stop: threading.Event
) -> Iterator[Outcome]:
    """Yield outcomes as they finish; raise ``KeyboardInterrupt`` once ``stop`` is set."""
    todo: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[Outcome | Exception] = queue.SimpleQueue()
    threads = [
        threading.Thread(
            target=_worker, args=(todo, done, work, stop), name=f"alexedge-fetch-{i}", daemon=True
        )
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    remaining = iter(tasks)
    in_flight = 0
    try:
        while True:
            while in_flight < workers * _IN_FLIGHT_PER_WORKER:
                task = next(remaining, None)
                if task is None:
                    break
                todo.put(task)
                in_flight += 1
            if in_flight == 0:
                return
            outcome = _next_outcome(done, stop)
            in_flight -= 1
            yield outcome
    finally:
        for _ in threads:
            todo.put(None)
        if not stop.is_set():
            for thread in threads:
                thread.join(timeout=1.0)


def _next_outcome(done: queue.SimpleQueue[Outcome | Exception], stop: threading.Event) -> Outcome:
    while True:
        if stop.is_set():
            raise KeyboardInterrupt
        with contextlib.suppress(queue.Empty):
            outcome = done.get(timeout=_POLL_SECONDS)
            if stop.is_set():  # a transfer the stop cut short: not an outcome to record
                raise KeyboardInterrupt
            if isinstance(outcome, Exception):  # a bug in a worker: keep its traceback
                raise outcome
            return outcome


def _worker(
    todo: queue.SimpleQueue[Task | None],
    done: queue.SimpleQueue[Outcome | Exception],
    work: Callable[[Task], Outcome],
    stop: threading.Event,
) -> None:
    while (task := todo.get()) is not None and not stop.is_set():
        try:
            done.put(work(task))
        except Exception as e:
            done.put(e)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, on_stop: Callable[[], None]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``stop.set(); on_stop()`` while the block runs.

    The handler only sets a flag, so a signal never lands in the middle of a
    manifest line; the main loop sees the flag within a poll interval. Signal
    handlers can only be installed from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        on_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
