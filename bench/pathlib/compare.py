#!/usr/bin/env python3
"""Runs batteries::pathlib's rglob and walk beside find, CPython and std::filesystem over one
synthetic tree, and its parsing and joining beside std::filesystem's, in one run; prints the
costs, the ratios and the targets of the pathlib issue.

    python3 bench/pathlib/compare.py --binary build/release/bench/pathlib_bench [--quick]
        [--tree-dir /tmp/batteries-bench-tree] [--rounds 5] [--repeat 3] [-n 1000000]

The tree (make_tree.py: 200,000 files in 20,000 directories; --quick: 2,000 in 200) is built
once and reused. Every peer finds the entries whose name matches "*.py" below it, symlinks not
followed, and builds each one's path text:

  batteries Path.rglob   Path(root).rglob("*.py"), str() of each result (pathlib_bench rglob)
  find                   find ROOT -name '*.py', the whole process timed from fork to exit,
                         its output read through a pipe and its lines counted here
  CPython Path.rglob     pathlib.Path(root).rglob("*.py"), str() of each; the interpreter
                         times itself, so its start-up is not counted
  CPython os.walk        os.walk(root), names ending ".py" joined onto their directory
  std::filesystem        recursive_directory_iterator, names ending ".py" (pathlib_bench fs-rglob)
  batteries Path.walk    walk(), names ending ".py" joined by operator/ (pathlib_bench walk)

Nothing is dropped from the kernel's caches (that needs root): instead every peer runs once,
untimed, before the rounds, so all are timed with a warm dentry cache. Each round runs every
peer in turn (a noisy neighbour hits them alike); a peer's figure in a round is the median of
--repeat runs inside its process (find: of --repeat processes), and the table shows the median
over the rounds. All must find the same entries, the number and the total length of the paths
the tree's stamp records, or the run fails. Parsing and joining time N operations in
pathlib_bench against std::filesystem doing the same on the same strings.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402  (bench/benchlib.py)
import make_tree  # noqa: E402  (beside this file)

PATTERN = "*.py"
TREE_PEERS = ("batteries", "find", "cpython", "os_walk", "std", "walk")
TITLES = {
    "batteries": "batteries Path.rglob",
    "find": "find ROOT -name '*.py' | pipe",
    "cpython": "CPython Path.rglob",
    "os_walk": "CPython os.walk, *.py names",
    "std": "std::filesystem recursive_dir_iter",
    "walk": "batteries Path.walk, *.py names",
    "parse": "batteries PurePosixPath(s) + name, suffix, parent",
    "fs-parse": "std::filesystem::path(s) + filename, extension, parent_path",
    "join": "batteries base / a / b / c, str()",
    "fs-join": "std::filesystem base / a / b / c, native()",
}
TARGETS = {"find": 0.8, "cpython": 0.4, "parse": 1.0, "join": 1.0}


# ---- the CPython peers, run as `compare.py --peer KIND ROOT` in their own interpreter ----

def peer_rglob(root):
    import pathlib
    count = size = 0
    for path in pathlib.Path(root).rglob(PATTERN):
        count += 1
        size += len(str(path))
    return count, size


def peer_os_walk(root):
    # "ends with .py" is fnmatchcase(name, "*.py") exactly, and what std::filesystem's loop does.
    count = size = 0
    join = os.path.join
    for top, dirs, files in os.walk(root):
        for names in (dirs, files):
            for name in names:
                if name.endswith(".py"):
                    count += 1
                    size += len(join(top, name))
    return count, size


def run_peer(kind, root, repeat):
    fn = {"rglob": peer_rglob, "os-walk": peer_os_walk}[kind]
    seconds = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        found = fn(root)
        seconds.append(time.perf_counter() - start)
        if result is not None and found != result:
            raise SystemExit(f"{kind}: runs disagree: {found} != {result}")
        result = found
    print(json.dumps({"impl": "cpython", "workload": kind, "count": result[0],
                      "bytes": result[1], "seconds": statistics.median(seconds),
                      "min_seconds": min(seconds), "repeat": repeat}))
    return 0


# ---- running the peers ----

def run_json(cmd):
    """A peer's last JSON line, or None (the error goes to stderr)."""
    lines = benchlib.json_lines(cmd, timeout=900)
    return lines[-1] if lines else None


