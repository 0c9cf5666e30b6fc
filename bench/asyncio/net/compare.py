#!/usr/bin/env python3
"""Runs batteries::asyncio's echo servers and their peers under one load generator on loopback,
and prints round trips a second, the ratios and targets of issue 8, memory per idle connection,
HTTP requests a second under wrk, and (--syscalls) syscalls per round trip.

    python3 bench/asyncio/net/compare.py [--build-dir build/release] [--quick]
        [--duration 5] [--turns 3] [--servers asio,batteries-streams,...]
        [--idle-connections 10000]
        [--syscalls] [--no-echo] [--no-idle] [--no-http]

It builds nothing: it finds the binaries in the build directory (bench/net_loadgen,
bench/net_echo_batteries, bench/net_echo_asio, bench/net_echo_libuv, bench/net_http_asio,
examples/http_hello); a server whose binary or interpreter is missing is reported and
skipped. Build them with
    cmake --build build/release --target net_loadgen net_echo_batteries net_echo_asio \\
        net_echo_libuv net_http_asio http_hello

The servers, all single-threaded, each pinned to core 0 (taskset -c 0): batteries streams
and protocols; Boost.Asio C++20 coroutines; libuv, plain (uv_write of a buffer malloc'd per
read) and with uv_try_write first; CPython's asyncio streams and a Protocol; the same two on
uvloop (Debian's python3-uvloop, importable by /usr/bin/python3 only); and the floor, the
least an epoll echo server can do (net_loadgen --echo-server). Every server prints "PORT <n>"
and serves until SIGTERM.

Echo: the load generator (bench/asyncio/net/loadgen.cpp, pinned to core 1) drives each
server with 100 and 1,000 connections, 64-byte and 4 KiB messages, ping-pong, for --duration
seconds a cell, in --turns runs (3) after a warm-up each. The servers all run at once (idle
but for the one under load) and take turns, run by run and cell by cell, so that a noisy
neighbour, or the host's own changes of pace (on the VM this was written on, the same
server ran at 140k or 210k round trips/s for seconds at a time, with nothing else running
in the guest), hit them alike. A run's figure is the median of the rates of its 0.5 s
slices during which other work on the machine took at most a quarter of a core (the load
generator reads /proc/stat and the server's /proc/PID/stat each slice); with fewer than 3
such slices, the median of all, marked "!". A cell's figure is the median of its runs (of
those not marked, where there are some). Every echo server is primed first: one client sends
one message and leaves (Server.prime says why that matters to CPython, by 2.5x).

Beside each figure, the CPU the server and the load generator took (in cores): a server
below 1 while the load generator is near 1 means the load generator was the bottleneck. On
loopback each side's send pays the other's receive (the kernel's TCP path is ~95% of a round
trip), so against a server as cheap as the floor both cores saturate together: the floor's
figure is the harness's ceiling.

Server keys for --servers: batteries-streams, batteries-protocols, asio, libuv, libuv-try,
cpython-streams, cpython-protocols, uvloop-streams, uvloop-protocols, floor.

Idle memory: a fresh server, primed, its VmRSS, then --idle-connections connections each
answered once and held open; VmRSS and VmHWM (/proc/PID/status) with all of them open, less
the first VmRSS, per connection. Kernel socket buffers are not in either.

HTTP: wrk -t1 -c100 (pinned to core 1) against examples/http_hello and the same responder
in Boost.Asio (by hand) and in Boost.Beast (net_http_asio --beast); each is first checked to
answer two keep-alive requests and a Connection: close with exactly the expected bytes.

--syscalls: perf stat counts the syscalls each server makes (syscall tracepoints, attached
by pid, --per-thread) during a run of 100 connections x 64 bytes, and in the same seconds the
load generator's writes, which are its round trips (it runs on epoll for this: one write a
round trip). strace -c (--strace, or where perf cannot) slows the server and is divided by
the load generator's own count: rougher. The floor is one read and one write per round trip,
plus an epoll_wait shared by every connection that was ready at once.
"""
import argparse
import contextlib
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ECHO_PY = os.path.join(HERE, "echo_cpython.py")

