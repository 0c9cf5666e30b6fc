#!/usr/bin/env python3
"""The Python side of bench/asyncio/compare.py: asyncio_bench's workloads in asyncio.

    python3 peers.py [--uvloop] spawn|spawn-warm|sleep|event|queue N

One workload per process, timed inside the running loop, printed as the JSON line the C++
binaries print. --uvloop runs it on uvloop's loop instead of asyncio's own (uvloop must be
importable: Debian's python3-uvloop is for Debian's /usr/bin/python3).
"""
import argparse
import asyncio
import json
import sys
import time


def proc_status_kb(key):
    """A line of /proc/self/status in KiB ("VmRSS:", "VmHWM:"). Not getrusage()'s ru_maxrss,
    which Linux carries over execve() from the parent (bench/asyncio/rss.hpp says more)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line[len(key):].split()[0])
    return -1


def rss_now_kb():
    """The resident set now, in KiB (the baseline before a workload)."""
    return proc_status_kb("VmRSS:")


def rss_peak_kb():
    """The peak resident set so far, in KiB."""
    return proc_status_kb("VmHWM:")


async def trivial():
    pass


async def spawn(n):
    base = rss_now_kb()
    start = time.perf_counter()
    results = await asyncio.gather(*[trivial() for _ in range(n)])
    seconds = time.perf_counter() - start
    assert len(results) == n
    return seconds, base, rss_peak_kb()


async def spawn_warm(n):
    """spawn twice; the second round's figures (the first warmed the allocator)."""
    await spawn(n)
    await asyncio.sleep(0)
    return await spawn(n)


async def sleeper():
    await asyncio.sleep(1)


async def sleep_many(n):
    base = rss_now_kb()
    start = time.perf_counter()
    results = await asyncio.gather(*[sleeper() for _ in range(n)])
    seconds = time.perf_counter() - start
    assert len(results) == n
    return seconds, base, rss_peak_kb()


async def event_pinger(n, mine, theirs):
    for _ in range(n):
        theirs.set()
        await mine.wait()
        mine.clear()


async def event_ponger(n, mine, theirs):
    for _ in range(n):
        await mine.wait()
        mine.clear()
        theirs.set()


async def event_pingpong(n):
    ping, pong = asyncio.Event(), asyncio.Event()
    start = time.perf_counter()
    await asyncio.gather(event_pinger(n, ping, pong), event_ponger(n, pong, ping))
    return time.perf_counter() - start, 0, 0


async def queue_pinger(n, inbox, outbox):
    for i in range(n):
        await outbox.put(i)
        if await inbox.get() != i:
            raise AssertionError("queue reordered")


async def queue_ponger(n, inbox, outbox):
    for _ in range(n):
        await outbox.put(await inbox.get())


async def queue_pingpong(n):
    ping, pong = asyncio.Queue(), asyncio.Queue()
    start = time.perf_counter()
    await asyncio.gather(queue_pinger(n, ping, pong), queue_ponger(n, pong, ping))
    return time.perf_counter() - start, 0, 0


WORKLOADS = {"spawn": spawn, "spawn-warm": spawn_warm, "sleep": sleep_many, "event": event_pingpong,
             "queue": queue_pingpong}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("n", type=int)
    args = parser.parse_args()
    if args.uvloop:
        import uvloop
        loop_factory, impl = uvloop.new_event_loop, "uvloop"
    else:
        loop_factory, impl = None, "cpython"
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        seconds, base, peak = runner.run(WORKLOADS[args.workload](args.n))
    print(json.dumps({"impl": impl, "workload": args.workload, "n": args.n,
                      "seconds": seconds, "rss_base_kb": base, "rss_peak_kb": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
