#!/usr/bin/env python3
"""Runs batteries::asyncio, Boost.Asio, CPython's asyncio and uvloop on the same workloads in
one run, and prints the costs, the ratios and the targets of issue 4.

    python3 bench/asyncio/compare.py --binary build/release/bench/asyncio_bench \
        --asio build/release/bench/asio_bench [--quick]

Workloads (bench/asyncio/asyncio_bench.cpp says more): spawn and gather N trivial tasks, in a
fresh process and again as a second round in the same loop (memory already touched), beside
the cost of touching as much fresh memory as the cold run took, with no loop at all; N
tasks each sleeping 1 s (wall time and resident memory per task); a ping-pong between two
tasks through an Event, and through a Queue. Each run is a fresh process; the median of
--repeat runs is reported, the implementations taking turns so that a noisy neighbour hits
them alike. A peer that is missing (no uvloop, no Boost) is shown as n/a.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers.py")

IMPLS = ("batteries", "asio", "cpython", "uvloop")
TITLES = {"batteries": "batteries", "asio": "Boost.Asio", "cpython": "CPython",
          "uvloop": "uvloop"}
# Boost 1.74 has no experimental::channel (it came later): no Asio queue to ping-pong through.
WORKLOADS = {"spawn": IMPLS, "spawn-warm": IMPLS, "sleep": IMPLS, "event": IMPLS,
             "queue": ("batteries", "cpython", "uvloop")}


def find_uvloop_python(candidates):
    """The first interpreter that can import uvloop (Debian's python3-uvloop is only for
    /usr/bin/python3), as (path, description), or None."""
    for python in candidates:
        if not python or not shutil.which(python):
            continue
        probe = subprocess.run(
            [python, "-c", "import sys, uvloop; "
                           "print(uvloop.__version__, sys.version.split()[0])"],
            capture_output=True, text=True)
        if probe.returncode == 0:
            uv, py = probe.stdout.split()
            return python, f"uvloop {uv} on Python {py} ({python})"
    return None


def commands(args, uvloop_python):
    """The command line of each implementation, or None where it is missing."""
    asio = args.asio if args.asio and os.access(args.asio, os.X_OK) else None
    return {
        "batteries": [args.binary],
        "asio": [asio] if asio else None,
        "cpython": [args.python, PEERS],
        "uvloop": [uvloop_python, PEERS, "--uvloop"] if uvloop_python else None,
    }


def run_once(cmd, workload, n):
    """One run in a fresh process: its JSON record, or None (the error goes to stderr)."""
    proc = subprocess.run(cmd + [workload, str(n)], capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        sys.stderr.write(f"{' '.join(cmd)} {workload} {n} failed ({proc.returncode}):\n"
                         f"{proc.stderr}\n")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(cmds, sizes, repeat):
    """{(workload, impl): [records]}, the implementations taking turns."""
    records = {}
    for workload, impls in WORKLOADS.items():
        for _ in range(repeat):
            for impl in impls:
                if cmds[impl] is None:
                    continue
                rec = run_once(cmds[impl], workload, sizes[workload])
                if rec is not None:
                    records.setdefault((workload, impl), []).append(rec)
    # The kernel's price for the memory batteries' cold spawn took: the same number of fresh
    # bytes touched, one write a page, with no loop (asyncio_bench's touch workload).
    spawned = records.get(("spawn", "batteries"))
    if spawned:
        grown = statistics.median((r["rss_peak_kb"] - r["rss_base_kb"]) * 1024 for r in spawned)
        for _ in range(repeat):
            rec = run_once(cmds["batteries"], "touch", int(grown))
            if rec is not None:
                records.setdefault(("touch", "batteries"), []).append(rec)
    return records


def summarize(records, sizes):
    """{row: {impl: value}} for the table, medians over the runs."""
    rows = {}

    def put(row, workload, impl, fn):
        recs = records.get((workload, impl))
        if recs:
            rows.setdefault(row, {})[impl] = statistics.median(fn(r) for r in recs)

    for impl in IMPLS:
        n = sizes["spawn"]
        put("spawn", "spawn", impl, lambda r: r["seconds"] * 1e9 / n)
        put("spawn_warm", "spawn-warm", impl, lambda r: r["seconds"] * 1e9 / n)
        put("touch", "touch", impl, lambda r: r["seconds"] * 1e9 / n)
        n_sleep = sizes["sleep"]
        put("sleep_wall", "sleep", impl, lambda r: r["seconds"])
        put("sleep_mem", "sleep", impl,
            lambda r: (r["rss_peak_kb"] - r["rss_base_kb"]) * 1024 / n_sleep)
        for workload in ("event", "queue"):
            rounds = sizes[workload]
            put(workload, workload, impl, lambda r: r["seconds"] * 1e9 / (2 * rounds))
    return rows


def fmt(value, digits):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio(theirs, ours):
    return "n/a" if theirs is None or not ours else f"{theirs / ours:.1f}x"


def print_table(rows, sizes):
    lines = [
        ("spawn", f"spawn + gather({sizes['spawn']:,})", "ns/task", 1),
        ("spawn_warm", "  the same, second round", "ns/task", 1),
        ("touch", "  its fresh memory alone (no loop)", "ns/task", 1),
        ("sleep_wall", f"{sizes['sleep']:,} x sleep(1): wall", "s", 3),
        ("sleep_mem", f"{sizes['sleep']:,} x sleep(1): memory", "bytes/task", 0),
        ("event", f"ping-pong, Event ({sizes['event']:,} rounds)", "ns/hand-off", 1),
        ("queue", f"ping-pong, Queue ({sizes['queue']:,} rounds)", "ns/hand-off", 1),
    ]
    head = (f"{'workload':<35}{'unit':<12}" + "".join(f"{TITLES[i]:>11}" for i in IMPLS)
            + f"{'CPython/batteries':>19}{'uvloop/batteries':>18}{'Asio/batteries':>16}")
    print(head)
    print("-" * len(head))
    for key, label, unit, digits in lines:
        row = rows.get(key, {})
        ours = row.get("batteries")
        print(f"{label:<35}{unit:<12}"
              + "".join(f"{fmt(row.get(i), digits):>11}" for i in IMPLS)
              + f"{ratio(row.get('cpython'), ours):>19}{ratio(row.get('uvloop'), ours):>18}"
              + f"{ratio(row.get('asio'), ours):>16}")


def verdict(ok):
    return "met" if ok else "MISSED"


def print_targets(rows, sizes, quick):
    """Issue 4's targets. Each line starts with the workload, so the smoke test can find it."""
    print()
    if quick:
        print(f"(--quick: N = {sizes['spawn']:,}; the targets are set for N = 1,000,000)")
    spawn = rows.get("spawn", {})
    ours = spawn.get("batteries")
    if ours and spawn.get("cpython"):
        r = spawn["cpython"] / ours
        print(f"spawn: CPython / batteries = {r:.1f}x (target >= 100x): {verdict(r >= 100)}")
    floor = rows.get("touch", {}).get("batteries")
    if ours and floor and spawn.get("cpython") and ours > floor:
        r = spawn["cpython"] / (ours - floor)
        print(f"spawn: of batteries' {ours:.1f} ns, {floor:.1f} are the kernel supplying fresh "
              f"memory; CPython / the rest = {r:.1f}x")
    warm = rows.get("spawn_warm", {})
    if warm.get("batteries") and warm.get("cpython"):
        r = warm["cpython"] / warm["batteries"]
        print(f"spawn, second round: CPython / batteries = {r:.1f}x (the same target, without "
              f"the first touch of fresh memory): {verdict(r >= 100)}")
    if ours and spawn.get("asio"):
        r = spawn["asio"] / ours
        print(f"spawn: Boost.Asio / batteries = {r:.2f}x (target >= 1x, no slower than Asio): "
              f"{verdict(r >= 1)}")
    wall = rows.get("sleep_wall", {}).get("batteries")
    if wall is not None:
        print(f"sleep: {sizes['sleep']:,} tasks done in {wall:.3f} s (target <= 1.5 s): "
              f"{verdict(wall <= 1.5)}")
    mem = rows.get("sleep_mem", {})
    if mem.get("batteries") and mem.get("cpython"):
        r = mem["cpython"] / mem["batteries"]
        print(f"sleep: memory per task {mem['batteries']:,.0f} B vs CPython's "
              f"{mem['cpython']:,.0f} B, 1/{r:.1f} of it (target < 1/5): {verdict(r > 5)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path of asyncio_bench")
    parser.add_argument("--asio", help="path of asio_bench (Boost.Asio); n/a without it")
    parser.add_argument("--python", default=sys.executable,
                        help="the CPython 3.11 to run asyncio on (default: this one)")
    parser.add_argument("--uvloop-python", action="append",
                        help="an interpreter to try for uvloop (default: this one, then "
                             "/usr/bin/python3)")
    parser.add_argument("--quick", action="store_true", help="short smoke run (N = 20,000)")
    parser.add_argument("-n", type=int, help="tasks for spawn and sleep (default 1,000,000)")
    parser.add_argument("--rounds", type=int,
                        help="ping-pong round trips (default 200,000)")
    parser.add_argument("--repeat", type=int, help="runs of each, median (default 3; 1 quick)")
    args = parser.parse_args()

    n = args.n or (20_000 if args.quick else 1_000_000)
    rounds = args.rounds or (20_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 3)
    sizes = {"spawn": n, "spawn-warm": n, "sleep": n, "event": rounds, "queue": rounds}
    uv = find_uvloop_python(args.uvloop_python or [sys.executable, "/usr/bin/python3"])
    cmds = commands(args, uv[0] if uv else None)

    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print("asyncio: batteries::asyncio vs its peers, one event loop on one thread")
    print(f"  CPython {version} asyncio ({args.python})")
    print(f"  {uv[1] if uv else 'uvloop: n/a (not importable)'}")
    print(f"  Boost.Asio: {cmds['asio'][0] if cmds['asio'] else 'n/a (asio_bench not built)'}")
    print(f"  median of {repeat} run(s), each in a fresh process\n")

    records = measure(cmds, sizes, repeat)
    rows = summarize(records, sizes)
    print_table(rows, sizes)
    print("\nhand-off: one task passing control to the other (two per round trip). "
          "Boost 1.74 has no channel: no Asio queue.")
    print_targets(rows, sizes, args.quick)
    missing = [w for w in WORKLOADS if (w, "batteries") not in records]
    if missing:
        print(f"\nbatteries failed: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
