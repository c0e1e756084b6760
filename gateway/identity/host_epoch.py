"""A counter the gateway's processes on one host share, so that a revocation in one of them
reaches the session-check caches of all of them at once.

The Console that disables an account, ends a session or changes a link bumps it; the
forward-auth answer server and the other workers read it before every cached answer and
forget their cache when it moved. Without it a revocation in the Console would bite in the
answer server (always another process) only after ``SESSION_CACHE_SECONDS``.

The counter is 8 bytes in a memory-mapped file (``SESSION_EPOCH_FILE``): reading it is a
memory read, cheap enough for every cached answer; a bump takes an exclusive ``flock`` so two
processes never lose one. Processes on other hosts still learn of a revocation within
``SESSION_CACHE_SECONDS`` (their caches expire); the file is a speed-up of "at once" on one
host, never the only guard. When the file cannot be opened (a read-only folder), the counter
stays per process and the gateway says so once in its log.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct

log = logging.getLogger("gateway.sessions")

_COUNTER = struct.Struct("<Q")


class HostEpoch:
    """The shared counter in ``path``, or a per-process one when ``path`` is unusable."""

    def __init__(self, path: str) -> None:
        self._local = 0
        self._map: mmap.mmap | None = None
        self._fd = -1
        if not path:
            return
        try:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(fd).st_size < _COUNTER.size:
                os.ftruncate(fd, _COUNTER.size)
            self._map = mmap.mmap(fd, _COUNTER.size)
            self._fd = fd
        except OSError as error:
            log.warning("session epoch file %s unusable (%s): revocations reach other "
                        "processes within SESSION_CACHE_SECONDS", path, error)

    def read(self) -> int:
        if self._map is None:
            return self._local
        return int(_COUNTER.unpack_from(self._map)[0])

    def bump(self) -> None:
        if self._map is None:
            self._local += 1
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _COUNTER.pack_into(self._map, 0, _COUNTER.unpack_from(self._map)[0] + 1)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
