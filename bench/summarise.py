"""Print the Markdown tables of BENCHMARKS.md from bench/results/*.json.

.venv/bin/python -m bench.summarise [scale scale_rerun export_memory ...]
.venv/bin/python -m bench.summarise --compare scale_before scale_after  # pages side by side
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .common import RESULTS


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def intake(data: dict[str, Any]) -> None:
    print("| engine | floor req/s | floor p99 ms | intake req/s | p50 / p90 / p99 / max ms |"
          " errors | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in data["runs"]:
        f, i = r["floor"], r["intake"]
        lat = i["latency_ms"]
        errors = sum(i["errors"].values()) + i["non_2xx"]
        print(f"| {r['engine']} | {f['rps']} | {f['latency_ms']['p99']} | {i['rps']} | "
              f"{lat['p50']} / {lat['p90']} / {lat['p99']} / {lat['max']} | {errors} | "
              f"{r['ratio']} |")  # fmt: skip


def scale(data: dict[str, Any]) -> None:
    grown = [s for r in data["runs"] for s in r["sizes"] if "sweep_1pct" in s]
    if not grown:  # --reuse --pages-only: the pages table only
        return
    print("| engine | cases | build s | sweep 1 % due (n) s | ms per due case | sweep 100 due s |"
          " empty sweep s | DB MiB | load 1 min |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in data["runs"]:
        for s in r["sizes"]:
            one = s["sweep_1pct"]
            per = round(1000 * one["seconds"] / max(one["due"], 1), 1)
            print(f"| {r['engine']} | {s['cases']:,} | {s['build_seconds']} | {one['seconds']} "
                  f"({one['due']}) | {per} | {s['sweep_fixed']['seconds']} | "
                  f"{s['sweep_nothing_due']['seconds']} | {s['db_mib']} | "
                  f"{s.get('loadavg_1min', '')} |")  # fmt: skip
    print()
    print("| engine | cases | dashboard this year s | 2 years s | current month rebuilt in"
          " the request s | filter unit s | filter kind s | all months rebuilt s (months) |"
          " monitor page s | monitor API s | flagged rows |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in data["runs"]:
        for s in r["sizes"]:
            g = s.get("figures_rebuild_all", {})
            print(f"| {r['engine']} | {s['cases']:,} | {s['dashboard_this_year']['seconds']} | "
                  f"{s['dashboard_two_years']['seconds']} | "
                  f"{s['dashboard_current_month_rebuilt']['seconds']} | "
                  f"{s['dashboard_filter_unit']['seconds']} | "
                  f"{s['dashboard_filter_kind']['seconds']} | {g.get('seconds')} "
                  f"({g.get('months')}) | {s['monitor_page']['seconds']} | "
                  f"{s['monitor_api']['seconds']} | "
                  f"{s['service']['monitor_rows']:,} |")  # fmt: skip
    print()
    print("| engine | cases | cases this year | figures.summarise s | live part s |"
          " monitor page + counts s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in data["runs"]:
        for s in r["sizes"]:
            v = s["service"]
            print(f"| {r['engine']} | {s['cases']:,} | {v['dashboard_cases']:,} | "
                  f"{v['dashboard_summarise_s']} | {v['dashboard_live_part_s']} | "
                  f"{v['monitor_flagged_s']} |")  # fmt: skip


TARGET_S = 0.3  # issue 17: every GET page and API list, median of 3 after a warm-up


def _heading(engine: str, step: dict[str, Any]) -> str:
    label = step.get("label")
    return f"{engine} {step['cases']:,}" + (f" {label}" if label else "")


def compare(names: list[str]) -> None:
    """``--compare A B ...``: the pages of several results side by side (before and after
    a change, on the same database), each column labelled with its result's name and the
    load average it was measured under."""
    runs = []
    for name in names:
        data = load(name)
        if data is None:
            raise SystemExit(f"no bench/results/{name}.json")
        for r in data["runs"]:
            sizes = [{**s, "label": f"{name} (load {s.get('loadavg_1min', '?')})"}
                     for s in r["sizes"] if "pages" in s]  # fmt: skip
            runs.append({"engine": r["engine"], "sizes": sizes})
    runs.sort(key=lambda r: r["engine"])
    pages({"runs": runs})


def pages(data: dict[str, Any]) -> None:
    """One row per surface, one column per engine and size; a figure over the target is
    marked."""
    columns = [(r["engine"], s) for r in data["runs"] for s in r["sizes"] if "pages" in s]
    if not columns:
        return
    names = list(dict.fromkeys(n for _, s in columns for n in s["pages"]))
    print("| surface | " + " | ".join(_heading(e, s) for e, s in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in names:
        cells = []
        for _, s in columns:
            got = s["pages"].get(name)
            if got is None:
                cells.append("")
                continue
            mark = " ✗" if got["seconds"] >= TARGET_S else ""
            status = "" if got.get("status", 200) == 200 else f" ({got['status']})"
            cells.append(f"{got['seconds']}{mark}{status}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def export_memory(data: dict[str, Any]) -> None:
    print("| engine | format | rows | MiB sent | first byte s | total s | worker RSS before →"
          " peak MiB | growth MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in data["runs"]:
        for ext in ("csv", "xlsx"):
            x = r[ext]
            print(f"| {r['engine']} | {ext} | {x['rows']:,} | {round(x['bytes'] / 2**20, 1)} | "
                  f"{x['first_byte_s']} | {x['total_s']} | {x['rss_before_mib']} → "
                  f"{x['rss_peak_mib']} | {x['rss_growth_mib']} |")  # fmt: skip


def memory(data: dict[str, Any]) -> None:
    print(
        "| engine | requests | worker RSS MiB start → 5k → 10k | worker PSS MiB at 10k | statuses |"
    )
    print("|---|---|---|---|---|")
    for r in data["runs"]:
        ws = list(r["after_all"]["workers"])
        cells = []
        for w in ws:
            seq = [
                r[k]["workers"].get(w, {}).get("rss_mib")
                for k in ("start", "after_half", "after_all")
            ]
            cells.append(" → ".join(str(x) for x in seq))
        pss = ", ".join(str(r["after_all"]["workers"][w]["pss_mib"]) for w in ws)
        print(f"| {r['engine']} | {r['requests']} | {'; '.join(cells)} | {pss} | {r['statuses']} |")


def fault(data: dict[str, Any]) -> None:
    print("| engine | kills | requests | 201 | connection failed | committed, unanswered |"
          " cases in DB | problems |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in data["runs"]:
        problems = {k: len(v) for k, v in r["problems"].items() if v} or "none"
        print(f"| {r['engine']} | {len(r['kills'])} | {r['requests']} | {r['answered_201']} | "
              f"{r['connection_failed']} | {r['committed_but_unanswered']} | {r['cases_in_db']} | "
              f"{problems} |")  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--compare"]:
        compare(sys.argv[2:])
        return
    names = sys.argv[1:] or ["intake", "scale", "memory", "fault_kill", "export_memory"]
    for name in names:
        data = load(name)
        if data is None:
            continue
        print(f"### {name}\n\nmachine: {json.dumps(data['machine'], ensure_ascii=False)}\n")
        kinds = ("scale", "export_memory", "memory", "intake", "fault_kill")
        kind = next(k for k in kinds if name.startswith(k))
        {"intake": intake, "scale": scale, "memory": memory, "fault_kill": fault,
         "export_memory": export_memory}[kind](data)  # fmt: skip
        if kind == "scale":
            print()
            pages(data)
        print()


if __name__ == "__main__":
    main()
