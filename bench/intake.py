"""Intake throughput and latency: ``POST /api/v1/cases`` against the floor.

For each engine (SQLite, PostgreSQL): a fresh database is migrated and seeded; then
gunicorn with 2 sync workers serves, one after the other, ``bench.floor_app`` (one row,
nothing else) and ``wsgi:app`` (the real intake: validation, routing, both deadlines from
the working-day calendar, the case code counter, the case, its first timeline event and
the receipt e-mail in the outbox, in one transaction), each loaded by ``bench.loadgen``
with 32 concurrent clients on loopback (3 s warm-up, then the measured window).
Afterwards every 201 is checked against the database (cases counted).

    .venv/bin/python -m bench.intake [--engines sqlite,postgresql] [--seconds 20] [--clients 32]

Targets (issue 8): intake ≥ 0.5 × floor requests/s, no errors, p99 < 250 ms.
Results: bench/results/intake.json.
"""

from __future__ import annotations

import argparse
import os
import random

from sqlalchemy import create_engine, text

from . import common, loadgen

CATEGORIES = ["6.3b", "6.3c", "6.3a", "6.3d", "5.2", "7.1", "6.4", "2.4", "1.1", "8.2"]
AREAS = ["00688", "00691", "00692", "00694", "00697", "00700", "00946", "00949"]
SUBJECTS = [
    "Rác thải không được thu gom đúng giờ",
    "Đèn đường hỏng nhiều ngày chưa sửa",
    "Đường bị sụt lún, ổ gà gây nguy hiểm",
    "Mất nước sinh hoạt kéo dài",
    "Tiếng ồn từ công trình xây dựng ban đêm",
]


def case_payload(thread: int, seq: int) -> dict[str, object]:
    rnd = random.Random(thread * 1_000_003 + seq)
    return {
        "kind": rnd.choice(["feedback", "feedback", "petition", "suggestion"]),
        "subject": rnd.choice(SUBJECTS),
        "body": "Kính đề nghị cơ quan chức năng kiểm tra và xử lý. " * rnd.randint(2, 6),
        "category_code": rnd.choice(CATEGORIES),
        "area_code": rnd.choice(AREAS),
        "address": f"Tổ {rnd.randint(1, 20)}, số nhà {rnd.randint(1, 300)}",
        "reporter": {
            "name": "Nguyễn Văn Bình",
            "phone": "0912 345 678",
            "email": f"nguoidan{thread}.{seq}@example.vn",
            "anonymous": False,
        },
    }


def bench_engine(engine: str, seconds: float, clients: int) -> dict[str, object]:
    url = common.database_url(engine, "intake")
    common.migrate_and_seed(url)
    import bench.floor_app

    sa_engine = create_engine(url)
    bench.floor_app.metadata.create_all(sa_engine)
    body = loadgen.json_body(case_payload)
    out: dict[str, object] = {"engine": engine, "loadavg_before": os.getloadavg()[0]}
    with common.gunicorn("bench.floor_app:app", url, log=f"intake-floor-{engine}") as (_, port):
        out["floor"] = loadgen.run(port, "/floor", body, concurrency=clients, duration=seconds)
    with common.gunicorn("wsgi:app", url, log=f"intake-app-{engine}") as (_, port):
        out["intake"] = loadgen.run(
            port, "/api/v1/cases", body, concurrency=clients, duration=seconds
        )
    with sa_engine.connect() as conn:
        out["cases_in_db"] = conn.scalar(text("SELECT count(*) FROM cases"))
        out["floor_rows_in_db"] = conn.scalar(text("SELECT count(*) FROM bench_floor"))
    sa_engine.dispose()
    floor, intake = out["floor"], out["intake"]
    ratio = round(intake["rps"] / floor["rps"], 3) if floor["rps"] else None  # type: ignore[index]
    out["ratio"] = ratio
    out["targets"] = {
        "ratio_ge_0_5": ratio is not None and ratio >= 0.5,
        "no_errors": not intake["errors"] and not intake["non_2xx"],  # type: ignore[index]
        "p99_lt_250ms": (intake["latency_ms"]["p99"] or 1e9) < 250,  # type: ignore[index]
    }
    print(
        f"{engine}: floor {floor['rps']} req/s p99 {floor['latency_ms']['p99']} ms | "  # type: ignore[index]
        f"intake {intake['rps']} req/s p99 {intake['latency_ms']['p99']} ms "  # type: ignore[index]
        f"errors {intake['errors']} non-2xx {intake['non_2xx']} | ratio {ratio}"  # type: ignore[index]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--out", default="intake", help="result name (bench/results/NAME.json)")
    args = parser.parse_args()
    runs = [bench_engine(e, args.seconds, args.clients) for e in args.engines.split(",")]
    common.write_result(
        args.out,
        {
            "method": "gunicorn -w 2 (sync workers), closed-loop Python load generator "
            f"(bench/loadgen.py), {args.clients} clients, 3 s warm-up, {args.seconds} s measured, "
            "floor first then intake, each on the same fresh database; rate-limit storage "
            + ("Redis (REDIS_URL)" if os.environ.get("REDIS_URL") else "in memory"),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
