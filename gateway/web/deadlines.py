"""A deadline on everything a request's body read waits for, however the server reads it.

A socket timeout bounds one ``recv``, not a read: gunicorn's ``wsgi.input.read(n)`` (and the
dev server's buffered file) call ``recv`` until ``n`` bytes have come, each ``recv`` with the
full timeout, so a client sending one byte just inside it holds the read, and its thread, for
as long as it likes. No server exposes a read that gives up at a point in time, so a
:class:`Watchdog`, one thread per process, shuts the read side of the client's socket when its
deadline passes (``shutdown(SHUT_RD)``): the blocked ``recv`` returns at once as if the client
had stopped, the reader sees :attr:`Deadline.cut` and answers 408. Answering still works (only
reading is shut) and the server closes the connection after the answer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class Deadline:
    """One socket watched until ``at`` (a ``time.monotonic`` value); ``cut`` once it passed."""

    def __init__(self, watchdog: Watchdog, sock: socket.socket, at: float) -> None:
        self._watchdog = watchdog
        self.sock = sock
        self.at = at
        self.cut = False

    def move(self, at: float) -> None:
        """A new deadline (a streamed body earns time as it arrives)."""
        self._watchdog.move(self, at)

    def end(self) -> None:
        """The read is over: the socket is no longer watched (never cut after this returns)."""
        self._watchdog.forget(self)


class Watchdog:
    """Per process: cuts the read side of watched sockets at their deadlines, from one thread
    started on first use (so also in each worker a server forks)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._watched: set[Deadline] = set()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, at: float) -> Deadline:
        deadline = Deadline(self, sock, at)
        with self._changed:
            self._watched.add(deadline)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="body-deadlines", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        return deadline

    def move(self, deadline: Deadline, at: float) -> None:
        with self._changed:
            if deadline in self._watched:
                deadline.at = at
                self._changed.notify()

    def forget(self, deadline: Deadline) -> None:
        with self._changed:
            self._watched.discard(deadline)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = self._clock()
                for deadline in [d for d in self._watched if d.at <= now]:
                    self._watched.discard(deadline)
                    deadline.cut = True
                    try:
                        deadline.sock.shutdown(socket.SHUT_RD)
                    except OSError:  # the connection is already gone
                        pass
                soonest = min((d.at for d in self._watched), default=None)
                self._changed.wait(None if soonest is None else max(0.0, soonest - now))