CELLS_CONNECTIONS = (100, 1000)
CELLS_SIZES = (64, 4096)
HEADLINE = (100, 64)  # the cell the targets are set for
CLEAN_SLICES = 3  # fewer slices than this (or than all) free of other work: a run is busy
HTTP_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
                 b"Hello, World!")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The syscalls counted one by one (those an echo server makes); the rest are "other".
SYSCALLS = ("read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
            "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "io_uring_enter",
            "accept4", "close", "futex", "getsockopt", "setsockopt", "clock_gettime")


# --- the servers --------------------------------------------------------------------------------

def find_uvloop_python(candidates):
    """The first interpreter that can import uvloop, as (path, version line), or None."""
    for python in candidates:
        if not python or not shutil.which(python):
            continue
        probe = subprocess.run(
            [python, "-c", "import sys, uvloop; print(uvloop.__version__, sys.version.split()[0])"],
            capture_output=True, text=True)
        if probe.returncode == 0:
            uv, py = probe.stdout.split()
            return python, f"uvloop {uv} on Python {py} ({python})"
    return None


def echo_servers(args, uvloop_python):
    """[(key, title, command or None, why it is missing)], in the order of the table."""
    bench = os.path.join(args.build_dir, "bench")

    def binary(path, *extra, what):
        if os.access(path, os.X_OK):
            return [path, *extra], None
        return None, f"{os.path.relpath(path)} not built ({what})"

    batteries = os.path.join(bench, "net_echo_batteries")
    asio = os.path.join(bench, "net_echo_asio")
    libuv = os.path.join(bench, "net_echo_libuv")
    loadgen = os.path.join(bench, "net_loadgen")
    no_uvloop = "uvloop not importable"
    uv = (lambda *extra: ([uvloop_python, ECHO_PY, "--uvloop", *extra], None)
          if uvloop_python else (None, no_uvloop))
    rows = [
        ("batteries-streams", "batteries streams",
         *binary(batteries, "--mode", "streams", what="target net_echo_batteries")),
        ("batteries-protocols", "batteries protocols",
         *binary(batteries, "--mode", "protocols", what="target net_echo_batteries")),
        ("asio", "Boost.Asio coroutines", *binary(asio, what="target net_echo_asio, Boost")),
        ("libuv", "libuv", *binary(libuv, what="target net_echo_libuv, libuv1-dev")),
        ("libuv-try", "libuv, uv_try_write",
         *binary(libuv, "--try-write", what="target net_echo_libuv, libuv1-dev")),
        ("cpython-streams", "CPython streams", [args.python, ECHO_PY], None),
        ("cpython-protocols", "CPython protocols", [args.python, ECHO_PY, "--protocol"], None),
        ("uvloop-streams", "uvloop streams", *uv()),
        ("uvloop-protocols", "uvloop protocols", *uv("--protocol")),
        ("floor", "epoll floor (loadgen)",
         *binary(loadgen, "--echo-server", what="target net_loadgen")),
    ]
    if args.servers:
        wanted = set(args.servers.split(","))
        unknown = wanted - {key for key, *_ in rows}
        if unknown:
            sys.exit(f"--servers: unknown {', '.join(sorted(unknown))}; "
                     f"known: {', '.join(key for key, *_ in rows)}")
        rows = [row for row in rows if row[0] in wanted]
    return rows


def pinned(cpu, cmd):
    """cmd pinned to cores (taskset's list) where there is taskset and more than one core."""
    if cpu is None or not shutil.which("taskset"):
        return cmd
    return ["taskset", "-c", str(cpu)] + cmd


