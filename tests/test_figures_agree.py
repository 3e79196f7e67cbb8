"""With the demo data, the breach monitor, the dashboard and a period report agree with
each other and with figures this test computes on its own from the cases."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from feedback.database import unit_of_work
from feedback.domain.calendar import LOCAL_TZ
from feedback.models import Case, SlaPolicy

DEMO_NOW = datetime(2026, 5, 15, 3, 0, tzinfo=UTC)  # every demo case falls in 2026-Q2
Q2 = (date(2026, 4, 1), date(2026, 7, 1))


def _independent(app: Flask, now: datetime) -> dict[str, int]:
    """Counted straight from the rows, without feedback.services.oversight.metrics."""
    from feedback.extensions import db

    with app.app_context():
        pausing = set(
            db.session.scalars(select(SlaPolicy.kind).where(SlaPolicy.pause_when_waiting))
        )
        cases = db.session.scalars(select(Case)).all()
        q2 = [
            c
            for c in cases
            if Q2[0] <= c.received_at.astimezone(LOCAL_TZ).date() < Q2[1] and c.status != "merged"
        ]
        answered = [c for c in q2 if c.answered_at is not None]
        overdue = [
            c
            for c in q2
            if c.answered_at is None
            and c.status not in {"closed", "rejected", "merged"}
            and c.response_due_at < now
            and not (c.status == "waiting_citizen" and c.kind in pausing)
        ]
        return {
            "received": len(q2),
            "answered": len(answered),
            "on_time": sum(c.answered_at <= c.response_due_at for c in answered),
            "overdue": len(overdue),
            "all_cases": len(cases),
        }


def test_monitor_dashboard_and_report_agree(app: Flask, client: FlaskClient, login_as: Any) -> None:
    from feedback.services.demo import load_demo
    from feedback.services.reports.files import xlsx_bytes
    from feedback.services.reports.period import build_report, parse_period

    with app.app_context(), unit_of_work():
        load_demo(password="demo-matkhau-1", now=DEMO_NOW)
    now = datetime.now(UTC)
    expected = _independent(app, now)
    assert expected["received"] >= 30 and expected["answered"] > 0 and expected["overdue"] > 0
    share = round(100 * expected["on_time"] / (expected["answered"] + expected["overdue"]), 1)

    with app.app_context():
        report = build_report(parse_period("2026-Q2"), now)
        workbook = load_workbook(io.BytesIO(xlsx_bytes(report)))
    assert report.totals["received"] == expected["received"]
    assert report.totals["overdue_open"] == expected["overdue"]
    assert report.totals["answered_on_time"] == share
    cells = [c for row in workbook["Tổng hợp"].iter_rows(values_only=True) for c in row]
    assert expected["received"] in cells and share in cells

    login_as("inspector", "TTR")
    page = client.get("/thanh-tra/so-lieu?from=2026-04-01&to=2026-06-30").text
    assert "filter-error" not in page
    totals = page.split('data-testid="totals"')[1].split("</dl>")[0]
    figure = dict(re.findall(r'data-figure="(\w+)" data-value="([^"]*)"', totals))
    assert int(figure["received"]) == expected["received"]
    assert int(figure["overdue_open"]) == expected["overdue"]
    assert float(figure["answered_on_time"]) == share

    monitor = client.get("/thanh-tra/").text
    count = re.search(r'data-count="response_overdue">(\d+)<', monitor)
    assert count is not None and int(count.group(1)) == expected["overdue"]
