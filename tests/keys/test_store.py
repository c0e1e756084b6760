"""The key store as a gateway process uses it: many threads, one shared directory."""

from __future__ import annotations

import threading
import time
from typing import Any

from gateway.keys.store import KeyStore, NoSigningKey


class SlowDisk(KeyStore):
    """A store whose reads take a while (a busy disk), to show what threads see meanwhile."""

    def _reload(self) -> None:
        time.sleep(0.2)
        super()._reload()


def test_threads_of_a_fresh_process_all_find_the_signing_key(tmp_path: Any) -> None:
    """The first requests of a new worker arrive together: none may see an empty key state
    while another thread is still reading it (that was a 500 on a proxied page)."""
    KeyStore(str(tmp_path)).ensure(demo=True)
    store = SlowDisk(str(tmp_path))
    found: list[str] = []
    failed: list[str] = []

    def sign() -> None:
        try:
            found.append(store.signing_key().kid)
        except NoSigningKey as exc:
            failed.append(str(exc))

    threads = [threading.Thread(target=sign) for _ in range(8)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)  # the first one is inside the slow read when the others arrive
    for thread in threads:
        thread.join(timeout=10)
    assert failed == []
    assert len(found) == 8 and len(set(found)) == 1
