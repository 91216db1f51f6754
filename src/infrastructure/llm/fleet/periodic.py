"""A background round run every so often on a daemon thread: the pools' health checks and
metrics scrapes both run this way."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    """Runs `run_round(stop)` every `interval` seconds until stopped; a round that raises is
    logged on `logger` (as `what` failed) and the next one runs. `stop` is set when the rounds
    should end, so a long round can skip what it has not started."""

    def __init__(
        self,
        name: str,
        interval: float,
        run_round: Callable[[threading.Event], object],
        what: str,
        logger: logging.Logger,
    ) -> None:
        self._name = name
        self._interval = interval
        self._run_round = run_round
        self._what = what
        self._logger = logger
        self._control = threading.Lock()  # serialises start and stop
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, wait_first: bool = False) -> None:
        """Start the rounds on a daemon thread (with `wait_first`, the first one an interval
        from now: the caller has just run one); idempotent."""
        with self._control:
            if self.running:
                return
            self._stop_event = threading.Event()
            self._thread = threading.Thread(
                target=self._loop,
                args=(self._stop_event, wait_first),
                name=self._name,
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the rounds and wait up to `timeout` for the thread; False if it is still
        finishing a round then. Idempotent."""
        with self._control:
            thread, self._thread = self._thread, None
            if thread is None:
                return True
            self._stop_event.set()
            thread.join(timeout)
            return not thread.is_alive()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _loop(self, stop: threading.Event, wait_first: bool) -> None:
        if wait_first:
            stop.wait(self._interval)
        while not stop.is_set():
            try:
                self._run_round(stop)
            except Exception:
                self._logger.exception("%s failed", self._what)
            stop.wait(self._interval)