def raise_nofile():
    """In the child: the soft limit on descriptors raised to the hard one (10,000 sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """A server process: started, its port read off its first line, stopped by SIGTERM.
    prime: an echo server is first sent one message by a client that then leaves."""

    def __init__(self, title, cmd, cpu, prime=False):
        self.title = title
        self.cmd = cmd
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, preexec_fn=raise_nofile)
        self.pid = self.proc.pid  # taskset execs the server: the same process
        self.port = None
        line = read_line(self.proc.stdout, 15)
        match = re.fullmatch(rb"PORT (\d+)\s*", line or b"")
        if not match:
            self.stop()
            raise RuntimeError(f"{title}: expected 'PORT <n>', got {line!r}{self.error_tail()}")
        self.port = int(match.group(1))
        if prime:
            try:
                self.prime()
            except RuntimeError:
                self.stop()
                raise

    def prime(self):
        """One echo, then a hang-up: the state any server is in once a client has left. It
        matters to CPython: asyncio reads into a 256 KiB bytes object, which glibc serves with
        mmap (and mremap, munmap) until a freed chunk that large raises its mmap threshold,
        and the first such free is a read that meets EOF. Fresh, CPython's echo pays three
        syscalls more per read and runs about 2.5x slower, and which cells ran fresh would
        depend on the order of the runs."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(b"ping")
                got = b""
                while len(got) < 4:
                    chunk = s.recv(4 - len(got))
                    if not chunk:
                        break
                    got += chunk
        except OSError as e:
            raise RuntimeError(f"{self.title}: the priming echo failed: {e}") from e
        if got != b"ping":
            raise RuntimeError(f"{self.title}: the priming echo sent back {got!r}")
        time.sleep(0.05)  # for the server to see the hang-up

    def alive(self):
        return self.proc.poll() is None

    def error_tail(self):
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        return f"\n  its stderr: {text[-800:]}" if text else ""

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s. Returns an error line, or None when it exited 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return f"{self.title}: did not exit within 15 s of SIGTERM"
        if self.proc.returncode != 0:
            return f"{self.title}: exited {self.proc.returncode}{self.error_tail()}"
        return None


def read_line(stream, timeout):
    """One line from a pipe, or None after `timeout` seconds or at its end."""
    deadline = time.monotonic() + timeout
    line = b""
    fd = stream.fileno()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return line or None
        line += chunk
    return line


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid, key):
    """A line of /proc/PID/status in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


# --- the load -----------------------------------------------------------------------------------

@contextlib.contextmanager
def reaped(proc):
    """A child process that is killed if it is still running when the block is left (by an
    exception or ^C as well)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse_result(line):
    """RESULT k=v k=v ... as a dict (numbers where they are numbers)."""
    out = {}
    for item in line.split()[1:]:
        key, _, value = item.partition("=")
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def ping_pong(args, server, connections, size, duration, warmup, on_warm=None, engine=None):
    """One load-generator run against a running server: the RESULT as a dict, plus
    server_cpu (cores, over the measured seconds); or {"error": ...}. on_warm(pid of the
    load generator) is called as the measured seconds start, and what it returns, with the
    result, as they end."""
    cmd = pinned(args.client_cpu, [args.loadgen, "--port", str(server.port),
                                   "--connections", str(connections), "--size", str(size),
                                   "--duration", str(duration), "--warmup", str(warmup),
                                   "--server-pid", str(server.pid),
                                   "--threads", str(args.loadgen_threads)]
                 + (["--engine", engine] if engine else []))
    start = None
    hook = None
    result = None
    limit = 90 + warmup + duration
    with reaped(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 preexec_fn=raise_nofile)) as proc:
        while True:
            line = read_line(proc.stdout, limit)
            if line is None:
                break
            if line.startswith(b"WARM"):
                start = (time.monotonic(), cpu_seconds(server.pid))
                if on_warm:
                    hook = on_warm(proc.pid)
            elif line.startswith(b"RESULT"):
                result = parse_result(line.decode())
                if start and server.alive():
                    wall = time.monotonic() - start[0]
                    result["server_cpu"] = (cpu_seconds(server.pid) - start[1]) / wall
                if result.get("clean_slices", 0) >= min(CLEAN_SLICES, result.get("slices", 0)):
                    result["figure"], result["busy"] = result["clean"], False
                else:
                    result["figure"], result["busy"] = result["median"], True
        if hook:
            result = hook(result)
        _, err = proc.communicate(timeout=30)
    if result is None or proc.returncode != 0 or result.get("errors"):
        why = err.decode(errors="replace").strip().splitlines()[-3:]
        return {"error": f"loadgen exited {proc.returncode}: {' | '.join(why)}"}
    return result


