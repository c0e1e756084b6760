"""In-memory attempt counters for the product's own login page (per process)."""

from __future__ import annotations

import threading
import time


class Throttle:
    """Fixed-window counters keyed by e.g. ``ip:1.2.3.4`` or ``email:a@b``."""

    def __init__(self) -> None:
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, limit: int, window: int) -> int:
        """Seconds to wait when ``key`` has reached ``limit`` in its window, else 0."""
        now = time.monotonic()
        with self._lock:
            start, count = self._hits.get(key, (now, 0))
            if now - start >= window:
                return 0
            return int(window - (now - start)) + 1 if count >= limit else 0

    def hit(self, key: str, window: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 50_000:
                self._hits = {k: v for k, v in self._hits.items() if now - v[0] < window}
            start, count = self._hits.get(key, (now, 0))
            if now - start >= window:
                start, count = now, 0
            self._hits[key] = (start, count + 1)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
