#!/usr/bin/env python3
"""Runs an allocation-heavy program plain, under `batteries tracemalloc`, heaptrack and
valgrind's massif, in one run; prints the slowdowns, the peak memory, the ratios and the
targets of the tracemalloc issue.

    python3 bench/tracemalloc/compare.py [--binary-dir build/release] [--quick]
        [--pairs 5000000] [--depth 10] [--small-pairs 200000] [--repeat 5]
        [--sample-rate 524288] [--program PATH] [--batteries PATH]

The program is bench/tracemalloc/alloc_heavy.cpp (built -O2 -g -fno-omit-frame-pointer, as
target tracemalloc_alloc_heavy): PAIRS small new/delete pairs (16..256 bytes, 64 live at a
time), each DEPTH frames below main, four distinct stacks, and a 4 KiB leak kept to the end.
The configurations, each run --repeat times round-robin, the median reported:

  plain          the program alone
  nframes=1      batteries tracemalloc --nframes 1 --output TMP -- program
  nframes=25     batteries tracemalloc --nframes 25 ...
  sampling       batteries tracemalloc --sample-rate BYTES ... (default 512 KiB: the order of
                 magnitude of heapprofd's and tcmalloc's sampling)
  heaptrack      heaptrack -o TMP program (1.4 records and compresses the trace with zstd while
                 the program runs; the whole run is what its user waits for)
and, at --small-pairs (massif is too slow for the full size), plain, nframes=25 and
  massif         valgrind --tool=massif --massif-out-file=TMP program

seconds: the wall-clock time of the whole process (start-up, the loop, writing the output at
exit), time.perf_counter around it. loop s: the time of the loop alone, as the program
measures it (steady_clock), free of start-up and exit. peak RSS: ru_maxrss of the child from
wait4, which is the largest of the process and the descendants it waited for (batteries: the
traced program, larger than the tool; heaptrack: the program with heaptrack's library, or
heaptrack_interpret, whichever is larger; massif: valgrind with the program inside). The
tracer's own memory cannot be read from outside the program, so it is given as peak RSS under
the tracer minus the plain run's.

Ratios only: the script never fails on a missed target; it fails when the program or
batteries does not run. Peers that are not installed (heaptrack, valgrind) read "n/a".

--quick (the smoke test): 20,000 pairs, massif on 2,000, one run each.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402  (bench/benchlib.py)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# The issue's targets.
TARGET_NFRAMES1 = 2.0      # slowdown with nframes=1, at most
TARGET_NFRAMES25 = 4.0     # slowdown with nframes=25, at most
TARGET_HEAPTRACK = 3.0     # heaptrack / batteries nframes=25, at least
TARGET_SAMPLING = 5.0      # sampling overhead in percent, under


class Config:
    """One way to run the program: name, the size it runs at, how to build its command."""

    def __init__(self, name, size, make_cmd, required):
        self.name = name
        self.size = size            # "full" or "small"
        self.make_cmd = make_cmd    # (tmpdir, pairs) -> argv
        self.required = required    # a failure fails the run
        self.runs = []              # dicts: seconds, loop_s, rss_kib, output_bytes
        self.error = None


def run_once(cmd, tmp, gnu_time):
    """Runs cmd; returns {"seconds", "loop_s", "rss_kib", "output_bytes", "checksum"} or
    raises RuntimeError with the tail of its output.

    Peak RSS comes from GNU time's %M where it is there: wait4's ru_maxrss of a child of this
    interpreter counts the interpreter's own pages, which the child had between fork and exec;
    GNU time's child is forked from a process of about 1 MiB."""
    out_path = os.path.join(tmp, "stdout")
    err_path = os.path.join(tmp, "stderr")
    rss_path = os.path.join(tmp, "maxrss")
    if gnu_time:
        cmd = [gnu_time, "-f", "%M", "-o", rss_path, *cmd]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    rss_kib = usage.ru_maxrss
    if gnu_time:
        with open(rss_path, encoding="utf-8") as f:
            lines = f.read().split()
        rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else None
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    with open(err_path, encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    if proc.returncode != 0:
        tail = "\n".join((stdout + stderr).splitlines()[-10:])
        raise RuntimeError(f"exit status {proc.returncode}:\n{tail}")
    record = None
    for line in stdout.splitlines():
        if line.startswith('{"pairs"'):
            record = json.loads(line)
    if record is None:
        raise RuntimeError("the program printed no result line:\n" + stdout[-2000:])
    # Everything the tracer wrote (the snapshot, heaptrack's .zst, massif.out), then removed.
    output_bytes = 0
    for path in glob.glob(os.path.join(tmp, "trace*")):
        output_bytes += os.path.getsize(path)
        os.remove(path)
    prog_rss = record.get("peak_rss_kib", -1)
    return {"seconds": seconds, "loop_s": record["loop_s"], "rss_kib": rss_kib,
            "prog_rss_kib": prog_rss if prog_rss >= 0 else None,
            "output_bytes": output_bytes, "checksum": record["checksum"]}


def median(config, key):
    values = [r[key] for r in config.runs if r[key] is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt(value, digits=2, unit=""):
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def find_tool(explicit, name):
    if explicit:
        return explicit if os.path.exists(explicit) else None
    return shutil.which(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary-dir", default=os.path.join(REPO, "build", "release"),
                        help="the build directory holding bench/tracemalloc_alloc_heavy and "
                             "tools/batteries/batteries (default %(default)s)")
    parser.add_argument("--program", help="alloc_heavy (default: under --binary-dir)")
    parser.add_argument("--batteries", help="the batteries tool (default: under --binary-dir)")
    parser.add_argument("--heaptrack", help="heaptrack (default: from PATH)")
    parser.add_argument("--valgrind", help="valgrind (default: from PATH)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20,000 pairs, massif on 2,000, one run each")
    parser.add_argument("--pairs", type=int, help="new/delete pairs (default 5,000,000)")
    parser.add_argument("--depth", type=int, default=10, help="frames deep (default 10)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads sharing the pairs in the multi-threaded runs (default 2)")
    parser.add_argument("--small-pairs", type=int,
                        help="pairs for the massif comparison (default 200,000)")
    parser.add_argument("--repeat", type=int, help="runs of each, median (default 5; 1 quick)")
    parser.add_argument("--sample-rate", type=int, default=512 * 1024,
                        help="bytes between samples in sampling mode (default %(default)s)")
    args = parser.parse_args()
    args.pairs = args.pairs or (20_000 if args.quick else 5_000_000)
    args.small_pairs = args.small_pairs or (2_000 if args.quick else 200_000)
    args.repeat = args.repeat or (1 if args.quick else 5)

    program = args.program or os.path.join(args.binary_dir, "bench", "tracemalloc_alloc_heavy")
    batteries = args.batteries or os.path.join(args.binary_dir, "tools", "batteries", "batteries")
    for path, what in ((program, "alloc_heavy"), (batteries, "the batteries tool")):
        if not os.access(path, os.X_OK):
            print(f"{what} not found at {path}: build it (tracemalloc_alloc_heavy, batteries_cli) "
                  "or pass --binary-dir; failed", file=sys.stderr)
            return 1
    program = os.path.abspath(program)
    batteries = os.path.abspath(batteries)
    heaptrack = find_tool(args.heaptrack, "heaptrack")
    valgrind = find_tool(args.valgrind, "valgrind")
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    if gnu_time and subprocess.run([gnu_time, "-f", "%M", "true"], capture_output=True,
                                   check=False).returncode != 0:
        gnu_time = None  # not GNU time

    def prog(pairs, threads=1):
        return [program, str(pairs), str(args.depth), str(threads)]

    def batt(*options, threads=1):
        return lambda tmp, pairs: [batteries, "tracemalloc", *options, "--output",
                                   os.path.join(tmp, "trace.snap"), "--", *prog(pairs, threads)]

    configs = [
        Config("plain", "full", lambda tmp, pairs: prog(pairs), True),
        Config("nframes=1", "full", batt("--nframes", "1"), True),
        Config("nframes=25", "full", batt("--nframes", "25"), True),
        Config("sampling", "full", batt("--sample-rate", str(args.sample_rate)), True),
    ]
    if heaptrack:
        configs.append(Config("heaptrack", "full", lambda tmp, pairs: [
            heaptrack, "-o", os.path.join(tmp, "trace-ht"), *prog(pairs)], False))
    # The same pairs shared by --threads threads: the tracer's multi-threaded path (atomic
    # counters, locks that other threads may hold), which a one-thread program never takes.
    configs += [
        Config("plain", "threads", lambda tmp, pairs: prog(pairs, args.threads), True),
        Config("nframes=1", "threads", batt("--nframes", "1", threads=args.threads), True),
        Config("nframes=25", "threads", batt("--nframes", "25", threads=args.threads), True),
    ]
    configs += [
        Config("plain", "small", lambda tmp, pairs: prog(pairs), True),
        Config("nframes=25", "small", batt("--nframes", "25"), True),
    ]
    if valgrind:
        configs.append(Config("massif", "small", lambda tmp, pairs: [
            valgrind, "--tool=massif", "--massif-out-file=" + os.path.join(tmp, "trace.massif"),
            *prog(pairs)], False))
    by_key = {(c.name, c.size): c for c in configs}

    def get(name, size="full"):
        return by_key.get((name, size))

    heaptrack_version = benchlib.version_of([heaptrack, "--version"]) if heaptrack else None
    valgrind_version = benchlib.version_of([valgrind, "--version"]) if valgrind else None
    print("tracemalloc: an allocation-heavy program plain, under batteries tracemalloc, "
          "heaptrack and massif, in one run")
    print(f"  program: {program} PAIRS {args.depth} (-O2 -g -fno-omit-frame-pointer): small "
          f"new/delete pairs, {args.depth} frames deep")
    print(f"  {args.pairs:,} pairs (massif: {args.small_pairs:,}); median of {args.repeat} "
          f"runs, round-robin, on {os.cpu_count()} cores; sampling: --sample-rate "
          f"{args.sample_rate:,}")
    print(f"  peers: heaptrack: {heaptrack_version or 'not installed (n/a)'}; "
          f"valgrind: {valgrind_version or 'not installed (n/a)'}")
    if gnu_time:
        print("  peak RSS: /usr/bin/time -f %M (the largest process of each run)", flush=True)
    else:
        print("  peak RSS: wait4's ru_maxrss (no GNU time): it counts this interpreter's pages "
              "too, so small differences are hidden", flush=True)

    status = 0
    sizes = {"full": args.pairs, "threads": args.pairs, "small": args.small_pairs}
    with tempfile.TemporaryDirectory(prefix="batteries-tracemalloc-bench-") as tmp:
        for _ in range(args.repeat):
            for config in configs:
                if config.error is not None:
                    continue
                try:
                    config.runs.append(run_once(config.make_cmd(tmp, sizes[config.size]), tmp,
                                                gnu_time))
                except (RuntimeError, OSError) as exc:
                    config.error = str(exc)
                    word = "failed" if config.required else "did not run"
                    print(f"{config.name} ({sizes[config.size]:,} pairs) {word}: {exc}",
                          file=sys.stderr, flush=True)
                    if config.required:
                        status = 1

    # The traced program must compute what the plain one does.
    for size in ("full", "threads", "small"):
        sums = {c.name: c.runs[0]["checksum"] for c in configs if c.size == size and c.runs}
        if len(set(sums.values())) > 1:
            print(f"checksums differ at {sizes[size]:,} pairs: {sums}; failed", file=sys.stderr)
            status = 1

    # ---- the table ----
    head = (f"{'configuration':<14}{'pairs':>11}{'seconds':>10}{'slowdown':>10}{'loop s':>10}"
            f"{'loop x':>9}{'RSS MiB':>9}{'+MiB':>7}{'max RSS':>9}{'output MiB':>12}")
    print()
    print(head)
    print("-" * len(head))
    for size in ("full", "threads", "small"):
        base = get("plain", size)
        for config in (c for c in configs if c.size == size):
            seconds = median(config, "seconds")
            loop = median(config, "loop_s")
            rss = median(config, "prog_rss_kib")
            rss_mib = None if rss is None else rss / 1024
            base_rss = median(base, "prog_rss_kib")
            extra = None if rss is None or base_rss is None or config is base else \
                (rss - base_rss) / 1024
            max_rss = median(config, "rss_kib")
            max_mib = None if max_rss is None else max_rss / 1024
            out = median(config, "output_bytes")
            out_mib = None if out is None or config is base else out / 2**20
            label = config.name + (f" {args.threads}thr" if size == "threads" else "")
            print(f"{label:<14}{sizes[size]:>11,}{fmt(seconds, 3):>10}"
                  f"{fmt(ratio(seconds, median(base, 'seconds')), 2, 'x'):>10}"
                  f"{fmt(loop, 3):>10}{fmt(ratio(loop, median(base, 'loop_s')), 2, 'x'):>9}"
                  f"{fmt(rss_mib, 1):>9}{fmt(extra, 1):>7}{fmt(max_mib, 1):>9}"
                  f"{fmt(out_mib, 2):>12}")
    if not heaptrack:
        print(f"{'heaptrack':<14}{args.pairs:>11,}{'n/a (not installed)':>30}")
    if not valgrind:
        print(f"{'massif':<14}{args.small_pairs:>11,}{'n/a (valgrind not installed)':>39}")
    print("  seconds: the whole process (median); slowdown: / plain at the same size; loop: "
          "the loop alone, as the program times it")
    print("  RSS: the program's own peak RSS (VmHWM, read by the program at the end of main; "
          "massif: valgrind's); +MiB: minus plain's")
    print("  max RSS: the largest process of the run (/usr/bin/time %M: the batteries tool, "
          "heaptrack_interpret or zstd may be larger); output: the trace file written")

    # ---- the ratios the issue asks about ----
    plain_s = median(get("plain"), "seconds")
    n1_s = median(get("nframes=1"), "seconds")
    n25_s = median(get("nframes=25"), "seconds")
    samp_s = median(get("sampling"), "seconds")
    ht_s = median(get("heaptrack"), "seconds") if get("heaptrack") else None
    small_n25 = median(get("nframes=25", "small"), "seconds")
    massif_s = median(get("massif", "small"), "seconds") if get("massif", "small") else None

    def loop_ratio(name, size="full"):
        c = get(name, size)
        return None if c is None else ratio(median(c, "loop_s"), median(get("plain", size),
                                                                        "loop_s"))

    print()
    if args.quick:
        print(f"(--quick: {args.pairs:,} pairs, one run: start-up dominates; the targets are "
              "set for 5,000,000)")
    plain_loop = median(get("plain"), "loop_s")
    if plain_s is not None and plain_loop is not None:
        share = 1 - plain_loop / plain_s
        print(f"(plain runs {plain_s:.3f} s in all, of which the loop {plain_loop:.3f} s: "
              f"start-up and exit are {share:.0%} of it"
              + ("; they weigh on the slowdowns, which the 'loop' ratios leave out)"
                 if share > 0.1 else ")"))
    missed = []

    def line(text, value, sense, limit, unit="x", digits=2, loop=None):
        """Prints "TEXT = VALUE (loop alone: ...) (target SENSE LIMIT): met|MISSED|n/a"."""
        checks = {"<=": lambda v: v <= limit, "<": lambda v: v < limit,
                  ">=": lambda v: v >= limit}
        ok = None if value is None else checks[sense](value)
        extra = "" if loop is None else f" (loop alone: {fmt(loop, digits, unit)})"
        verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
        print(f"{text} = {fmt(value, digits, unit)}{extra} (target {sense} {limit:g}{unit}): "
              f"{verdict}")
        if ok is False:
            missed.append(text)

    line("nframes=1 slowdown", ratio(n1_s, plain_s), "<=", TARGET_NFRAMES1,
         loop=loop_ratio("nframes=1"))
    threads_plain = median(get("plain", "threads"), "seconds")
    for name in ("nframes=1", "nframes=25"):
        value = ratio(median(get(name, "threads"), "seconds"), threads_plain)
        print(f"{name} slowdown with {args.threads} threads (the atomic path; no target) = "
              f"{fmt(value, 2, 'x')} (loop alone: {fmt(loop_ratio(name, 'threads'), 2, 'x')})")
    line("nframes=25 slowdown", ratio(n25_s, plain_s), "<=", TARGET_NFRAMES25,
         loop=loop_ratio("nframes=25"))
    ht_loop = None
    if get("heaptrack"):
        ht_loop = ratio(median(get("heaptrack"), "loop_s"), median(get("nframes=25"), "loop_s"))
    line("heaptrack / batteries nframes=25", ratio(ht_s, n25_s), ">=", TARGET_HEAPTRACK,
         loop=ht_loop)
    ht1_loop = None
    if get("heaptrack"):
        ht1_loop = ratio(median(get("heaptrack"), "loop_s"), median(get("nframes=1"), "loop_s"))
    print(f"heaptrack / batteries nframes=1 = {fmt(ratio(ht_s, n1_s), 2, 'x')} "
          f"(loop alone: {fmt(ht1_loop, 2, 'x')})")
    overhead = None if samp_s is None or not plain_s else (samp_s / plain_s - 1) * 100
    samp_loop = loop_ratio("sampling")
    line("sampling overhead", overhead, "<", TARGET_SAMPLING, unit="%", digits=1,
         loop=None if samp_loop is None else (samp_loop - 1) * 100)
    massif_loop = None
    if get("massif", "small"):
        massif_loop = ratio(median(get("massif", "small"), "loop_s"),
                            median(get("nframes=25", "small"), "loop_s"))
    print(f"massif / batteries nframes=25 ({args.small_pairs:,} pairs) = "
          f"{fmt(ratio(massif_s, small_n25), 2, 'x')} (loop alone: {fmt(massif_loop, 2, 'x')}); "
          f"massif slowdown = "
          f"{fmt(ratio(massif_s, median(get('plain', 'small'), 'seconds')), 1, 'x')}")

    print()
    base_rss = median(get("plain"), "prog_rss_kib")
    base_max = median(get("plain"), "rss_kib")
    print("the tracer's own memory: the agent cannot report it, so it is measured as the "
          "program's peak RSS under the tracer minus plain's "
          f"({fmt(None if base_rss is None else base_rss / 1024, 1)} MiB), at "
          f"{args.pairs:,} pairs; beside it, the largest process of the run minus plain's:")
    for name in ("nframes=1", "nframes=25", "sampling", "heaptrack"):
        c = get(name)
        if c is None or not c.runs:
            print(f"  {name:<11} n/a")
            continue
        rss = median(c, "prog_rss_kib")
        extra = None if rss is None or base_rss is None else (rss - base_rss) / 1024
        max_rss = median(c, "rss_kib")
        max_extra = None if max_rss is None or base_max is None else (max_rss - base_max) / 1024
        print(f"  {name:<11} in the program +{fmt(extra, 1)} MiB; largest process "
              f"+{fmt(max_extra, 1)} MiB")
    print("targets met" if not missed else f"targets missed: {'; '.join(missed)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
