"""Audit: every account's events, filtered and paged, and the export (CSV or JSON Lines)
streamed from ``gateway.identity.audit_log`` in batches, never the whole table at once.

The export is a POST (CSRF, and it is itself audited: ``audit_exported``, committed before
the first byte); the page is a GET that changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from werkzeug.datastructures import MultiDict

from gateway.admin.forms import ExportForm
from gateway.admin.guard import operator, protect
from gateway.identity import audit_log, people, roles
from gateway.identity.audit import EVENT_LABELS, describe
from gateway.products.table import products

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")
protect(bp)

FORMATS = {"csv": ("text/csv; charset=utf-8", audit_log.csv_lines),
           "jsonl": ("application/x-ndjson", audit_log.json_lines)}


@bp.before_request
def _may_read_audit() -> None:
    if not roles.may(operator(), roles.Action.READ_AUDIT):
        abort(403)


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        abort(400)


def _account_id(value: str | None) -> str | None:
    """An account named by email or id; an unknown one matches nothing (not everything)."""
    if not value or not value.strip():
        return None
    found = people.find(value.strip()) or next(iter(people.search(value)), None)
    return found.id if found is not None else "-"


def filters_from(values: MultiDict[str, str]) -> audit_log.Filters:
    event = values.get("event") or None
    if event is not None and event not in EVENT_LABELS:
        abort(400)
    until = _day(values.get("until"))
    return audit_log.Filters(
        actor_id=_account_id(values.get("actor")),
        target_id=_account_id(values.get("target")),
        event=event,
        since=_day(values.get("since")),
        until=until + timedelta(days=1) if until else None,  # the whole last day
    )


@bp.route("")
def events() -> str:
    filters = filters_from(request.args)
    before = request.args.get("before", "")
    if before and not (before.isascii() and before.isdecimal() and int(before) < 2**31):
        abort(400)  # an audit row id (a 32-bit integer column) or nothing
    page = audit_log.page(filters, int(before) if before else None)
    kept = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/audit.html", page=page, values=request.args, kept=kept,
        event_names=sorted(EVENT_LABELS), form=ExportForm(),
        describe=partial(describe, titles=products().titles()),
    )


@bp.route("/export", methods=["POST"])
def export() -> Response:
    form = ExportForm()
    if not form.validate_on_submit() or form.format.data not in FORMATS:
        abort(400)
    filters = filters_from(request.form)
    mimetype, lines = FORMATS[form.format.data]
    audit_log.record_export(operator().id, form.format.data,
                            {k: v for k, v in request.form.items()
                             if k in audit_log.FILTER_NAMES and v})

    def body() -> Iterator[str]:
        yield from lines(audit_log.stream(filters))

    name = f"audit-{datetime.now(UTC):%Y%m%d-%H%M%S}.{form.format.data}"
    return Response(stream_with_context(body()), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
