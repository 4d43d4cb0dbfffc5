"""Load test in one command: `make load` (or `.venv/bin/python bench/load/run.py`).

1. locust goes into its own virtualenv, bench/load/.venv, from bench/load/requirements.txt
   (never into the app's requirements);
2. a throw-away PostgreSQL database (LOAD_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/olaportal_load) is dropped and created, migrated,
   filled by `seed_demo` and scaled to 10,000 open handoffs in Engineering's queue
   (bench/load/scale.py);
3. gunicorn serves the portal on 127.0.0.1 (port 8765, or a free one) with production
   settings: DEBUG off, a SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, static files by whitenoise
   from the finders (STATIC_MANIFEST=false: no collectstatic into the work tree);
4. locust runs headless: 50 engineers sign in, browse the queue, open handoffs and
   acknowledge new ones for 60 s (bench/load/locustfile.py);
5. it prints throughput, p50/p95 per request and per kind of request, errors and the
   expected acknowledge races, and any server error gunicorn logged; gunicorn is stopped
   whatever happens, and the database dropped (--keep-db keeps it).

Exit status 0 only with no error and no server error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCUST_VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/olaportal_load"
KIND_ORDER = ["sign in", "queue page", "handoff page", "acknowledge"]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run one of our own commands (this interpreter, our scripts, locust), no shell."""
    return subprocess.run(command, **{"check": True, **kwargs})  # noqa: S603


def say(message: str) -> None:
    print(f"[load] {message}", flush=True)


def locust_bin() -> Path:
    """bench/load/.venv with the pinned locust, (re)installed when the pins change."""
    stamp = LOCUST_VENV / ".installed"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    locust = LOCUST_VENV / "bin" / "locust"
    if locust.exists() and stamp.exists() and stamp.read_text() == wanted:
        return locust
    say(f"installing locust into {LOCUST_VENV.relative_to(ROOT)}")
    if not (LOCUST_VENV / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(LOCUST_VENV)])
    pip = [
        str(LOCUST_VENV / "bin" / "python"),
        "-m",
        "pip",
        "--quiet",
        "--disable-pip-version-check",
    ]
    run([*pip, "install", "-r", str(REQUIREMENTS)])
    stamp.write_text(wanted)
    return locust


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if "load" not in name:
        # This drops the database: never one that is not obviously the load test's own.
        sys.exit(f"LOAD_DATABASE_URL must name a throw-away database with 'load' in it: {name!r}")
    with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            # As gunicorn binds: a port a stopped server left in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")


