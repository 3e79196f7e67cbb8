"""The production topology on loopback, small (issue 17; the full run is
``bench/topology.py``, whose code this calls): two web machines (gunicorn with
deploy/gunicorn.conf.py, each its own instance folder and port), two scheduler processes,
one PostgreSQL, one Redis; submissions spread over both, cases coming due meanwhile, one
web machine and one scheduler killed with SIGKILL mid-run. Every 201 is stored once,
every milestone and message exactly once, a file stored through the dead machine is
served byte-identical by the other, a rate limit used up through one holds on the other.

PostgreSQL only: machines cannot share an SQLite file. Ports are picked free, every
process is stopped (its whole process group) whatever happens, every wait is bounded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import server_database

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.topology import Options, run  # noqa: E402
from feedback.services.sla.delivery import BATCH  # noqa: E402

# Replace the app fixture's engine parameter (sqlite, postgresql) by PostgreSQL alone.
pytestmark = pytest.mark.parametrize(
    "database_url",
    server_database("the topology shares one database between machines: set TEST_DATABASE_URL"),
    indirect=True,
)

SMALL = Options(
    submissions=300,
    clients=8,
    due=40,
    attach_every=5,
    file_bytes=16 * 1024,
    settle_timeout=60.0,
    start_timeout=60.0,
)


def test_two_machines_and_two_schedulers_lose_and_double_nothing(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.topology_checks import summary

    assert database_url.startswith("postgresql")
    result = run(database_url, tmp_path / "topology", SMALL, log=lambda line: None)
    with capsys.disabled():
        print("\n" + summary(result))

    assert result["failed_checks"] == {}, result["failed_checks"]
    assert result["ok"]

    kills = {k["what"].split(" ")[0].rstrip(":"): k for k in result["kills"]}
    assert set(kills) == {"web-1", "scheduler-1"}
    assert kills["web-1"]["load_done"] < 1.0, "web-1 must die while the load runs"

    subs = result["submissions"]
    assert subs["submissions"] == SMALL.submissions + 11  # and the rate-limit probe
    assert subs["answered_201"] == subs["cases_stored"] == subs["submissions"] - 1
    assert set(subs["answered_by"]) == {"web-1", "web-2"}
    assert subs["answered_by"]["web-2"] > subs["answered_by"]["web-1"]  # it took over

    milestones = result["milestones"]
    assert milestones["milestones_recorded"] == milestones["milestones_expected"] == 4 * SMALL.due
    assert milestones["timeline_events"] == 4 * SMALL.due
    assert milestones["outbox_rows"] == milestones["outbox_expected"] > 0

    deliveries = result["deliveries"]
    assert deliveries["by_status"].get("pending", 0) == 0
    # Rows the killed scheduler had claimed (one claim at most) wait for its lease to end.
    assert deliveries["leased_by_the_killed_scheduler"] <= BATCH
    sent = deliveries["by_status"]["sent"] + deliveries["leased_by_the_killed_scheduler"]
    assert sent == deliveries["outbox_rows"]

    files = result["files"]
    assert files["files_stored_elsewhere"] >= 1
    assert files["byte_identical"] == files["files_stored_elsewhere"]

    limits = result["rate_limits"]
    assert limits["submit_statuses_web1"] == [201] * limits["submit_limit"]
    assert limits["submit_status_web2_after"] == 429
    assert 429 not in limits["login_statuses_web1"]
    assert limits["login_status_web2_after"] == 429