def run_echo(args, servers):
    """{(key, connections, size): [results]}: the servers all started, then taking turns."""
    results = {}
    running = {}
    failures = []
    try:
        for key, title, cmd, _ in servers:
            try:
                running[key] = Server(title, cmd, args.server_cpu, prime=True)
            except RuntimeError as e:
                failures.append(f"{title} failed to start: {e}")
        order = list(running.items())
        for turn in range(args.turns):
            # Each turn in another order, so that no server always follows the same one.
            turn_order = order[turn % len(order):] + order[:turn % len(order)] if order else []
            for connections in CELLS_CONNECTIONS:
                for size in CELLS_SIZES:
                    for key, server in turn_order:
                        if not server.alive():
                            continue
                        r = ping_pong(args, server, connections, size, args.duration / args.turns,
                                      args.warmup)
                        if "error" in r:
                            failures.append(f"{server.title} {connections}x{size} B failed: "
                                            f"{r['error']}")
                            continue
                        results.setdefault((key, connections, size), []).append(r)
    finally:
        for key, server in running.items():
            err = server.stop()
            if err:
                failures.append(f"{err} (failed)")
    return results, failures


def median_of(records, field):
    values = [r[field] for r in records if field in r]
    return statistics.median(values) if values else None


def cell_figure(records):
    """(round trips/s, busy) of a cell: the median over its runs that had enough slices free
    of other work, or, when none had, over all of them, marked busy."""
    quiet = [r for r in records if not r["busy"]]
    return median_of(quiet or records, "figure"), not quiet


def print_echo(servers, results, args):
    head = f"{'server':<24}" + "".join(f"{f'{c:,} x {s:,} B':>16}" for c in CELLS_CONNECTIONS
                                        for s in CELLS_SIZES)
    shared = []  # the cores other work took, per cell
    print("round trips/s (below: cores taken, server/loadgen; ! a busy machine)")
    print(head)
    print("-" * len(head))
    for key, title, cmd, missing in servers:
        if cmd is None:
            print(f"{title:<24}  n/a: {missing}")
            continue
        row, cpu = f"{title:<24}", f"{'':<24}"
        for c in CELLS_CONNECTIONS:
            for s in CELLS_SIZES:
                recs = results.get((key, c, s))
                if not recs:
                    row += f"{'failed':>16}"
                    cpu += f"{'':>16}"
                    continue
                figure, busy = cell_figure(recs)
                row += f"{figure:>16,.0f}"
                srv, lg = median_of(recs, "server_cpu"), median_of(recs, "cpu")
                busy = "!" if busy else " "
                cpu += f"{f'({srv:.2f}/{lg:.2f}){busy}' if srv is not None else '':>16}"
                shared.append((median_of(recs, "others") or 0, busy == "!"))
        print(row)
        print(cpu)
    if shared:
        marked = sum(1 for _, busy in shared if busy)
        print(f"\nother work on the machine took {statistics.mean(o for o, _ in shared):.2f} "
              f"cores on average while a cell ran. A run's figure is the median of its slices "
              f"(0.5 s) during which that was at most 0.25 of a core; {marked} of {len(shared)} "
              f"cells had too few such slices in every run: marked !, they show the median of "
              f"all slices (low: rerun them on a quiet machine)")
    engines = {r.get("engine") for recs in results.values() for r in recs}
    print(f"\nloadgen engine: {', '.join(sorted(str(e) for e in engines)) or 'n/a'}; "
          f"{args.duration:g} s per cell in {args.turns} run(s), each after {args.warmup:g} s "
          f"of warm-up")


def verdict(ok):
    return "met" if ok else "MISSED"


def print_targets(results, quick):
    """Issue 8's targets, at 100 connections x 64 bytes; each line names its pair."""
    c, s = HEADLINE

    busy = set()

    def rtps(key):
        recs = results.get((key, c, s))
        if not recs:
            return None
        figure, marked = cell_figure(recs)
        if marked:
            busy.add(key)
        return figure

    print(f"\ntargets (issue 8), {c} connections x {s} B:")
    streams, protocols = rtps("batteries-streams"), rtps("batteries-protocols")
    libuv = {k: rtps(k) for k in ("libuv", "libuv-try") if rtps(k)}
    faster = max(libuv, key=libuv.get) if libuv else None
    pairs = [
        ("streams: batteries / Boost.Asio", "batteries-streams", "asio", 1.0),
        (f"streams: batteries / {'libuv, uv_try_write' if faster == 'libuv-try' else 'libuv'} "
         f"(the faster libuv)", "batteries-streams", faster, 1.0),
        ("streams: batteries / CPython streams", "batteries-streams", "cpython-streams", 4.0),
        ("streams: batteries / uvloop streams", "batteries-streams", "uvloop-streams", None),
        ("protocols: batteries / uvloop protocols", "batteries-protocols", "uvloop-protocols",
         1.1),
        ("streams: batteries / the epoll floor", "batteries-streams", "floor", None),
        ("protocols: batteries / the epoll floor", "batteries-protocols", "floor", None),
    ]
    for label, ours, theirs, target in pairs:
        mine = streams if ours == "batteries-streams" else protocols
        other = rtps(theirs) if theirs else None
        if not mine or not other:
            print(f"{label} = n/a")
            continue
        r = mine / other
        if busy & {ours, theirs}:
            print(f"{label} = {r:.2f}x (! measured on a busy machine: not held to a target)")
            continue
        aim = f" (target >= {target:.1f}x): {verdict(r >= target)}" if target else ""
        print(f"{label} = {r:.2f}x{aim}")
    if quick:
        print("(--quick: runs too short to hold the targets to)")


