"""Writing period reports to disk: one on demand (``generate``, the CLI) and the drafts of
the reports falling due, with their reminders (``draft_due_reports``, the scheduler).

The report comes from ``period``, its bytes from ``files``; this module only names the
files, writes them atomically and queues the reminders: a report due within
DRAFT_AHEAD_DAYS gets its draft files once, and VP and NV one reminder each."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ...domain.calendar import LOCAL_TZ
from ...extensions import db
from ...models import Unit, User
from ..sla.notify import queue
from .files import pdf_bytes, xlsx_bytes
from .period import Period, Report, build_report, periods_of

DRAFT_AHEAD_DAYS = 10
REMINDED_UNITS = ("VP", "NV")


def write_xlsx(report: Report, path: Path) -> Path:
    _write(path, xlsx_bytes(report))
    return path


def write_pdf(report: Report, path: Path) -> Path:
    _write(path, pdf_bytes(report))
    return path


def _write(path: Path, data: bytes, *, once: bool = False) -> bool:
    """Write atomically (a temporary file, then a rename). ``once``: only when the file is
    not there yet; of two writers racing, one wins and the other returns False."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    try:
        os.link(tmp, path) if once else os.replace(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def reports_dir() -> Path:
    return Path(current_app.instance_path) / "reports"


def generate(
    period: Period, now: datetime, out_dir: Path | None = None
) -> tuple[Report, Path, Path]:
    """Both files under a generated name (period and time), never overwriting another run."""
    report = build_report(period, now)
    stem = f"bao-cao-{period.key}-{now.astimezone(LOCAL_TZ):%Y%m%d-%H%M%S}"
    folder = out_dir or reports_dir()
    return (
        report,
        write_xlsx(report, folder / f"{stem}.xlsx"),
        write_pdf(report, folder / f"{stem}.pdf"),
    )


def draft_paths(period: Period) -> tuple[Path, Path]:
    stem = reports_dir() / f"du-thao-bao-cao-{period.key}"
    return stem.with_suffix(".xlsx"), stem.with_suffix(".pdf")


def _reminder_recipients() -> list[str]:
    units = db.session.scalars(select(Unit).where(Unit.code.in_(REMINDED_UNITS))).all()
    heads = db.session.scalars(
        select(User).where(
            User.role == "unit_head", User.active, User.unit_id.in_([u.id for u in units])
        )
    )
    return sorted({a for a in [*(u.email for u in units), *(h.email for h in heads)] if a})


def draft_due_reports(now: datetime) -> dict[str, Any]:
    """For each report due within DRAFT_AHEAD_DAYS (and not past): write the draft files
    once and remind VP and NV once (outbox keys). Commits; safe to run from two places."""
    local_year = now.astimezone(LOCAL_TZ).year
    horizon = now + timedelta(days=DRAFT_AHEAD_DAYS)
    summary: dict[str, Any] = {"due": [], "drafted": [], "already_drafted": [], "reminders": 0}
    for year in (local_year - 1, local_year, local_year + 1):
        for period in periods_of(year):
            if not now < period.deadline <= horizon:
                continue
            summary["due"].append(period.key)
            xlsx, pdf = draft_paths(period)
            if xlsx.exists() and pdf.exists():
                summary["already_drafted"].append(period.key)
            else:
                report = build_report(period, now)
                wrote = [
                    _write(xlsx, xlsx_bytes(report), once=True),
                    _write(pdf, pdf_bytes(report), once=True),
                ]
                summary["drafted" if any(wrote) else "already_drafted"].append(period.key)
            body = (
                f"Báo cáo kết quả tiếp nhận, giải quyết phản ánh, kiến nghị {period.label} "
                f"({period.span}) phải gửi {period.due_text}.\n\n"
                f"Dự thảo đã được lập tự động: {xlsx.name} và {pdf.name} (thư mục "
                "instance/reports); bản cập nhật tải tại trang «Báo cáo định kỳ» (/bao-cao/).\n"
                "Đề nghị Văn phòng HĐND-UBND và Phòng Nội vụ rà soát, hoàn thiện và trình ký "
                "đúng hạn."
            )
            for address in _reminder_recipients():
                summary["reminders"] += queue(
                    dedupe_key=f"report:{period.key}:reminder:{address}",
                    recipient=address,
                    subject=f"Nhắc hạn báo cáo {period.label} ({period.due_text})",
                    body=body,
                    kind="report_reminder",
                    now=now,
                )
    db.session.commit()
    return summary
