"""Business time side by side with businesstimedelta, measured as the peer harness does.

    .venv/bin/python bench/businesstime_peers.py [--peers ../shared/peers] [--rounds 5]
                                                 [--before GIT-REV]

The peer harness's own inputs (`../shared/peers/bench_btd.py`, read, never copied): its 500
start instants (pytz Europe/Berlin, 2026), its three calendars (Mon-Fri 09:00-17:00 with
its 6-date holiday list, with `holidays.DE(BE)`, and without holidays) and K = 0.5, 8 and
40 business hours.  Per row: businesstimedelta's `start + BusinessTimeDelta(K h)` and our
`BusinessHours.add(start, K h)`, each call timed on its own (perf_counter_ns, the garbage
collector off) and the medians compared, the two interleaved over `--rounds` rounds so a
noisy neighbour hits both alike.  "warm" reuses one calendar; "cold" builds a fresh one
after emptying every table calendars share (zone midnights, tzinfo anchors, the memos of
hours and holidays) before every pass of 500 calls.  `--before REV` adds our engine as it
was at that git revision (loaded from `git show`), in the same run.
"ours UTC in" times the same instants given as UTC datetimes, as the project passes them.
"identical" compares every answer instant by instant (theirs are pytz datetimes).

Exit status 1 if a row is under 20x or any answer differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import businesstimedelta as btd
import holidays as holiday_data

from apps.calendars import businesstime

GOAL = 20.0
WEEK = {day: [(dt.time(9), dt.time(17))] for day in range(5)}

Adder = Callable[[dt.datetime, int], dt.datetime]
# What the engine's modules share between calendars (where a version has them).
SHARED_TABLES = [
    ("businesstime", "_ZONE_MIDNIGHTS"),
    ("businessinput", "ANCHORS"),
    ("businessinput", "_WEEKLY_MEMO"),
    ("businessinput", "_HOLIDAY_MEMO"),
    ("businessweeks", "_SHAPES"),
]


def load_peer_harness(peers: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("peer_bench_btd", peers / "bench_btd.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no bench_btd.py under {peers}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_engine_at(revision: str) -> types.ModuleType:
    """apps/calendars/businesstime.py (and its helper modules) as they were at `revision`."""
    package = types.ModuleType("engine_before")
    package.__path__ = []  # a package, so the engine's relative imports resolve here
    sys.modules[package.__name__] = package
    for name in ("businessinput", "businessweeks", "businesstime"):  # helpers first
        path = f"apps/calendars/{name}.py"
        shown = subprocess.run(  # noqa: S603 - git, on the repository we run in
            ["git", "show", f"{revision}:{path}"],  # noqa: S607 - git from PATH, as make does
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if shown.returncode:
            continue  # a helper module that did not exist yet
        module = types.ModuleType(f"{package.__name__}.{name}")
        module.__package__ = package.__name__
        sys.modules[module.__name__] = module
        exec(compile(shown.stdout, f"{revision}:{path}", "exec"), module.__dict__)  # noqa: S102
    return sys.modules[f"{package.__name__}.businesstime"]


def per_call_us(add: Adder, starts: list[dt.datetime], seconds: int) -> list[float]:
    """Each call timed on its own, as the peer harness times businesstimedelta."""
    gc.collect()
    gc.disable()
    try:
        timings = []
        clock = time.perf_counter_ns
        for start in starts:
            began = clock()
            add(start, seconds)
            timings.append(clock() - began)
        return [ns / 1000 for ns in timings]
    finally:
        gc.enable()


def cold(engine: types.ModuleType, holidays: frozenset[dt.date]) -> Adder:
    """A fresh calendar with every shared table empty, as a process sees it first."""
    package = engine.__name__.rpartition(".")[0]
    for module_name, table in SHARED_TABLES:
        module = sys.modules.get(f"{package}.{module_name}")
        if module is not None and hasattr(module, table):
            getattr(module, table).clear()
    return engine.BusinessHours("Europe/Berlin", WEEK, holidays=holidays).add


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=Path, default=ROOT.parent / "shared" / "peers")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", metavar="GIT-REV", help="also time the engine at this rev")
    args = parser.parse_args()

    peer = load_peer_harness(args.peers)
    starts = peer.starts()
    # The same instants as the UTC datetimes the project itself passes (Django's).
    utc_starts = [start.astimezone(dt.UTC) for start in starts]
    de_be = frozenset(holiday_data.country_holidays("DE", subdiv="BE", years=[2026, 2027]))
    rules = peer.calendars()
    calendars = {
        "9-17 + 6-date holiday list": (
            rules["9-17 + 6-date holiday list"],
            frozenset(peer.HOLIDAYS),
        ),
        "9-17 + holidays.DE(BE)": (rules["9-17 + holidays.DE(BE) object"], de_be),
        "9-17, no holidays": (rules["9-17, no holidays"], frozenset()),
    }
    engines = {"ours": businesstime}
    if args.before:
        engines["before"] = load_engine_at(args.before)

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{len(starts)} starts of the peer harness (pytz Europe/Berlin), K in {peer.KS} h, "
        f"{args.rounds} interleaved rounds; per-call median µs; ratio = btd / slower of "
        "warm and cold"
    )
    columns = ["btd", "ours warm", "ours cold", "ratio", "ours UTC in"]
    if args.before:
        columns += ["before warm", "before cold", "ratio"]
    print(
        f"{'calendar':<27} {'K':>4} | " + " | ".join(f"{c:>11}" for c in columns) + " | identical"
    )
    worst, all_identical = float("inf"), True
    for name, (rule, holidays) in calendars.items():
        warm = {
            label: engine.BusinessHours("Europe/Berlin", WEEK, holidays=holidays)
            for label, engine in engines.items()
        }
        for hours in peer.KS:
            seconds = int(hours * 3600)
            delta = btd.BusinessTimeDelta(rule, hours=hours)
            theirs = [start + delta for start in starts]
            answers = {
                label: [calendar.add(s, seconds) for s in starts]
                for label, calendar in warm.items()
            }
            answers["ours, UTC in"] = [warm["ours"].add(s, seconds) for s in utc_starts]
            differ = {
                label: sum(a != b for a, b in zip(theirs, found, strict=True))
                for label, found in answers.items()
            }
            samples: dict[str, list[float]] = {"btd": []}
            for _ in range(args.rounds):
                samples["btd"] += per_call_us(
                    lambda start, _s, delta=delta: start + delta, starts, seconds
                )
                for label, engine in engines.items():
                    samples.setdefault(f"{label} warm", [])
                    samples[f"{label} warm"] += per_call_us(warm[label].add, starts, seconds)
                    samples.setdefault(f"{label} cold", [])
                    samples[f"{label} cold"] += per_call_us(cold(engine, holidays), starts, seconds)
                samples.setdefault("ours utc", [])
                samples["ours utc"] += per_call_us(warm["ours"].add, utc_starts, seconds)
            median = {label: statistics.median(values) for label, values in samples.items()}
            cells = [f"{median['btd']:11.1f}"]
            for label in engines:
                slower = max(median[f"{label} warm"], median[f"{label} cold"])
                ratio = median["btd"] / slower
                if label == "ours":
                    worst = min(worst, ratio)
                cells += [
                    f"{median[f'{label} warm']:11.2f}",
                    f"{median[f'{label} cold']:11.2f}",
                    f"{ratio:10.1f}x",
                ]
                if label == "ours":
                    cells.append(f"{median['ours utc']:11.2f}")
            ours_differ = differ["ours"] + differ["ours, UTC in"]
            all_identical &= ours_differ == 0
            verdict = "yes" if ours_differ == 0 else f"NO ({ours_differ} differ)"
            if args.before:
                verdict += f"; before: {'yes' if differ['before'] == 0 else differ['before']}"
            print(f"{name:<27} {hours:>4} | " + " | ".join(cells) + f" | {verdict}")
    met = worst >= GOAL and all_identical
    print(
        f"worst ratio (ours) {worst:.1f}x, goal >= {GOAL:.0f}x on every row with identical "
        f"answers: {'MET' if met else 'MISSED'}"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
