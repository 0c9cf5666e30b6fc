"""Shared by the bench/<module>/compare.py drivers: running a Google Benchmark binary, or a
hand-timed peer that prints JSON lines."""
import json
import subprocess
import sys


def median_ns(binary, min_time):
    """Runs a Google Benchmark binary (3 repetitions) and yields (run_name, ns, entry) for the
    median of each benchmark: robust to a noisy neighbour on a 2-core machine. ns is the real
    time of one iteration in nanoseconds; entry is the JSON record, for its counters."""
    out = subprocess.run(
        [binary, "--benchmark_format=json", f"--benchmark_min_time={min_time}",
         "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
        check=True, capture_output=True, text=True).stdout
    for bench in json.loads(out)["benchmarks"]:
        if bench.get("aggregate_name") != "median" or bench.get("error_occurred"):
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[bench["time_unit"]]
        yield bench["run_name"], bench["real_time"] * scale, bench


def json_lines(cmd, timeout=3600):
    """The JSON lines a peer prints, or None when it fails (its stderr goes to ours)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.stderr.write(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}\n")
        return None
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def version_of(cmd):
    """The first line a command prints (python3 --version, say), or "?"."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 else "?"
