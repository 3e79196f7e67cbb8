"""Attachments on disk versus in the database (issue 17): 10 MiB files stored through the
intake service and downloaded by a signed-in coordinator through the Flask test client,
on each engine, for ATTACHMENT_STORAGE=disk and =database. With ``--threads N`` the
downloads run from N threads at once (a small load, one process).

    .venv/bin/python -m bench.attachment_storage [--files 5] [--threads 4]

Writes bench/results/attachment_storage.json: per engine and storage, the median and max
seconds to store one file and to download one, alone and under the threads' load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from . import common

MIB = 1024 * 1024
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def _app(url: str, storage: str) -> Any:
    os.environ.update(common.env_for(url))
    from feedback import create_app

    return create_app({"ATTACHMENT_STORAGE": storage, "RATELIMIT_ENABLED": False})


def measure(engine: str, storage: str, files: int, threads: int) -> dict[str, Any]:
    url = common.database_url(engine, f"attach_{storage}")
    common.migrate_and_seed(url)
    app = _app(url, storage)
    from feedback.database import unit_of_work
    from feedback.extensions import db
    from feedback.services.accounts.users import create_user
    from feedback.services.intake.attachments import make_upload, store_upload
    from feedback.services.intake.submission import CaseInput, Reporter, submit_case

    now = datetime.now(UTC)
    with app.app_context():
        with unit_of_work():
            create_user("bench_coord", "coordinator", "bench-password-123456")
        ids: list[int] = []
        stores: list[float] = []
        for i in range(files):
            with unit_of_work():
                case = submit_case(
                    CaseInput(
                        kind="feedback",
                        subject=f"Ảnh hiện trường {i}",
                        body="Ảnh chụp hiện trường kèm theo phản ánh.",
                        reporter=Reporter(name="Nguyễn Văn An", phone="0912345678"),
                    ),
                    actor=None,
                    now=now,
                ).case
                data = PNG_HEAD + os.urandom(10 * MIB - len(PNG_HEAD))
                started = time.perf_counter()
                att = store_upload(
                    make_upload(f"anh-{i}.png", data),
                    case=case,
                    purpose="evidence",
                    actor=None,
                    now=now,
                )
                db.session.flush()
                ids.append(att.id)
            stores.append(time.perf_counter() - started)  # the commit included
        db.session.remove()

    def client() -> Any:
        c = app.test_client()
        page = c.get("/can-bo/dang-nhap")
        import re

        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        c.post(
            "/can-bo/dang-nhap",
            data={
                "username": "bench_coord",
                "password": "bench-password-123456",
                "csrf_token": token.group(1) if token else "",
            },
        )
        return c

    def download(c: Any, attachment_id: int) -> float:
        started = time.perf_counter()
        response = c.get(f"/can-bo/tep/{attachment_id}")
        assert response.status_code == 200 and len(response.data) == 10 * MIB
        return time.perf_counter() - started

    alone_client = client()
    alone = [download(alone_client, i) for i in ids]
    clients = [client() for _ in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        loaded = list(
            pool.map(lambda k: download(clients[k % threads], ids[k % len(ids)]), range(4 * files))
        )
    result = {
        "store_median_s": round(statistics.median(stores), 3),
        "store_max_s": round(max(stores), 3),
        "download_median_s": round(statistics.median(alone), 3),
        "download_max_s": round(max(alone), 3),
        f"download_under_{threads}_threads_median_s": round(statistics.median(loaded), 3),
        f"download_under_{threads}_threads_max_s": round(max(loaded), 3),
    }
    print(engine, storage, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--engines", default=",".join(common.ENGINES))
    args = parser.parse_args()
    results = {
        engine: {
            storage: measure(engine, storage, args.files, args.threads)
            for storage in ("disk", "database")
        }
        for engine in args.engines.split(",")
    }
    common.write_result("attachment_storage", {"files": args.files, "engines": results})


if __name__ == "__main__":
    main()