def print_bottleneck(results):
    """Whether the load generator, rather than the server, was what saturated."""
    worst = []
    for (key, c, s), recs in results.items():
        srv, lg = median_of(recs, "server_cpu"), median_of(recs, "cpu")
        if srv is not None and lg is not None and lg > 0.9 and srv < 0.9:
            worst.append(f"{key} {c}x{s} B (server {srv:.2f}, loadgen {lg:.2f})")
    if worst:
        print("\nloadgen-bound (loadgen near a full core, the server not): " + "; ".join(worst))
    else:
        print("\nno cell was loadgen-bound (none had the loadgen above 0.9 of a core with the "
              "server below 0.9)")
    floor = results.get(("floor",) + HEADLINE)
    if floor:
        srv, lg = median_of(floor, "server_cpu"), median_of(floor, "cpu")
        print(f"the harness's ceiling: the epoll floor made {median_of(floor, 'figure'):,.0f} "
              f"round trips/s at {HEADLINE[0]} x {HEADLINE[1]} B, with the server at {srv:.2f} "
              f"and the loadgen at {lg:.2f} cores: each side's send pays the other's loopback "
              f"receive, so a server near the floor saturates both cores, and figures within a "
              f"few % of the floor cannot be told apart")


# --- idle memory --------------------------------------------------------------------------------

def run_idle(args, servers):
    """{key: (base KiB, rss KiB, hwm KiB, connections)}: a fresh server per measurement."""
    out, failures = {}, []
    for key, title, cmd, _ in servers:
        if cmd is None:
            continue
        try:
            server = Server(title, cmd, args.server_cpu, prime=True)
        except RuntimeError as e:
            failures.append(f"{title} failed to start: {e}")
            continue
        try:
            time.sleep(0.2)
            base = status_kb(server.pid, "VmRSS")
            n = args.idle_connections
            with reaped(subprocess.Popen(
                    pinned(args.client_cpu, [args.loadgen, "--port", str(server.port), "--idle",
                                             str(n), "--hold", "120"]),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    preexec_fn=raise_nofile)) as proc:
                line = read_line(proc.stdout, 120) or b""
                if line.startswith(b"READY") and server.alive():
                    time.sleep(0.2)
                    rss, hwm = status_kb(server.pid, "VmRSS"), status_kb(server.pid, "VmHWM")
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=60)
            if proc.returncode != 0 or not line.startswith(b"READY"):
                failures.append(f"{title} idle x{n} failed: {line.decode().strip()} "
                                f"{err.decode(errors='replace').strip()[-300:]}")
            else:
                out[key] = (base, rss, hwm, n)
        finally:
            err = server.stop()
            if err:
                failures.append(f"{err} (failed)")
    return out, failures


def print_idle(servers, idle):
    if not idle:
        return
    n = next(iter(idle.values()))[3]
    print(f"\nidle memory, {n:,} connections open (KiB per connection; VmRSS before them)")
    head = f"{'server':<24}{'VmRSS before':>14}{'now':>10}{'peak':>10}"
    print(head)
    print("-" * len(head))
    for key, title, cmd, _ in servers:
        if key not in idle:
            continue
        base, rss, hwm, n = idle[key]
        print(f"{title:<24}{base:>11,} KiB{(rss - base) / n:>10.2f}{(hwm - base) / n:>10.2f}")
    for key in ("batteries-streams", "batteries-protocols"):
        if key in idle:
            base, rss, hwm, n = idle[key]
            per = (hwm - base) / n
            print(f"idle: {key.replace('-', ' ')}: {per:.2f} KiB per connection at peak "
                  f"(target <= 4 KiB): {verdict(per <= 4)}")