def run_find(find_cmd, repeat):
    """find timed from outside, process and all, its stdout counted through a pipe."""
    seconds = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(find_cmd, stdout=subprocess.PIPE, timeout=900)
        seconds.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.stderr.write(f"{' '.join(find_cmd)} failed ({proc.returncode})\n")
            return None
        lines = proc.stdout.count(b"\n")
        result = (lines, len(proc.stdout) - lines)
    return {"impl": "find", "count": result[0], "bytes": result[1],
            "seconds": statistics.median(seconds), "min_seconds": min(seconds)}


def tree_commands(args, root):
    rep = ["--repeat", str(args.repeat)]
    return {
        "batteries": [args.binary, "rglob", root, PATTERN] + rep,
        "find": [args.find, root, "-name", PATTERN],
        "cpython": [args.python, os.path.abspath(__file__), "--peer", "rglob", root] + rep,
        "os_walk": [args.python, os.path.abspath(__file__), "--peer", "os-walk", root] + rep,
        "std": [args.binary, "fs-rglob", root, PATTERN] + rep,
        "walk": [args.binary, "walk", root] + rep,
    }


def run_tree_peer(name, cmd, repeat):
    return run_find(cmd, repeat) if name == "find" else run_json(cmd)


def measure(args, root):
    """{peer: [records]} over the rounds, after one untimed warm-up run of each."""
    cmds = tree_commands(args, root)
    for name, cmd in cmds.items():
        run_tree_peer(name, cmd if name == "find" else cmd[:-1] + ["1"], 1)
    records = {}
    for _ in range(args.rounds):
        for name, cmd in cmds.items():
            rec = run_tree_peer(name, cmd, args.repeat)
            if rec is not None:
                records.setdefault(name, []).append(rec)
        for mode in ("parse", "fs-parse", "join", "fs-join"):
            rec = run_json([args.binary, mode, str(args.n), "--repeat", str(args.repeat)])
            if rec is not None:
                records.setdefault(mode, []).append(rec)
    return records


def find_start_cost(args, root):
    """What find pays before it walks: fork, exec, and one stat (find ROOT -maxdepth 0)."""
    return run_find([args.find, root, "-maxdepth", "0", "-name", PATTERN], 9)["seconds"]


# ---- the report ----

def median_of(records, name, key="seconds"):
    recs = records.get(name)
    return statistics.median(r[key] for r in recs) if recs else None


def best_of(records, name):
    recs = records.get(name)
    return min(r["min_seconds"] for r in recs) if recs else None


def check_counts(records, stamp):
    """Every tree peer must have found the stamp's entries; returns the complaints."""
    bad = []
    for name in TREE_PEERS:
        for rec in records.get(name, []):
            if (rec["count"], rec["bytes"]) != (stamp["py"], stamp["py_bytes"]):
                bad.append(f"MISMATCH: {TITLES[name]} found {rec['count']:,} entries "
                           f"({rec['bytes']:,} bytes of paths); the tree has {stamp['py']:,} "
                           f"({stamp['py_bytes']:,})")
                break
    return bad


def ratio(ours, theirs):
    return None if ours is None or not theirs else ours / theirs


def fmt(value, digits=1, unit=""):
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def print_tree_table(records, stamp):
    ours = median_of(records, "batteries")
    head = (f"{'rglob(' + repr(PATTERN) + ')':<38}{'median ms':>11}{'best ms':>10}"
            f"{'matches':>10}{'batteries / it':>16}")
    print(head)
    print("-" * len(head))
    for name in TREE_PEERS:
        med = median_of(records, name)
        recs = records.get(name)
        count = f"{recs[-1]['count']:,}" if recs else "n/a"
        r = ratio(ours, med)
        print(f"{TITLES[name]:<38}{fmt(med and med * 1e3, 2):>11}"
              f"{fmt(best_of(records, name) and best_of(records, name) * 1e3, 2):>10}"
              f"{count:>10}{fmt(r, 2, 'x'):>16}")
    walk = records.get("walk")
    if walk:
        print(f"(Path.walk saw {walk[-1]['files']:,} files, symlinks to directories among them;"
              f" the tree has {stamp['files']:,} files and {stamp['symlinks']} symlinks)")


def print_path_table(records, n):
    head = (f"{f'parse and join ({n:,} paths)':<62}{'median ns/op':>14}{'best ns/op':>12}"
            f"{'batteries / it':>16}")
    print(head)
    print("-" * len(head))
    for mode in ("parse", "fs-parse", "join", "fs-join"):
        med = median_of(records, mode)
        best = best_of(records, mode)
        ours = median_of(records, mode.removeprefix("fs-"))
        print(f"{TITLES[mode]:<62}{fmt(med and med * 1e9 / n):>14}"
              f"{fmt(best and best * 1e9 / n):>12}{fmt(ratio(ours, med), 2, 'x'):>16}")


