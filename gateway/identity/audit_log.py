"""The whole audit log for operators: filters, pages, and exports that stream.

One :class:`Filters` value says which rows (actor, target, event, time range); :func:`page`
reads one page newest first, keyed on the row id (``before``: no OFFSET that slows down deep
in a large log, and a row added meanwhile never shifts a page); :func:`stream` walks every
matching row in batches of :data:`BATCH` by the same key, so an export holds one batch in
memory whatever the size of the log (``bench/audit_export.py`` measures it), and
:func:`csv_lines` / :func:`json_lines` turn rows into text as they come.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, delete, select

from gateway.db import db
from gateway.identity import audit
from gateway.models import AuditEvent, utcnow

BATCH = 1000
PAGE_SIZE = 50
#: The filters an export request may name (recorded with its audit row).
FILTER_NAMES = ("actor", "target", "event", "since", "until")
COLUMNS = ("id", "created_at", "event", "target_id", "actor_id", "ip_address", "detail")


@dataclass(frozen=True)
class Filters:
    """Which rows: each None is no filter; ``since`` inclusive, ``until`` exclusive."""

    actor_id: str | None = None
    target_id: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> Select[tuple[AuditEvent]]:
        query = select(AuditEvent)
        if self.actor_id is not None:
            query = query.where(AuditEvent.actor_id == self.actor_id)
        if self.target_id is not None:
            query = query.where(AuditEvent.user_id == self.target_id)
        if self.event is not None:
            query = query.where(AuditEvent.event == self.event)
        if self.since is not None:
            query = query.where(AuditEvent.created_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.created_at < self.until)
        return query


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    #: The ``before`` of the next (older) page, or None on the last one.
    next_before: int | None


def page(filters: Filters, before: int | None = None, size: int = PAGE_SIZE) -> Page:
    query = filters.query()
    if before is not None:
        query = query.where(AuditEvent.id < before)
    rows = list(db().scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1].id if more and rows else None)


def record_export(operator_id: str, format: str, filters: dict[str, str]) -> None:
    """An export is itself an audit event, committed before the first line streams (the
    export's use case: one commit)."""
    audit.by_operator("audit_exported", None, operator_id, format=format, filters=filters)
    db().commit()


def stream(filters: Filters, batch: int = BATCH) -> Iterator[AuditEvent]:
    """Every matching row, newest first, one batch of ``batch`` rows loaded at a time (each
    batch expunged once read, so the session keeps none)."""
    before: int | None = None
    session = db()
    while True:
        query = filters.query()
        if before is not None:
            query = query.where(AuditEvent.id < before)
        rows = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(batch)))
        if not rows:
            return
        for row in rows:
            session.expunge(row)
        yield from rows
        before = rows[-1].id


def _values(event: AuditEvent) -> tuple[object, ...]:
    return (event.id, event.created_at.isoformat(), event.event, event.user_id or "",
            event.actor_id or "", event.ip_address, event.detail)


def _safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading
    apostrophe (OWASP "CSV injection"): details hold what people typed."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The header, then one CSV line per event, produced as the events come."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe_cell(v) for v in values])
        return buffer.getvalue()

    yield line(COLUMNS)
    for event in events:
        yield line(_values(event))


def json_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """One JSON object per line (JSON Lines), ``detail`` parsed when it is JSON."""
    for event in events:
        record = dict(zip(COLUMNS, _values(event), strict=True))
        try:
            record["detail"] = json.loads(event.detail) if event.detail else {}
        except ValueError:
            pass
        yield json.dumps(record, sort_keys=True) + "\n"


def prune(days: int | None = None, batch: int = BATCH) -> int:
    """Remove rows older than ``days`` (default ``AUDIT_RETENTION_DAYS``; 0 keeps all), a
    batch per transaction so no long lock holds the table; the removal is itself audited
    (``audit_pruned``). How many rows went."""
    days = current_app.config["AUDIT_RETENTION_DAYS"] if days is None else days
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    session = db()
    removed = 0
    while True:
        ids = list(session.scalars(select(AuditEvent.id).where(AuditEvent.created_at < cutoff)
                                   .limit(batch)))
        if not ids:
            break
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        session.commit()
        removed += len(ids)
    if removed:
        audit.by_operator("audit_pruned", None, None, removed=removed, older_than_days=days)
        session.commit()
    return removed