# --- HTTP ---------------------------------------------------------------------------------------

def http_servers(args):
    asio = os.path.join(args.build_dir, "bench", "net_http_asio")
    hello = os.path.join(args.build_dir, "examples", "http_hello")
    rows = [("batteries", "batteries http_hello", [hello]),
            ("asio", "Boost.Asio (by hand)", [asio]),
            ("beast", "Boost.Beast", [asio, "--beast"])]
    return [(k, t, c if os.access(c[0], os.X_OK) else None, f"{os.path.relpath(c[0])} not built")
            for k, t, c in rows]


def check_http(port):
    """The responder's contract: two keep-alive requests on one connection, then one with
    Connection: close, each answered with exactly HTTP_RESPONSE; an error line, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for close in (False, False, True):
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                          + (b"Connection: close\r\n" if close else b"") + b"\r\n")
                got = b""
                while len(got) < len(HTTP_RESPONSE):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                if got != HTTP_RESPONSE:
                    return f"response {got[:120]!r} is not the expected one"
            if s.recv(4096) != b"":
                return "the connection stayed open after Connection: close"
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    return None


def run_http(args):
    """{key: (requests/s, server cores)} under wrk, and failures."""
    out, failures = {}, []
    wrk = shutil.which("wrk")
    for key, title, cmd, missing in http_servers(args):
        if cmd is None:
            continue
        server = Server(title, cmd, args.server_cpu)
        try:
            problem = check_http(server.port)
            if problem:
                failures.append(f"{title}: MISMATCH: {problem}")
                continue
            if not wrk:
                continue
            start = (time.monotonic(), cpu_seconds(server.pid))
            proc = subprocess.run(
                pinned(args.client_cpu, [wrk, "-t1", "-c100", f"-d{args.http_duration}s",
                                         f"http://127.0.0.1:{server.port}/"]),
                capture_output=True, text=True, timeout=args.http_duration + 60)
            cores = (cpu_seconds(server.pid) - start[1]) / (time.monotonic() - start[0])
            m = re.search(r"Requests/sec:\s*([\d.]+)", proc.stdout)
            bad = re.search(r"(Socket errors:.*|Non-2xx or 3xx responses:.*)", proc.stdout)
            if not m or proc.returncode != 0:
                failures.append(f"{title}: wrk failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")
            else:
                out[key] = (float(m.group(1)), cores, bad.group(1) if bad else "")
        finally:
            err = server.stop()
            if err:
                failures.append(f"{err} (failed)")
    return out, failures


def print_http(args, http):
    print(f"\nHTTP/1.1 keep-alive hello, wrk -t1 -c100 -d{args.http_duration}s "
          f"{'(wrk not installed: contract checks only)' if not shutil.which('wrk') else ''}")
    for key, title, cmd, missing in http_servers(args):
        if cmd is None:
            print(f"{title:<24}  n/a: {missing}")
        elif key in http:
            rps, cores, bad = http[key]
            print(f"{title:<24}{rps:>12,.0f} requests/s  (server {cores:.2f} cores) {bad}")
    ours = http.get("batteries")
    for key, label in (("asio", "Boost.Asio (by hand)"), ("beast", "Boost.Beast")):
        if ours and key in http:
            print(f"http: batteries / {label} = {ours[0] / http[key][0]:.2f}x")


# --- syscalls -----------------------------------------------------------------------------------

def perf_events():
    """The syscall tracepoints perf can count here, or None where perf cannot (no perf, no
    tracefs, not allowed)."""
    perf = shutil.which("perf")
    if not perf:
        return None
    probe = subprocess.run([perf, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or "raw_syscalls:sys_enter" not in probe.stderr:
        return None
    listed = subprocess.run([perf, "list", "--raw-dump", "tracepoint"], capture_output=True,
                            text=True).stdout.split()
    return [f"syscalls:sys_enter_{name}" for name in SYSCALLS
            if f"syscalls:sys_enter_{name}" in listed]


def count_syscalls(args, server, events):
    """Runs 100 x 64 B against the server with its syscalls counted over the measured
    seconds: ({syscall: count per round trip}, round trips/s, tool), or an error line.

    With perf, the load generator runs on epoll and is counted too: its writes, one a round
    trip, are the round trips of exactly the seconds perf counted. strace -c, which slows the
    server down, counts the whole measured run and divides by the load generator's count."""
    seconds = args.syscall_seconds
    out = tempfile.NamedTemporaryFile(suffix=".txt", delete=False)
    out.close()
    if events is not None:
        tool = "perf stat"
        events = list(dict.fromkeys(events + ["syscalls:sys_enter_write"]))
    elif shutil.which("strace"):
        tool = "strace -c"
    else:
        return "neither perf nor strace is usable"
    tracer = {}

    def start(loadgen_pid):
        if tool == "perf stat":
            tracer["client"] = set(os.listdir(f"/proc/{loadgen_pid}/task"))
            cmd = ["perf", "stat", "-x,", "--per-thread", "-o", out.name,
                   "-e", ",".join(["raw_syscalls:sys_enter"] + events),
                   "-p", f"{server.pid},{loadgen_pid}", "--", "sleep", str(seconds)]
        else:
            cmd = ["strace", "-c", "-f", "-o", out.name, "-p", str(server.pid)]
        tracer["proc"] = tracer["stack"].enter_context(reaped(subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))

        def finish(result):
            proc = tracer["proc"]
            if tool == "strace -c":  # it counts until told to stop: the whole measured run
                proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
            return result
        return finish

    # With perf, the load runs half a second longer than the count, so that the count, which
    # starts a little after the load's measured seconds do (perf attaching), ends inside them.
    c, s = HEADLINE
    with contextlib.ExitStack() as tracer["stack"]:
        r = ping_pong(args, server, c, s, seconds + (0.5 if tool == "perf stat" else 0),
                      args.warmup, on_warm=start, engine="epoll" if tool == "perf stat" else None)
    with open(out.name) as f:
        text = f.read()
    os.unlink(out.name)
    if "error" in r:
        return r["error"]
    counts = {}
    if tool == "perf stat":
        rounds = 0
        for line in text.splitlines():
            fields = line.strip().split(",")  # comm-tid, count, unit, event, ...
            if len(fields) < 4 or not fields[1].isdigit():
                continue
            name = fields[3].replace("raw_syscalls:sys_enter", "total")
            name = name.replace("syscalls:sys_enter_", "")
            if fields[0].rsplit("-", 1)[-1] in tracer["client"]:
                if name == "write":
                    rounds += int(fields[1])
            else:
                counts[name] = counts.get(name, 0) + int(fields[1])
    else:
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[-1] != "total" and fields[3].isdigit():
                counts[fields[-1]] = int(fields[3])
        counts["total"] = sum(counts.values())
        rounds = r["rtps"] * r["seconds"]
    if not rounds:
        return f"{tool} counted no round trips"
    return {k: v / rounds for k, v in counts.items() if v}, r["rtps"], tool


