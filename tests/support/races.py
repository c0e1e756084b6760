"""Two requests racing for one single-use thing, interleaved for real through the database.

Nothing of the gateway is patched: a statement listener on the app's engine holds a request at
the statement that spends the thing (``INSERT INTO used_tokens``, ``UPDATE recovery_codes``)
while the other request runs. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event

from gateway import db as gateway_db

T = TypeVar("T")
_WAIT = 30.0


def _spends(statement: str, spend: str) -> bool:
    return " ".join(statement.split()).upper().startswith(spend.upper())


def after_the_check(app: Flask, spend: str, first: Callable[[], T], second: Callable[[], T]
                    ) -> tuple[T, T]:
    """``second`` has passed every check and is about to spend (held before the statement
    starting with ``spend``) when ``first`` runs from start to commit; then ``second`` goes
    on. Returns both results."""
    arrived, go = threading.Event(), threading.Event()
    held: dict[str, Any] = {}

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is held.get("thread") and _spends(statement, spend):
            if not arrived.is_set():
                arrived.set()
                go.wait(_WAIT)

    def run_second() -> None:
        try:
            held["result"] = second()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            held["error"] = exc

    engine = gateway_db.engine(app)
    event.listen(engine, "before_cursor_execute", hold)
    thread = threading.Thread(target=run_second)
    held["thread"] = thread
    try:
        thread.start()
        assert arrived.wait(_WAIT), f"the second request never reached {spend!r}"
        first_result = first()
    finally:
        go.set()
        thread.join(_WAIT)
        event.remove(engine, "before_cursor_execute", hold)
    if "error" in held:
        raise held["error"]
    return first_result, held["result"]


def together(app: Flask, spend: str, *requests: Callable[[], T]) -> list[T]:
    """Every request is held before the statement starting with ``spend`` until all have
    reached it, then all spend at once. Returns the results in order."""
    barrier = threading.Barrier(len(requests), timeout=_WAIT)
    passed: set[threading.Thread] = set()
    results: list[Any] = [None] * len(requests)
    errors: list[BaseException] = []

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        thread = threading.current_thread()
        if thread not in passed and _spends(statement, spend):
            passed.add(thread)
            barrier.wait()

    def run(index: int, request: Callable[[], T]) -> None:
        try:
            results[index] = request()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            errors.append(exc)

    engine = gateway_db.engine(app)
    event.listen(engine, "before_cursor_execute", hold)
    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(_WAIT * 2)
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    if errors:
        raise errors[0]
    return results
