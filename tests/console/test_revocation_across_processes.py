"""A revocation in one gateway process reaches the session-check caches of the others on the
host at once (the shared counter file, ``gateway.identity.host_epoch``). The whole path, the
Console disabling an account and nginx's forward-auth answer server refusing it at the next
request, is ``tests/edge/test_admin_through_edge.py``."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from gateway.identity.host_epoch import HostEpoch


def _bump(path: str) -> None:
    HostEpoch(path).bump()


def test_a_bump_in_another_process_is_seen_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "session-epoch")
    reader = HostEpoch(path)
    before = reader.read()
    worker = multiprocessing.get_context("spawn").Process(target=_bump, args=(path,))
    worker.start()
    worker.join(30)
    assert worker.exitcode == 0
    assert reader.read() == before + 1


def test_concurrent_bumps_are_never_lost(tmp_path: Path) -> None:
    path = str(tmp_path / "session-epoch")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_bump, args=(path,)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert HostEpoch(path).read() == 6


def test_an_unusable_file_leaves_a_per_process_counter(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    epoch = HostEpoch(str(blocker / "session-epoch"))  # a folder that cannot exist
    before = epoch.read()
    epoch.bump()
    assert epoch.read() == before + 1