def run_syscalls(args, servers):
    events = None if args.strace else perf_events()
    wanted = ("batteries-streams", "batteries-protocols", "asio", "libuv-try", "uvloop-protocols",
              "floor")
    out, failures = {}, []
    for key, title, cmd, _ in servers:
        if cmd is None or key not in wanted:
            continue
        server = Server(title, cmd, args.server_cpu, prime=True)
        try:
            got = count_syscalls(args, server, events)
            if isinstance(got, str):
                failures.append(f"{title} syscalls failed: {got}")
            else:
                out[key] = got
        finally:
            err = server.stop()
            if err:
                failures.append(f"{err} (failed)")
    return out, failures


def print_syscalls(servers, counted):
    if not counted:
        return
    tool = next(iter(counted.values()))[2]
    c, s = HEADLINE
    print(f"\nsyscalls per round trip, server side ({tool}, {c} connections x {s} B)")
    for key, title, *_ in servers:
        if key not in counted:
            continue
        per, rtps, _ = counted[key]
        total = per.pop("total", sum(per.values()))
        named = sum(per.values())
        parts = [f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])
                 if v >= 0.005]
        if total - named >= 0.005 and tool == "perf stat":
            parts.append(f"other {total - named:.2f}")
        print(f"{title:<24}{total:>6.2f}  ({', '.join(parts)}) at {rtps:,.0f} round trips/s")
    print("floor: one read and one write per round trip, and epoll_wait's share "
          "(one call for all the connections ready at once): 2 + 1/batch")


