#!/usr/bin/env python3
"""Runs batteries::enums' run-time benchmark (name(), from_name(), from_value() beside a
hand-written switch, an if-chain and a std::unordered_map) and its compile-time measurement
(bench/enums/compile_time.py) in one run, and prints the costs, the ratios and the targets.

    python3 bench/enums/compare.py --binary build/release/bench/enums_bench
"""
import argparse
import os
import sys

import compile_time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402  (bench/benchlib.py)

OPERATIONS = ("name", "from_name", "try_from_name_miss", "from_value", "try_from_value")
ENUMS = ("reflected", "declared")


def ns_per_call(binary, min_time):
    """{(operation, implementation, enum): ns per call}, the median of 3 repetitions."""
    results = {}
    for run_name, ns, bench in benchlib.median_ns(binary, min_time):
        operation, implementation, enum = run_name.split("/")
        results[(operation, implementation, enum)] = ns / bench["ops"]
    return results


def report_run_time(ns):
    """Prints every operation beside its peers; returns [(target, met)]."""
    print("Run time: a 16-member enum (HTTP status names, 2 to 21 characters), 1,024 random")
    print("inputs per batch prepared outside the timed loop; ns per call, median of 3 runs.")
    print("'reflected' is a plain enum class (values 0..15), 'declared' is BATTERIES_ENUM "
          "(values 1..16).\n")
    print(f"{'operation':<20}{'enum':<11}{'batteries ns':>13}   {'peer':<15}{'peer ns':>8}"
          f"{'batteries / peer':>18}")
    for operation in OPERATIONS:
        for enum in ENUMS:
            ours = ns.get((operation, "batteries", enum))
            if ours is None:
                continue
            peers = sorted(impl for (op, impl, en) in ns
                           if op == operation and en == enum and impl != "batteries")
            for peer in peers:
                theirs = ns[(operation, peer, enum)]
                print(f"{operation:<20}{enum:<11}{ours:>13.2f}   {peer:<15}{theirs:>8.2f}"
                      f"{ours / theirs:>17.2f}x")
    print()

    def worst(operation, peer):
        ratios = [ns[(operation, "batteries", e)] / ns[(operation, peer, e)] for e in ENUMS
                  if (operation, "batteries", e) in ns and (operation, peer, e) in ns]
        return max(ratios) if ratios else None

    targets = []
    name_ratio = worst("name", "switch")
    if name_ratio is not None:
        met = name_ratio <= 1.5
        print(f"name() / hand-written switch, worst enum: {name_ratio:.2f}x (target <= 1.5x): "
              f"{'met' if met else 'MISSED'}")
        targets.append(("name() within 1.5x of a switch", met))
    from_name_ratio = worst("from_name", "unordered_map")
    if from_name_ratio is not None:
        met = from_name_ratio < 1
        print(f"from_name() / std::unordered_map::find, worst enum: {from_name_ratio:.2f}x "
              f"(target < 1x): {'met' if met else 'MISSED'}")
        targets.append(("from_name() faster than std::unordered_map", met))
    return targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path of enums_bench")
    parser.add_argument("--cxx", default=compile_time.default_cxx(),
                        help="the compiler for the compile-time measurement (default: $CXX or c++)")
    parser.add_argument("--include", action="append", help="an include directory for it "
                        "(repeatable; default: the repository's include/ and "
                        "build/release/include/)")
    parser.add_argument("--enums", type=int, default=200, help="enums per translation unit")
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run: brief timings, 10 enums per translation unit")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the compile-time measurement")
    args = parser.parse_args()
    min_time = 0.01 if args.quick else 0.5

    targets = report_run_time(ns_per_call(args.binary, min_time))
    if not args.no_compile:
        n_enums = 10 if args.quick else args.enums
        print()
        results = compile_time.measure(args.cxx, args.include or compile_time.default_includes(),
                                       n_enums)
        targets += compile_time.report(results, args.cxx, n_enums)

    met = sum(1 for _, ok in targets if ok)
    print(f"\n{met} of {len(targets)} targets met"
          + ("" if met == len(targets) else
             ": missed " + "; ".join(t for t, ok in targets if not ok)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
