"""Shared by the bench/<module>/compare.py drivers: running a Google Benchmark binary."""
import json
import subprocess


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
