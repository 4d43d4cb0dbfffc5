"""Side by side with the peers, in one run: OLA Portal's queue, detail and dashboard pages
against django-helpdesk's at the same number of open items, the clock sweep against
helpdesk's `escalate_tickets`, business time against businesstimedelta on the peer
harness's own calendars, and the reports at a million handoffs; one table of medians,
ratios and goals (issue 14), with the load average and the SQL counts.

    make bench-peers                                   # ~15-20 min on a shared 2-core box
    make bench-peers PEERS_ARGS="--size 500 --rounds 3 --skip reports"    # a quick try

It drives the audit's scripts in ../shared/peers/sidebyside (read-only): they are copied to
$OLA_PEERS_WORK/sidebyside (default /tmp/ola-peers) and adapted to the project as it is now
(bench/queue_page.py's build(), the sweep in clockwork/, bench/_common.py for the Django
set-up and the SQL count). django-helpdesk runs in its own virtualenv, created on first use
from the peer harness's pinned requirements (PEER_PYTHON to use another). Each comparison
alternates the two products in one run (order flipped every round) and reports medians:
only ratios taken in one run mean anything on a shared machine. Each side's page data is
seeded first by its own worker script in a process that then quits, so that the measured
workers start fresh (`seed_pages`). Databases: audit_perf_bp_* on
127.0.0.1:5432 (dropped at the end unless --keep); raw JSON and logs in $OLA_PEERS_WORK/out.

--size N: open items on each side (default 10,000); the OLA side also has 10 × N closed
handoffs, the sweep 10 × N running clocks with N / 10 due (at most 1,000), the reports
100 × N handoffs. --rounds: interleaved page rounds (default 20). --skip pages, sweep,
businesstime or reports (repeatable, or comma-separated).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import _common
import psycopg
import redis  # Celery's Redis transport brings it

ROOT = _common.ROOT
SHARED = Path(os.environ.get("OLA_PEERS_SHARED", ROOT.parent / "shared" / "peers"))
WORK = Path(os.environ.get("OLA_PEERS_WORK", "/tmp/ola-peers"))  # noqa: S108 - the harness's
SCRATCH = WORK / "sidebyside"
OUT = WORK / "out"
PG = "postgres://postgres@127.0.0.1:5432/"
PARTS = ("pages", "sweep", "businesstime", "reports")
# Where the workers' notification deliveries are published (as in production, to Redis;
# nothing consumes them): database 6, emptied at the end, unless BENCH_BROKER_URL says.
DEFAULT_BROKER = "redis://127.0.0.1:6379/6"
BROKER = os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER)

# The shared scripts were written against an older checkout. Each patch must apply exactly
# once: if the shared copy changes, the run stops and names the patch instead of measuring
# something else.
BENCH_ON_PATH = (
    'sys.path.append(str(Path(PROJ) / "bench"))  # bench/_common.py, _handoffs.py (no shadowing)'
)
SETUP = "import _common  # noqa: E402\n\n_common.setup_django()"
SWEEP_EVERY_BATCH = """def sweep_every_batch(now):
    batches = [sweep_due_clocks(now=now)]
    while batches[-1].more and len(batches) < 100:
        batches.append(sweep_due_clocks(now=now))
    total = batches[0]
    for batch in batches[1:]:
        total.duration_ms += batch.duration_ms
        total.fired += batch.fired
        for name in ("clocks", "warnings", "breaches", "escalations"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
    total.batches = len(batches)
    return total


"""
# The audit's databases are audit_perf_*; the driver's are audit_perf_bp_*, so that its
# clean-up never drops a database someone else's audit script is using.
RENAMES = {f"audit_perf_{name}_": f"audit_perf_bp_{name}_" for name in ("ola", "hd", "sweep")}
PATCHES: dict[str, list[tuple[str, str]]] = {
    "worker_ola.py": [
        ('Path(PROJ) / "bench" / "queue.py"', 'Path(PROJ) / "bench" / "queue_page.py"'),
        ("sys.path.insert(2, str(HERE))\n", f"sys.path.insert(2, str(HERE))\n{BENCH_ON_PATH}\n"),
        ("import django  # noqa: E402\n\ndjango.setup()", SETUP),
        # bench/_handoffs.py builds clocks as the services leave them: no SQL fix-up.
        (
            "        with connection.cursor() as c:\n            c.execute(FIXUP)\n"
            '        log("clock copies/warning_at/next_step_at filled as the services would")',
            '        log("clocks as bench/_handoffs.py builds them (the services\' shape)")',
        ),
        # The builder's titles are "<escalation title> (load N)".
        ('title__startswith="Bench handoff"', 'title__contains="(load "'),
    ],
    "worker_sweep.py": [
        ("sys.path.insert(0, PROJ)\n", f"sys.path.insert(0, PROJ)\n{BENCH_ON_PATH}\n"),
        ("import django  # noqa: E402\n\ndjango.setup()", SETUP),
        ("from apps.handoffs.sweep import", "from apps.handoffs.clockwork.sweep import"),
        ("bs.build(NOW)", "AGREEMENT = bs.build(NOW)"),
        ("bs.make_due(due, NOW)", "bs.make_due(due, NOW, AGREEMENT)"),
        (
            "    count = [0]\n\n    def counter(execute, sql, params, many, context):\n"
            "        count[0] += 1\n        return execute(sql, params, many, context)\n",
            "",
        ),
        ("with connection.execute_wrapper(counter):", "with _common.counting_queries() as count:"),
        ('"queries": count[0]', '"queries": count()'),
        # One sweep_due_clocks() call is one batch (at most 500 clocks, 20 s): the Celery
        # task queues the next while clocks are still due. "1,000 due" is every batch.
        ("result = sweep_due_clocks(now=NOW)", "result = sweep_every_batch(NOW)"),
        ("def sweep(due: int = 0", SWEEP_EVERY_BATCH + "def sweep(due: int = 0"),
        ('{"due": due, ', '{"due": due, "batches": result.batches, '),
    ],
    "btd_same_deadlines.py": [
        (
            "businesstime._ZONE_MIDNIGHTS.clear()",
            'getattr(businesstime, "_ZONE_MIDNIGHTS", {}).clear()',
        ),
    ],
}


def prepare_scripts() -> None:
    """A fresh, writable, patched copy of ../shared/peers/sidebyside."""
    source = SHARED / "sidebyside"
    if not source.is_dir():
        sys.exit(f"no peer harness at {source} (OLA_PEERS_SHARED names its folder)")
    shutil.rmtree(SCRATCH, ignore_errors=True)
    for path in sorted(source.rglob("*")):
        target = SCRATCH / path.relative_to(source)
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        for old, new in PATCHES.get(path.name, []):
            if text.count(old) != 1:
                sys.exit(f"{path}: changed upstream; this patch no longer applies: {old!r}")
            text = text.replace(old, new)
        for old, new in RENAMES.items():
            text = text.replace(old, new)
        target.write_text(text)


def peer_python() -> str:
    """run_all.sh's peer virtualenv: the harness's pinned django-helpdesk and psycopg."""
    python = Path(os.environ.get("PEER_PYTHON", WORK / "peerbench-venv" / "bin" / "python"))
    if not python.exists():
        venv = python.parent.parent
        print(f"creating the peer virtualenv {venv} (pip, a minute or two)", flush=True)
        base = shutil.which("python3.11") or shutil.which("python3")
        subprocess.run([base, "-m", "venv", str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(SHARED / "requirements.txt"),
             "-r", str(SHARED / "requirements-pg.txt")],
            check=True,
        )  # fmt: skip
    return str(python)


def run(part: str, command: list[str], **kwargs) -> str:
    """Run one part, its output to OUT/<part>.log; the output, or SystemExit with its tail."""
    log = OUT / f"{part}.log"
    env = {**os.environ, "CELERY_BROKER_URL": BROKER}
    env.update(kwargs.pop("env", {}))
    started = time.perf_counter()
    print(f"{part}: running (log {log})", flush=True)
    with log.open("w") as sink:
        done = subprocess.run(  # noqa: S603 - this interpreter and the peer venv's
            command, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env, **kwargs
        )
    text = log.read_text()
    if done.returncode:
        raise SystemExit(f"{part} failed (exit {done.returncode}):\n{text[-3000:]}")
    print(f"{part}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return text


def ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1_000 else f"{value:.1f} ms"


def times(value: float) -> str:
    return f"{value:.2f}×" if value < 1 else f"{value:.1f}×" if value < 100 else f"{value:.0f}×"


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "NO")


# --- the parts ------------------------------------------------------------------------


PAGES = [
    # (sidebyside.py's label, our row, goal: helpdesk/OLA at least this, or None)
    ("queue page vs list HTML + JSON p1", "queue page (helpdesk: shell + first JSON page)", 10),
    ("queue last page vs list HTML + JSON last", "queue, last page (helpdesk: last JSON)", None),
    ("detail vs ticket detail", "detail page", 5),
    ("dashboard vs dashboard", "dashboard `/`", 3),
    ("OLA API list (50) vs list JSON p1 (25)", "API list (OLA 50 rows, helpdesk JSON 25)", None),
    ("trivial view (peer template) vs same", "trivial view behind each one's middleware", None),
]  # fmt: skip
SQL_PARTS = {
    "queue page vs list HTML + JSON p1": (["list_html", "list_json"], ["queue"]),
    "queue last page vs list HTML + JSON last": (["list_html", "list_json_last"], ["queue_last"]),
    "detail vs ticket detail": (["detail"], ["detail"]),
    "dashboard vs dashboard": (["dashboard"], ["dashboard"]),
    "OLA API list (50) vs list JSON p1 (25)": (["list_json"], ["queue_api"]),
    "trivial view (peer template) vs same": (["trivial"], ["trivial"]),
}


def seed_pages(args, peer: str) -> None:
    """Each side's page data seeded by its own worker script in a process that then quits,
    so that the measured workers start fresh, as a production worker does, rather than
    with the heap of the build they just made (110,000 handoffs on the portal's side, the
    peer harness's tickets on helpdesk's): both sides measured alike. Seen before this
    step: ~7 % more CPU a request on the portal's queue and detail pages."""
    tag = f"{args.size // 1000}k" if args.size % 1000 == 0 else str(args.size)
    sides = [
        [sys.executable, str(SCRATCH / "worker_ola.py"), "--proj", str(args.proj),
         "--db", f"audit_perf_bp_ola_{tag}", "--open", str(args.size),
         "--closed", str(10 * args.size)],
        [peer, str(SCRATCH / "worker_hd.py"), "--peers", str(SHARED),
         "--db", f"audit_perf_bp_hd_{tag}", "--n", str(args.size)],
    ]  # fmt: skip
    keep = ["--keep"] if args.keep else []
    with (OUT / "pages_seed.log").open("w") as log:
        for command in sides:
            # A worker builds its database (or, with --keep, reuses a complete one), says
            # it is ready, and quits when its input ends.
            done = subprocess.run(  # noqa: S603 - this interpreter and the peer venv's
                [*command, *keep], input="", stdout=subprocess.PIPE, stderr=log, text=True
            )
            if done.returncode or '"ready": true' not in done.stdout:
                raise SystemExit(f"seeding failed: {command[1]} (see {log.name})")


def pages(args, peer: str) -> tuple[list[list[str]], list[str]]:
    out = OUT / "pages.json"
    print("pages: seeding both sides' databases in processes of their own", flush=True)
    seed_pages(args, peer)
    run("pages", [
        sys.executable, str(SCRATCH / "sidebyside.py"), "--proj", str(args.proj),
        "--peers", str(SHARED), "--ola-python", sys.executable, "--peer-python", peer,
        "--size", str(args.size), "--closed", str(10 * args.size), "--rounds", str(args.rounds),
        "--out", str(out), "--keep",  # seeded just now; dropped at the end unless --keep
    ])  # fmt: skip
    result = json.loads(out.read_text())
    by_label = {row["label"]: row for row in result["rows"]}
    sql = result["sql"]

    def queries(side: str, names: list[str]) -> int:
        return sum(int(statistics.median(sql[f"{side}:{n}"]["queries"])) for n in names)

    rows, notes = [], []
    for label, work, goal in PAGES:
        row = by_label[label]
        hd_sql, ola_sql = SQL_PARTS[label]
        ratio = row["ratio_of_medians"]
        rows.append([
            work,
            f"{ms(row['B_med'])}, {queries('hd', hd_sql)} SQL",
            f"{ms(row['A_med'])}, {queries('ola', ola_sql)} SQL",
            times(ratio),
            f"≥ {goal}×" if goal else "—",
            met(ratio >= goal if goal else None),
        ])  # fmt: skip
        notes.append(
            f"{work}: per-round ratio median {times(row['median_round_ratio'])} "
            f"(p25–p75 {row['ratio_p25']:.2f}–{row['ratio_p75']:.2f}); p95 OLA "
            f"{ms(row['A_p95'])}, helpdesk {ms(row['B_p95'])}"
        )
    parts = result["parts_median_ms"]
    own = parts["ola:queue"] / parts["ola:ceiling_client"]
    rows.insert(1, [
        "queue page ÷ the project's bare 50-row view, same middleware, same process", "—",
        f"{ms(parts['ola:queue'])} vs {ms(parts['ola:ceiling_client'])}",
        times(own), "≤ 3×", met(own <= 3),
    ])  # fmt: skip
    ola, hd = result["ola"], result["hd"]
    notes.insert(0, (
        f"pages: OLA {ola['open']:,} open + {ola['closed']:,} closed handoffs, helpdesk "
        f"{hd['tickets']:,} open tickets; {result['rounds']} interleaved rounds in "
        f"{result['elapsed_s']:.0f} s; load {fmt_load(result['load_before'])} → "
        f"{fmt_load(result['load_after'])}"
    ))  # fmt: skip
    return rows, notes


def sweep(args, peer: str) -> tuple[list[list[str]], list[str]]:
    running = 10 * args.size
    due = min(1_000, running // 100)
    run("sweep", [
        sys.executable, str(SCRATCH / "sweep_vs_escalate.py"), "--proj", str(args.proj),
        "--peers", str(SHARED), "--ola-python", sys.executable, "--peer-python", peer,
        "--running", str(running), "--running-small", str(args.size), "--due", str(due),
        "--hd-n", str(min(1_000, args.size)), "--rounds", str(args.sweep_rounds),
    ])  # fmt: skip
    rounds = json.loads((OUT / "sweep_vs_escalate.json").read_text())["rows"]

    def median(path: tuple[str, str]) -> float:
        return statistics.median(r[path[0]][path[1]] for r in rounds)

    total, fired = median(("sweep100k_due", "ms")), median(("sweep100k_due", "fired"))
    queries = median(("sweep100k_due", "queries"))
    hd_ms, hd_sql = median(("hd", "ms_per_ticket")), median(("hd", "sql_per_ticket"))
    per_step = total / fired if fired else float("nan")
    sql_per_step = queries / fired if fired else float("nan")
    rows = [[
        f"sweep, {running:,} running / {due:,} due",
        f"{hd_ms:.1f} ms & {hd_sql:.0f} SQL per escalated ticket",
        f"{ms(total)}; {per_step:.2f} ms & {sql_per_step:.1f} SQL per fired step ({fired:.0f})",
        f"{times(hd_ms / per_step)} per item",
        "≤ 1 s total, ≤ 2 SQL per step",
        met(total <= 1_000 and sql_per_step <= 2),
    ]]  # fmt: skip
    zero = median(("sweep100k_zero", "ms"))
    notes = [
        f"sweep: {len(rounds)} interleaved rounds; {due:,} due took "
        f"{median(('sweep100k_due', 'batches')):.0f} batches of at most 500 (one Celery task "
        f"each); nothing due: {ms(zero)} "
        f"({median(('sweep100k_zero', 'queries')):.0f} SQL); {args.size:,} running / {due:,} "
        f"due: {ms(median(('sweep10k_due', 'ms')))}; helpdesk on "
        f"{min(1_000, args.size):,} tickets (a `manage.py` run each, its start-up subtracted)"
    ]
    return rows, notes


def businesstime(args, _peer: str) -> tuple[list[list[str]], list[str]]:
    text = run("businesstime", [
        sys.executable, str(SCRATCH / "btd_same_deadlines.py"), "--proj", str(args.proj),
        "--peers", str(SHARED), "--rounds", str(args.btd_rounds),
    ])  # fmt: skip
    rows = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 7 or fields[1] == "btd":
            continue
        calendar, k = fields[0].rsplit(None, 1)
        btd, warm, cold = (float(f) for f in fields[1:4])
        mismatches = int(fields[6])
        worst = min(btd / warm, btd / cold)
        rows.append([
            f"business time, {calendar}, {k} h", f"{btd:.1f} µs",
            f"{warm:.2f} µs warm, {cold:.2f} µs cold; {mismatches} different answers",
            times(worst), "≥ 20×, same answers", met(worst >= 20 and mismatches == 0),
        ])  # fmt: skip
    if not rows:
        raise SystemExit(f"businesstime: no rows in its output:\n{text[-2000:]}")
    notes = [
        "business time: per-call medians over the harness's 500 starts; the ratio is the "
        "worse of warm (cached calendar) and cold (fresh calendar, caches cleared)"
    ]
    return rows, notes


def reports(args, _peer: str) -> tuple[list[list[str]], list[str]]:
    """bench/reports.py as it is, its printed table read back: the portal's p50 per shape
    (the rollups column when it prints one, else its p50), with the exact path's beside it."""
    handoffs = 100 * args.size
    text = run(
        "reports",
        [sys.executable, str(args.proj / "bench" / "reports.py")],
        cwd=args.proj,
        env={"DATABASE_URL": PG + "audit_perf_bp_rep", "BENCH_HANDOFFS": str(handoffs)},
    )
    rows, notes, columns = [], [], None
    for line in text.splitlines():
        if "p50" in line and columns is None:
            columns = [c.strip() for c in line.split("  ") if c.strip()][1:]
            continue
        parsed = figures(line) if columns else None
        if not parsed:
            if line.startswith(("built", "PostgreSQL server settings")):
                notes.append(f"reports: {line.strip()}")
            continue
        label, numbers, rest = parsed
        named = dict(zip(columns, numbers, strict=False))
        p50s = [c for c in columns if "p50" in c]
        ours = next((c for c in p50s if "rollup" in c), p50s[0] if p50s else columns[0])
        p50 = named.get(ours)
        if p50 is None:
            continue
        cell = ms(p50)
        if (queries := next((v for c, v in named.items() if "quer" in c), None)) is not None:
            cell += f", {queries:.0f} SQL"
        others = [f"{c} {ms(v)}" for c, v in named.items() if c in p50s and c != ours and v]
        cell += f" ({'; '.join([*others, rest.strip('()')])})" if others or rest else ""
        rows.append([
            f"reports, {handoffs:,} handoffs: {label}", "—", cell, "—", "≤ 1 s", met(p50 <= 1_000),
        ])  # fmt: skip
    if not rows:
        raise SystemExit(f"reports: no figures in its output:\n{text[-2000:]}")
    return rows, notes


def figures(line: str) -> tuple[str, list[float | None], str] | None:
    """'<label> <n> [ms] <n> … <rest>' → (label, numbers, rest), '—' read as None; None
    when the line has fewer than two figures after a label."""
    tokens = line.split()
    tokens = [t for i, t in enumerate(tokens) if not (t == "ms" and i and figure(tokens[i - 1]))]
    for start in range(1, len(tokens)):
        end = start
        while end < len(tokens) and figure(tokens[end]):
            end += 1
        if end - start >= 2:
            numbers = [None if t == "—" else float(t) for t in tokens[start:end]]
            return " ".join(tokens[:start]), numbers, " ".join(tokens[end:])
    return None


def figure(token: str) -> bool:
    if token == "—":
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def drop_leftovers(args, parts: list[str]) -> None:
    """Drop what the parts that ran may have left half-way (each part drops its own when it
    ends well); never another part's databases: a concurrent run may be using them."""
    tag = f"{args.size // 1000}k" if args.size % 1000 == 0 else str(args.size)
    names = {
        "pages": [] if args.keep else [f"audit_perf_bp_{side}_{tag}" for side in ("ola", "hd")],
        "sweep": [
            "audit_perf_bp_sweep_big",
            "audit_perf_bp_sweep_small",
            "audit_perf_bp_hd_esc_tpl",
        ]
        + [f"audit_perf_bp_hd_esc_run{n}" for n in range(args.sweep_rounds)],
        "reports": ["audit_perf_bp_rep_bench"],
    }
    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        for name in (name for part in parts for name in names.get(part, [])):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fmt_load(load) -> str:
    return " ".join(f"{x:.2f}" for x in load)


# --- the table ------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    head = ["work", "django-helpdesk", "OLA Portal", "ratio", "goal", "met?"]
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def snapshot(rev: str) -> Path:
    """The files of commit `rev`, as `git archive` gives them (others may be mid-edit)."""
    target = WORK / "proj"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    print(f"measuring {rev} ({target})", flush=True)
    return target


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=10_000, help="open items on each side")
    p.add_argument("--rounds", type=int, default=20, help="interleaved page rounds")
    p.add_argument("--sweep-rounds", type=int, default=3)
    p.add_argument("--btd-rounds", type=int, default=5)
    p.add_argument("--skip", action="append", default=[], help=f"one of {', '.join(PARTS)}")
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the page databases")
    p.add_argument(
        "--at",
        metavar="REV",
        help="measure a commit (git archive into $OLA_PEERS_WORK/proj), not the working tree",
    )
    args = p.parse_args()
    args.proj = snapshot(args.at) if args.at else ROOT
    args.skip = {s for arg in args.skip for s in arg.split(",") if s}
    if unknown := args.skip - set(PARTS):
        p.error(f"--skip: unknown {', '.join(sorted(unknown))} (parts: {', '.join(PARTS)})")
    return args


def main() -> None:
    args = parse()
    OUT.mkdir(parents=True, exist_ok=True)
    prepare_scripts()
    chosen = [part for part in PARTS if part not in args.skip]
    peer = peer_python() if {"pages", "sweep"} & set(chosen) else ""
    started, load_before = time.time(), os.getloadavg()
    rows, notes, failed = [], [], []
    for part in chosen:
        before = os.getloadavg()
        try:
            got, said = globals()[part](args, peer)
        except (SystemExit, KeyError, ValueError, OSError) as exc:
            print(exc, file=sys.stderr)
            failed.append(part)
            continue
        rows += got
        notes += said
        notes.append(f"{part}: load average {fmt_load(before)} → {fmt_load(os.getloadavg())}")
    load_after = os.getloadavg()
    drop_leftovers(args, chosen)
    if BROKER == DEFAULT_BROKER:
        redis.Redis.from_url(BROKER).flushdb()
    print(f"\nOLA Portal vs django-helpdesk and businesstimedelta, side by side in one run "
          f"({time.time() - started:.0f} s; --size {args.size:,}, --rounds {args.rounds}; "
          f"{os.cpu_count()} cores)")  # fmt: skip
    print(f"load average (1, 5, 15 min): before {fmt_load(load_before)}, after "
          f"{fmt_load(load_after)}\n")  # fmt: skip
    print(table(rows))
    print()
    for note in notes:
        print(f"- {note}")
    if args.skip:
        print(f"- skipped: {', '.join(p for p in PARTS if p in args.skip)}")
    (OUT / "peers.json").write_text(json.dumps({"rows": rows, "notes": notes}, indent=1))
    print(f"- raw results and logs: {OUT}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see {OUT}/<part>.log)")


if __name__ == "__main__":
    main()
