"""The 1022 import at scale (issue 17): a file of N rows (default 100,000) imported by
``flask --app feedback import-1022`` in chunks of 500 rows, timed on each engine; then
the same file imported again (every row "already present": the cost of a re-run after an
interruption), and a third run killed mid-way and re-run, counting every ticket once.

Rows are realistic and varied: five kinds, the routing table's categories, the 2023
pack's areas, Vietnamese subjects and bodies, a phone on most rows, one row in 200 bad
(a future date) so rejections are part of the cost. Received times are spread over 2024.

    .venv/bin/python -m bench.import_1022 [--rows 100000] [--engines sqlite,postgresql]

Writes bench/results/import_1022.json: per engine, seconds (wall) and rows/s of the first
run, the re-run, the killed run and its completion, the process's CPU seconds (the
machine may be shared: CPU seconds are the steadier figure), and the counts checked.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from . import common

KINDS = ("Phản ánh", "Kiến nghị", "Góp ý", "Khiếu nại", "Tố cáo")
CATEGORIES = ("1.1", "2.1", "3.1", "4.1", "5.1", "6.1", "6.2", "7.1", "8.1")
AREAS = ("00688", "00691", "00692", "00694", "00697", "00700", "00946", "00949")
SUBJECTS = (
    "Đèn đường không sáng",
    "Rác thải tồn đọng",
    "Nước sinh hoạt bị đục",
    "Tiếng ồn ban đêm",
    "Đường xuống cấp",
    "Lấn chiếm vỉa hè",
)
HEADER = (
    "ticket,received_at,kind,category_code,area_code,address,subject,body,"
    "caller_name,caller_phone,caller_email,anonymous"
).split(",")


def build_file(path: Path, rows: int, seed: int = 1022) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            day = 1 + rnd.randrange(28)
            month = 1 + rnd.randrange(12)
            year = 2030 if i % 200 == 199 else 2024  # one row in 200: a future date
            subject = rnd.choice(SUBJECTS)
            hour, minute = 8 + rnd.randrange(9), rnd.randrange(60)
            writer.writerow(
                [
                    f"1022-B-{i:07d}",
                    f"{day:02d}/{month:02d}/{year} {hour:02d}:{minute:02d}",
                    rnd.choice(KINDS),
                    rnd.choice(CATEGORIES),
                    rnd.choice(AREAS),
                    f"Số {rnd.randrange(1, 300)} đường Nguyễn Trãi, tổ {rnd.randrange(1, 30)}",
                    f"{subject} tại tổ {rnd.randrange(1, 30)}",
                    f"{subject}: người dân gọi 1022 báo đã nhiều ngày chưa được khắc phục, "
                    "đề nghị cơ quan chức năng kiểm tra, xử lý.",
                    "Nguyễn Văn An",
                    f"09{rnd.randrange(10**8):08d}",
                    "",
                    "0",
                ]
            )


def _import(url: str, path: Path, *, kill_after: int | None = None) -> dict[str, Any]:
    """One ``import-1022`` process; with ``kill_after``, SIGKILLed once its progress line
    shows at least that many rows committed."""
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [str(common.BIN / "flask"), "--app", "feedback", "import-1022", str(path)],
        env=common.env_for(url),
        cwd=common.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    killed_at = None
    for line in proc.stderr:
        if kill_after is not None and "/" in line and " dòng (" in line:
            done = int(line.split("/", 1)[0])
            if done >= kill_after:
                proc.kill()
                killed_at = done
                break
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1
        ),
        "returncode": proc.returncode,
        "killed_at_rows": killed_at,
    }


def _counts(url: str, prefix: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        cases, distinct = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT external_ref) FROM cases "
                "WHERE channel = 'hotline' AND external_ref LIKE :p"
            ),
            {"p": f"{prefix}%"},
        ).one()
    engine.dispose()
    return {"cases": int(cases), "distinct_tickets": int(distinct)}


def run(engine: str, rows: int, folder: Path) -> dict[str, Any]:
    url = common.database_url(engine, "import1022")
    common.migrate_and_seed(url)
    path = folder / f"1022-{rows}.csv"
    if not path.exists():
        build_file(path, rows)
    good = rows - rows // 200
    first = _import(url, path)
    first["rows_per_second"] = round(rows / first["seconds"], 1)
    again = _import(url, path)
    again["rows_per_second"] = round(rows / again["seconds"], 1)
    counted = _counts(url, "1022-B-")
    # A second file of the same shape under other tickets, killed at about a third.
    other = folder / f"1022-{rows}-k.csv"
    if not other.exists():
        other.write_text(path.read_text(encoding="utf-8").replace("1022-B-", "1022-K-"))
    killed = _import(url, other, kill_after=rows // 3)
    resumed = _import(url, other)
    after_kill = _counts(url, "1022-K-")
    result = {
        "rows": rows,
        "good_rows": good,
        "first_run": first,
        "re_run_all_present": again,
        "killed_run": killed,
        "completing_run": resumed,
        "counts_first_file": counted,
        "counts_killed_file": after_kill,
        # Every ticket one case, and the killed-then-completed file as many as the other.
        "exactly_once": counted["cases"] == counted["distinct_tickets"]
        and after_kill == counted
        and counted["cases"] >= good,
    }
    print(
        f"{engine}: {rows} rows in {first['seconds']} s ({first['rows_per_second']} rows/s, "
        f"{first['cpu_seconds']} s CPU); re-run {again['seconds']} s; killed at "
        f"{killed['killed_at_rows']} rows, completed in {resumed['seconds']} s; "
        f"exactly once: {result['exactly_once']}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    args = parser.parse_args()
    folder = common.INSTANCE / "import1022"
    folder.mkdir(parents=True, exist_ok=True)
    results = {engine: run(engine, args.rows, folder) for engine in args.engines.split(",")}
    common.write_result("import_1022", {"rows": args.rows, "engines": results})


if __name__ == "__main__":
    main()