def print_targets(records, quick):
    """The issue's targets; each line starts with the workload, for the smoke test to find."""
    print()
    if quick:
        print("(--quick: a tree of 2,000 files; the targets are set for 200,000)")
    ours = median_of(records, "batteries")
    missed = []
    lines = (
        ("rglob", "find", "find", ours, median_of(records, "find")),
        ("rglob", "cpython", "Python", ours, median_of(records, "cpython")),
        ("rglob", "std", "std::filesystem", ours, median_of(records, "std")),
        ("parse", "parse", "std::filesystem", median_of(records, "parse"),
         median_of(records, "fs-parse")),
        ("join", "join", "std::filesystem", median_of(records, "join"),
         median_of(records, "fs-join")),
    )
    for workload, key, title, a, b in lines:
        r = ratio(a, b)
        target = TARGETS.get(key)
        if target is None:
            print(f"{workload}: batteries / {title} = {fmt(r, 2, 'x')} (for reference)")
            continue
        ok = r is not None and r <= target
        print(f"{workload}: batteries / {title} = {fmt(r, 2, 'x')} (target <= {target}): "
              f"{'met' if ok else 'MISSED'}")
        if not ok:
            missed.append(f"{workload} vs {title} {fmt(r, 2, 'x')} > {target}x")
    print("targets met" if not missed else f"targets missed: {'; '.join(missed)}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        parser = argparse.ArgumentParser(description="one CPython peer, timed in-process")
        parser.add_argument("--peer", choices=("rglob", "os-walk"), required=True)
        parser.add_argument("root")
        parser.add_argument("--repeat", type=int, default=3)
        args = parser.parse_args()
        return run_peer(args.peer, args.root, args.repeat)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path of pathlib_bench")
    parser.add_argument("--python", default=sys.executable,
                        help="the CPython 3.11 whose pathlib and os.walk run (default: this one)")
    parser.add_argument("--find", default=shutil.which("find") or "find", help="find to run")
    parser.add_argument("--tree-dir", default="/tmp/batteries-bench-tree",
                        help="where the tree is built and kept (default %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the small tree, 1 round, N = 100,000")
    parser.add_argument("--rounds", type=int, help="rounds, median (default 5; 1 quick)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs inside each process, median (default %(default)s)")
    parser.add_argument("-n", type=int, help="paths to parse and join (default 1,000,000)")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.n = args.n or (100_000 if args.quick else 1_000_000)

    files, dirs = make_tree.SMALL if args.quick else make_tree.FULL
    root, stamp = make_tree.ensure_tree(args.tree_dir, files, dirs)
    python = benchlib.version_of([args.python, "-c", "import sys; print(sys.version.split()[0])"])
    print("pathlib: batteries::pathlib vs find, CPython and std::filesystem, in one run")
    print(f"  tree {root}: {stamp['files']:,} files, {stamp['dirs']:,} directories, "
          f"{stamp['symlinks']} symlinks; {stamp['py']:,} entries match {PATTERN!r}")
    print(f"  CPython {python} ({args.python}); {benchlib.version_of([args.find, '--version'])}")
    if not python.startswith("3.11."):
        print("  (the targets are set against CPython 3.11)")
    print("  every peer ran once untimed first: all are timed with a warm dentry cache, "
          "nothing dropped")
    print(f"  figures: median over {args.rounds} round(s) of each process's median of "
          f"{args.repeat} runs; best: the fastest run\n", flush=True)

    records = measure(args, root)
    start = find_start_cost(args, root)
    print_tree_table(records, stamp)
    print(f"find is timed as a whole process: its start (fork, exec, find ROOT -maxdepth 0) "
          f"takes {start * 1e3:.2f} ms of its figure; the others time themselves in-process\n")
    print_path_table(records, args.n)
    print_targets(records, args.quick)

    status = 0
    for line in check_counts(records, stamp):
        print(line, file=sys.stderr)
        status = 1
    missing = [TITLES[name] for name in TREE_PEERS + ("parse", "fs-parse", "join", "fs-join")
               if name not in records]
    if missing:
        print(f"peers failed: {', '.join(missing)}", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
