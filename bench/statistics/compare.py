#!/usr/bin/env python3
"""Runs batteries::statistics beside a naive C++ loop, Boost.Math and CPython's statistics on
the same data in one run; prints the costs per element, the ratios and the targets of the
statistics issue.

    python3 bench/statistics/compare.py --binary build/release/bench/statistics_bench
        [--quick] [-n 10000000] [--py-n 1000000] [--repeat 5] [--py-repeat 3]
        [--kinds normal,wide] [--python python3.11]

statistics_bench (statistics_bench.cpp says how) makes N doubles x and y from a fixed seed and
times, for mean, fmean, variance, stdev, median, quantiles and correlation (x, y):

  batteries      batteries::statistics::f(x), exactly rounded, as Python's
  batteries par  f(std::execution::par, x) (mean, fmean, variance, stdev; 2 cores here)
  naive          the loop a C++ programmer writes: sum / n, two-pass variance, nth_element
                 on a copy, textbook two-pass correlation
  Boost          boost::math::statistics where Boost 1.74 has the function (no quantiles)

each --repeat times round-robin, and reports the median run in ns per element. It also writes
the first --py-n values of x and y to a temporary file: CPython's statistics then runs on
exactly those values (a list of floats, in a process of its own), each function timed with
time.perf_counter, the median of --py-repeat runs, divided by --py-n. batteries' results on
those same values are set beside CPython's: they should agree to the last bit.

The data kinds: normal (1000 + 50 z; y = 0.6 x + 40 z'), the issue's targets are read on
it; wide (sign * 10^u, u uniform in [-6, 6]), terms spread over 40 binary orders of magnitude,
for exact summation's harder case.

--quick (the smoke test): N = 100,000, CPython on 10,000, 3 runs each.
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402  (bench/benchlib.py)

FUNCTIONS = ("mean", "fmean", "variance", "stdev", "median", "quantiles", "correlation")
IMPLS = ("batteries", "batteries-par", "naive", "boost", "cpython")
TITLES = {"batteries": "batteries", "batteries-par": "batt. par", "naive": "naive",
          "boost": "Boost", "cpython": "CPython"}
# (function, ratio, limit): batteries / naive at most the limit, CPython / batteries at least.
TARGETS = (("mean", "naive", 2.0), ("variance", "naive", 3.0), ("stdev", "naive", 3.0),
           ("mean", "cpython", 75.0), ("variance", "cpython", 45.0))
# batteries and CPython must agree this closely, or the run says MISMATCH (they should agree
# exactly; smaller differences are reported in ulps).
MISMATCH_REL = 1e-12


# ---- the CPython peer, run as `compare.py --peer FILE M` in its own interpreter ----

def run_peer(path, m, repeat):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) != 16 * m:
        raise SystemExit(f"{path}: {len(raw)} bytes, expected {16 * m}")
    values = struct.unpack(f"={2 * m}d", raw)
    x, y = list(values[:m]), list(values[m:])
    calls = {
        "mean": lambda: statistics.mean(x),
        "fmean": lambda: statistics.fmean(x),
        "variance": lambda: statistics.variance(x),
        "stdev": lambda: statistics.stdev(x),
        "median": lambda: statistics.median(x),
        "quantiles": lambda: statistics.quantiles(x),
        "correlation": lambda: statistics.correlation(x, y),
    }
    for name, call in calls.items():
        seconds = []
        value = None
        for _ in range(repeat):
            start = time.perf_counter()
            value = call()
            seconds.append(time.perf_counter() - start)
        print(json.dumps({"function": name, "impl": "cpython", "n": m,
                          "ns": statistics.median(seconds) * 1e9 / m,
                          "best_ns": min(seconds) * 1e9 / m, "repeat": repeat,
                          "value": value}), flush=True)
    return 0


# ---- running the peers ----

def run_lines(cmd):
    """The JSON lines a peer prints, or None (the error goes to stderr)."""
    return benchlib.json_lines(cmd)


def measure(args, kind):
    """{"records": {(function, impl): record}, "checks": {function: value}, "meta": ...}."""
    out = {"records": {}, "checks": {}, "meta": None, "py_n": None}
    with tempfile.TemporaryDirectory(prefix="batteries-stats-") as tmp:
        path = os.path.join(tmp, "data.bin")
        lines = run_lines([args.binary, "--kind", kind, "--n", str(args.n), "--repeat",
                           str(args.repeat), "--dump", path, "--dump-n", str(args.py_n)])
        if lines is None:
            return out
        for rec in lines:
            if "meta" in rec:
                out["meta"] = rec["meta"]
            elif "check" in rec:
                out["checks"][rec["check"]] = rec["value"]
                out["py_n"] = rec["n"]
            else:
                out["records"][(rec["function"], rec["impl"])] = rec
        if out["py_n"] is None:
            return out
        peer = run_lines([args.python, os.path.abspath(__file__), "--peer", path,
                          str(out["py_n"]), "--repeat", str(args.py_repeat)])
        for rec in peer or []:
            out["records"][(rec["function"], "cpython")] = rec
    return out


# ---- the report ----

def ns(result, function, impl):
    rec = result["records"].get((function, impl))
    return None if rec is None else rec["ns"]


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt(value, digits=2, unit=""):
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def print_cost_table(result):
    head = (f"{'ns per element':<13}" + "".join(f"{TITLES[i]:>11}" for i in IMPLS)
            + f"{'batteries/naive':>17}{'CPython/batteries':>19}")
    print(head)
    print("-" * len(head))
    for function in FUNCTIONS:
        ours = ns(result, function, "batteries")
        cells = "".join(f"{fmt(ns(result, function, i)):>11}" for i in IMPLS)
        print(f"{function:<13}{cells}"
              f"{fmt(ratio(ours, ns(result, function, 'naive')), 2, 'x'):>17}"
              f"{fmt(ratio(ns(result, function, 'cpython'), ours), 1, 'x'):>19}")


def as_list(value):
    return value if isinstance(value, list) else [value]


def ulps(a, b):
    """How many doubles lie between a and b (0: the same double)."""
    if a == b:
        return 0
    ia, ib = (struct.unpack("=q", struct.pack("=d", v))[0] for v in (a, b))
    ia, ib = (i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF) for i in (ia, ib))
    return abs(ia - ib)


def rel_diff(a, b):
    if a == b:
        return 0.0
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else math.inf


def show(value):
    return ", ".join(repr(v) for v in as_list(value))


def print_values(result):
    """The results on the N values: batteries (exact) beside the naive loop and Boost."""
    n = result["meta"]["n"] if result["meta"] else "?"
    print(f"\nresults on the {n:,} values (relative difference from batteries):")
    for function in FUNCTIONS:
        rec = result["records"].get((function, "batteries"))
        if rec is None:
            continue
        print(f"  {function:<12} batteries {show(rec['value'])}")
        for impl in ("batteries-par", "naive", "boost"):
            other = result["records"].get((function, impl))
            if other is None:
                continue
            diff = max(rel_diff(a, b) for a, b in zip(as_list(rec["value"]),
                                                        as_list(other["value"])))
            print(f"  {'':<12} {TITLES[impl]:<9} {show(other['value'])}  ({diff:.1e})")


def check_cpython(result):
    """batteries beside CPython on the same --py-n values; returns the complaints."""
    bad = []
    m = result["py_n"]
    if m is None:
        return bad
    print(f"\nbatteries and CPython on the same {m:,} values:")
    for function in FUNCTIONS:
        ours = result["checks"].get(function)
        rec = result["records"].get((function, "cpython"))
        if ours is None or rec is None:
            continue
        pairs = list(zip(as_list(ours), as_list(rec["value"])))
        worst = max(ulps(a, b) for a, b in pairs)
        rel = max(rel_diff(a, b) for a, b in pairs)
        if worst == 0:
            print(f"  {function:<12} identical: {show(ours)}")
        else:
            word = "MISMATCH" if rel > MISMATCH_REL else "differs"
            print(f"  {function:<12} {word} by {worst} ulp ({rel:.1e}): batteries {show(ours)}, "
                  f"CPython {show(rec['value'])}")
            if rel > MISMATCH_REL:
                bad.append(f"MISMATCH: {function}: batteries {show(ours)} "
                           f"!= CPython {show(rec['value'])}")
    return bad


def print_targets(result, quick):
    """The issue's targets; each line starts with the function, for the smoke test to find."""
    print()
    if quick:
        print("(--quick: N = 100,000, in cache; the targets are set for N = 10^7)")
    missed = []
    for function, peer, limit in TARGETS:
        ours = ns(result, function, "batteries")
        if peer == "naive":
            r = ratio(ours, ns(result, function, "naive"))
            ok = r is not None and r <= limit
            text = f"{function}: batteries / naive = {fmt(r, 2, 'x')} (target <= {limit:g}x)"
        else:
            r = ratio(ns(result, function, "cpython"), ours)
            ok = r is not None and r >= limit
            text = f"{function}: CPython / batteries = {fmt(r, 1, 'x')} (target >= {limit:g}x)"
        print(f"{text}: {'met' if ok else 'MISSED'}")
        if not ok:
            missed.append(text)
    print("targets met" if not missed else f"targets missed: {'; '.join(missed)}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        parser = argparse.ArgumentParser(description="CPython's statistics, timed in-process")
        parser.add_argument("--peer", required=True, help="the data file")
        parser.add_argument("m", type=int, help="values of x (and of y) in the file")
        parser.add_argument("--repeat", type=int, default=3)
        args = parser.parse_args()
        return run_peer(args.peer, args.m, args.repeat)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path of statistics_bench")
    parser.add_argument("--python", default=sys.executable,
                        help="the CPython 3.11 whose statistics runs (default: this one)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N = 100,000, CPython on 10,000, 3 runs each")
    parser.add_argument("-n", "--n", type=int, help="values for C++ (default 10,000,000)")
    parser.add_argument("--py-n", type=int, help="values for CPython (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="C++ runs, median (default 5; 3 quick)")
    parser.add_argument("--py-repeat", type=int, default=3,
                        help="CPython runs, median (default %(default)s)")
    parser.add_argument("--kinds", default="normal,wide",
                        help="data kinds, comma-separated (default %(default)s); the targets "
                             "are read on normal")
    args = parser.parse_args()
    args.n = args.n or (100_000 if args.quick else 10_000_000)
    args.py_n = min(args.py_n or (10_000 if args.quick else 1_000_000), args.n)
    args.repeat = args.repeat or (3 if args.quick else 5)
    kinds = [k for k in args.kinds.split(",") if k]

    python = benchlib.version_of([args.python, "-c", "import sys; print(sys.version.split()[0])"])
    print("statistics: batteries::statistics vs a naive loop, Boost.Math and CPython, in one run")
    print(f"  C++: N = {args.n:,} doubles, median of {args.repeat} runs (round-robin) in ns "
          f"per element; batt. par: std::execution::par on {os.cpu_count()} cores")
    print(f"  CPython {python} ({args.python}): statistics on the first {args.py_n:,} of the "
          f"same values, median of {args.py_repeat} runs, per element")
    if not python.startswith("3.11."):
        print("  (the targets are set against CPython 3.11)")
    print("  ratios: batteries / naive (lower is better), CPython / batteries (higher is better)",
          flush=True)

    status = 0
    targets_done = False
    for kind in kinds:
        result = measure(args, kind)
        meta = result["meta"]
        print(f"\n== {kind} data ==")
        if meta is None:
            print(f"statistics_bench failed for {kind}", file=sys.stderr)
            status = 1
            continue
        if not meta.get("boost"):
            print("(Boost.Math was not found at build time: no Boost column)")
        print_cost_table(result)
        print_values(result)
        for line in check_cpython(result):
            print(line, file=sys.stderr)
            status = 1
        missing = sorted({f for f in FUNCTIONS for i in ("batteries", "naive", "cpython")
                          if (f, i) not in result["records"]})
        if missing:
            print(f"peers failed for: {', '.join(missing)}", file=sys.stderr)
            status = 1
        if kind == "normal":
            print_targets(result, args.quick)
            targets_done = True
    if not targets_done:
        print("\n(no normal data in --kinds: the targets were not read)")
    return status


if __name__ == "__main__":
    sys.exit(main())