# --- main ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"),
                        help="where the binaries are (default build/release)")
    parser.add_argument("--python", default=sys.executable,
                        help="the CPython for asyncio's own loop (default: this one)")
    parser.add_argument("--uvloop-python", action="append",
                        help="an interpreter to try for uvloop (default: this one, then "
                             "/usr/bin/python3)")
    parser.add_argument("--servers", help="comma-separated keys of the echo servers to run")
    parser.add_argument("--duration", type=float,
                        help="measured seconds per cell (default 5; 0.5 quick)")
    parser.add_argument("--turns", type=int,
                        help="runs the cell's seconds are split into, the servers taking turns "
                             "(default 3; 1 quick)")
    parser.add_argument("--warmup", type=float,
                        help="seconds of warm-up before each run (default 0.3; 0.25 quick)")
    parser.add_argument("--idle-connections", type=int,
                        help="connections held open for the memory figure (default 10,000; "
                             "1,000 quick)")
    parser.add_argument("--http-duration", type=int, help="wrk's seconds (default 5; 1 quick)")
    parser.add_argument("--syscall-seconds", type=float,
                        help="seconds counted for --syscalls (default 2; 0.5 quick)")
    parser.add_argument("--syscalls", action="store_true",
                        help="also count syscalls per round trip")
    parser.add_argument("--strace", action="store_true",
                        help="count them with strace -c even where perf stat works")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo round trips")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle-memory figure")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    parser.add_argument("--server-cpu", default="0", help="taskset's core list for the "
                        "servers (default 0)")
    parser.add_argument("--client-cpu", default="1", help="taskset's core list for the load "
                        "generator and wrk (default 1)")
    parser.add_argument("--loadgen-threads", type=int, default=1,
                        help="the load generator's threads (default 1: one core each side)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    args = parser.parse_args()

    args.build_dir = os.path.abspath(args.build_dir)
    args.duration = args.duration or (0.5 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.25 if args.quick else 0.3)
    args.turns = max(1, args.turns or (1 if args.quick else 3))
    args.idle_connections = args.idle_connections or (1000 if args.quick else 10000)
    args.http_duration = args.http_duration or (1 if args.quick else 5)
    args.syscall_seconds = args.syscall_seconds or (0.5 if args.quick else 2.0)
    if (os.cpu_count() or 1) < 2:
        args.server_cpu = args.client_cpu = None
    args.loadgen = os.path.join(args.build_dir, "bench", "net_loadgen")
    if not os.access(args.loadgen, os.X_OK):
        print(f"net_loadgen not built in {args.build_dir}: batteries failed to run anything")
        return 1

    uv = find_uvloop_python(args.uvloop_python or [sys.executable, "/usr/bin/python3"])
    servers = echo_servers(args, uv[0] if uv else None)
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print("asyncio networking: echo servers on loopback, one thread each (issue 8)")
    print(f"  build: {args.build_dir}")
    print(f"  CPython {version} ({args.python}); {uv[1] if uv else 'uvloop: n/a (not importable)'}")
    where = ("unpinned (one core)" if args.server_cpu is None else
             f"servers on CPU {args.server_cpu}, load generator on CPU {args.client_cpu}")
    print(f"  {where}; load average {os.getloadavg()[0]:.2f} at the start")
    for key, title, cmd, missing in servers:
        if cmd is None:
            print(f"  {title}: skipped, {missing}")
    print()

    runnable = [row for row in servers if row[2] is not None]
    failures = []
    if not args.no_echo:
        results, failed = run_echo(args, runnable)
        failures += failed
        print_echo(servers, results, args)
        print_targets(results, args.quick)
        print_bottleneck(results)
    if not args.no_idle:
        idle, failed = run_idle(args, runnable)
        failures += failed
        print_idle(servers, idle)
    if not args.no_http:
        http, failed = run_http(args)
        failures += failed
        print_http(args, http)
    if args.syscalls:
        counted, failed = run_syscalls(args, runnable)
        failures += failed
        print_syscalls(servers, counted)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    if failures:
        print()
        for line in failures:
            print(line)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