def stop(server: subprocess.Popen | None) -> None:
    """Stop gunicorn (its own process group: the arbiter and its workers)."""
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _processes() -> dict[int, tuple[str, list[str]]]:
    """pid → (command name, the /proc/<pid>/stat fields after it)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, rest = (entry / "stat").read_text().rsplit(")", 1)
            except (OSError, ValueError):
                continue  # gone meanwhile
            found[int(entry.name)] = (head.split("(", 1)[1], rest.split())
    return found


def process_tree_cpu(pid: int | None) -> float:
    """CPU seconds used so far by a process, its live children and the children it has
    reaped: gunicorn and its workers, or PostgreSQL's postmaster and its backends."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for child, (_, fields) in _processes().items():
        # Fields after "pid (comm)": state ppid … utime stime cutime cstime (proc(5) 14-17).
        if child == pid:
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def postmaster() -> int | None:
    """The local PostgreSQL server's main process, if it runs on this machine."""
    processes = _processes()
    for pid, (name, fields) in processes.items():
        parent = processes.get(int(fields[1]))
        if name == "postgres" and (parent is None or parent[0] != "postgres"):
            return pid
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / ticks, sum(values) / ticks


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank, as locust reports them."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report(samples_file: Path, *, server_errors: list[str]) -> int:
    """Print the figures; return the number of errors."""
    if not samples_file.exists():
        say("locust wrote no samples")
        return 1
    data = json.loads(samples_file.read_text())
    samples, window = data["samples"], data["window"]
    elapsed = max(window["stop"] - window["start"], 1e-3)
    by_name: dict[tuple[str, str], list[dict]] = defaultdict(list)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_name[(sample["kind"], sample["name"])].append(sample)
        by_kind[sample["kind"]].append(sample)

    def line(label: str, rows: list[dict], indent: str = "") -> str:
        ms = [r["ms"] for r in rows]
        errors = sum(r["outcome"] == "error" for r in rows)
        return (
            f"{indent}{label:<{62 - len(indent)}} {len(rows):>7,} {len(rows) / elapsed:>7.1f} "
            f"{percentile(ms, 0.5):>7.0f} {percentile(ms, 0.95):>7.0f} {errors:>6}"
        )

    kinds = sorted(by_kind, key=lambda k: [*KIND_ORDER, k].index(k))
    print()
    print(f"{'request':<62} {'count':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6}")
    for kind in kinds:
        print(line(kind, by_kind[kind]))
        names = sorted(name for k, name in by_name if k == kind)
        if len(names) > 1:
            for name in names:
                print(line(name, by_name[(kind, name)], indent="  "))
    print(line("overall", samples))
    errors = [s for s in samples if s["outcome"] == "error"]
    conflicts = sum(s["outcome"] == "conflict" for s in samples)
    acknowledged = sum(s["kind"] == "acknowledge" and s["outcome"] == "ok" for s in samples)
    print()
    print(f"throughput: {len(samples) / elapsed:.1f} requests/s over {elapsed:.0f} s")
    print(
        f"acknowledged: {acknowledged:,}; lost the race (already acknowledged by someone "
        f"else, expected, not an error): {conflicts:,}"
    )
    print(f"errors: {len(errors)}; server errors logged by gunicorn: {len(server_errors)}")
    shown: dict[str, int] = defaultdict(int)
    for sample in errors:
        shown[f"{sample['name']}: {sample['error']}"] += 1
    for message, count in sorted(shown.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {count:>5} × {message}")
    for excerpt in server_errors[:5]:
        print("  --- server error ---")
        print("  " + excerpt.replace("\n", "\n  "))
    return len(errors) + len(server_errors)


def server_errors_in(log: Path) -> list[str]:
    """Each traceback or ERROR record gunicorn and Django wrote, with its context."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    found, index = [], 0
    while index < len(lines):
        text = lines[index]
        if " ERROR " in text or "[CRITICAL]" in text or text.startswith("Traceback"):
            end = index + 1
            while (
                end < len(lines) and not lines[end][:4].isdigit() and not lines[end].startswith("[")
            ):
                end += 1
            found.append("\n".join(lines[index:end][:60]))
            index = end
        else:
            index += 1
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="Load test the portal with locust.")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--time", default="60s", help="locust --run-time, e.g. 60s, 2m")
    parser.add_argument("--open", type=int, default=10_000, help="open handoffs in the queue")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2) + 1)
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse-db", action="store_true", help="skip building: use the database as it is"
    )
    args = parser.parse_args()

    # Turn a SIGTERM into an exception so that the `finally` below stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    locust = locust_bin()
    db_url = os.environ.get("LOAD_DATABASE_URL", DEFAULT_DB)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "olaportal.settings",
        "DATABASE_URL": db_url,
        "DEBUG": "false",
        "SECRET_KEY": "load-test-only-secret-key-" + hashlib.sha256(db_url.encode()).hexdigest(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "false",
        # No worker runs: nothing a page does may need the broker; keep it in memory.
        "CELERY_BROKER_URL": "memory://",
        "HTTPS": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]

    server = None
    workdir = Path(tempfile.mkdtemp(prefix="olaportal-load-"))
    log = workdir / "gunicorn.log"
    samples = workdir / "samples.json"
    failures = 1
    try:
        started = time.perf_counter()
        if not args.reuse_db:
            say(f"database {urlsplit(db_url).path.lstrip('/')}: drop, create, migrate, seed_demo")
            recreate_database(db_url)
            run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT)
            run([*manage, "seed_demo"], cwd=ROOT, stdout=subprocess.DEVNULL)
            run([sys.executable, str(HERE / "scale.py"), "--open", str(args.open)], cwd=ROOT)
            say(f"data ready in {time.perf_counter() - started:.0f} s")

        # The people locust signs in as: the provider team's demo members, from seed_demo's
        # own tables.
        import django

        sys.path.insert(0, str(ROOT))
        django.setup()
        from django.db import connection

        from apps.accounts.demo import DEMO_PASSWORD
        from apps.handoffs.models import OPEN_STATUSES, Handoff
        from apps.teams.demo import TEAMS

        team = next(t for t in TEAMS if t[0] == "engineering")
        people = [team[3], *team[4]]
        backlog = Handoff.objects.filter(
            provider_team__slug="engineering", status__in=OPEN_STATUSES
        ).count()
        connection.close()  # the database may be dropped at the end

        port = free_port(args.port)
        host = f"http://127.0.0.1:{port}"
        say(f"gunicorn on {host} with {args.workers} workers")
        with log.open("w") as out:
            server = subprocess.Popen(  # noqa: S603 - this interpreter's gunicorn
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "olaportal.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(args.workers),
                    "--log-level",
                    "warning",
                    # A worker starved of CPU by the load generator on the same two cores
                    # must not be killed as hung (the default is 30 s): slowness shows in
                    # the percentiles, not as a reset connection.
                    "--timeout",
                    "120",
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(f"{host}/accounts/login/", server)

        say(
            f"locust: {args.users} users (spawn {args.spawn_rate:g}/s) for {args.time}, "
            f"signing in as {', '.join(people)}"
        )
        load_before = os.getloadavg()[0]
        database = postmaster()
        server_cpu, machine = process_tree_cpu(server.pid), machine_cpu()
        database_cpu = process_tree_cpu(database)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run(
            [
                str(locust),
                "-f",
                str(HERE / "locustfile.py"),
                "--headless",
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                args.time,
                "--host",
                host,
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=HERE,
            env={
                **env,
                "LOAD_USERS": ",".join(people),
                "LOAD_PASSWORD": DEMO_PASSWORD,
                "LOAD_SAMPLES": str(samples),
            },
            check=False,
        )
        server_cpu = process_tree_cpu(server.pid) - server_cpu
        database_cpu = process_tree_cpu(database) - database_cpu
        busy, total = (after - before for after, before in zip(machine_cpu(), machine, strict=True))
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
        locust_cpu = (ended.ru_utime + ended.ru_stime) - (children.ru_utime + children.ru_stime)
        stop(server)
        say(
            f"{args.users} users against gunicorn ({args.workers} workers) on {host}; "
            f"{backlog:,} open handoffs in Engineering's inbound queue at the start"
        )
        failures = report(samples, server_errors=server_errors_in(log))
        cores = os.cpu_count() or 1
        print(
            f"machine: {cores} cores, load average {load_before:.1f} at the start; CPU busy "
            f"{100 * busy / total:.0f}% during the run ({busy:.0f} CPU-s): gunicorn "
            f"{server_cpu:.0f} CPU-s, PostgreSQL {database_cpu:.0f} CPU-s (all its databases), "
            f"locust {locust_cpu:.0f} CPU-s, anything else "
            f"{max(0.0, busy - server_cpu - database_cpu - locust_cpu):.0f} CPU-s"
        )
        if result.returncode not in (0, 1):  # 1: locust saw failures, reported above
            say(f"locust exited with {result.returncode}")
            failures += 1
    finally:
        stop(server)
        if not args.keep_db and not args.reuse_db:
            recreate_database(db_url, drop_only=True)
        if failures:
            say(f"gunicorn's log and locust's samples are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
