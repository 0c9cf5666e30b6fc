// batteries::asyncio's side of bench/asyncio/compare.py: one workload per process, timed in it.
//
//   asyncio_bench <workload> <n>
//     spawn  create n trivial tasks and await them all through gather()
//     spawn-warm  spawn twice in one loop and time the second round, whose frames and ready
//            queue reuse the first's memory: the cost without the kernel's first touch
//     touch  n bytes of fresh memory, in 256 KiB blocks, one write per 4 KiB page: what the
//            kernel charges for supplying the memory a cold spawn takes (compare.py passes
//            spawn's resident-set growth), with no event loop at all
//     sleep  n tasks each sleeping 1 s, gathered; reports the resident memory they took
//     event  n round trips between two tasks through two Events (2n hand-offs)
//     queue  n round trips between two tasks through two Queues (2n hand-offs)
//
// Prints one JSON line: {"impl", "workload", "n", "seconds", "rss_base_kb", "rss_peak_kb"}.
// bench/asyncio/peers.py prints the same line for CPython's asyncio and uvloop, and
// asio_bench for Boost.Asio, so compare.py reads them all alike.
#include <batteries/asyncio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "rss.hpp"

namespace {

namespace aio = batteries::asyncio;
using Clock = std::chrono::steady_clock;

using bench::rss_now_kb;
using bench::rss_peak_kb;

struct Result {
  double seconds = 0;
  long rss_base_kb = 0;
  long rss_peak_kb = 0;
};

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

aio::Task<void> trivial() { co_return; }

// Python: await asyncio.gather(*[trivial() for _ in range(n)]). gather() schedules them.
aio::Task<Result> spawn(std::size_t n) {
  Result r;
  r.rss_base_kb = rss_now_kb();
  const auto start = Clock::now();
  std::vector<aio::Task<void>> tasks;
  tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(trivial());
  auto results = co_await aio::gather(std::move(tasks));
  r.seconds = since(start);
  r.rss_peak_kb = rss_peak_kb();
  if (results.size() != n) throw std::runtime_error("gather lost results");
  co_return r;
}

// The same, a second time in the same loop: the frames and the ready queue's buffer of the
// first round are reused, so no fresh memory is touched and no page faults are taken.
aio::Task<Result> spawn_warm(std::size_t n) {
  co_await spawn(n);
  co_await aio::sleep(0);  // the first round's tasks are freed once this task has yielded
  co_return co_await spawn(n);
}

aio::Task<void> sleeper() { co_await aio::sleep(1.0); }

// Python: await asyncio.gather(*[sleeper() for _ in range(n)]), each awaiting asyncio.sleep(1).
// The peak resident set, less the baseline, is what the n sleeping tasks take.
aio::Task<Result> sleep_many(std::size_t n) {
  Result r;
  r.rss_base_kb = rss_now_kb();
  const auto start = Clock::now();
  std::vector<aio::Task<void>> tasks;
  tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(sleeper());
  auto results = co_await aio::gather(std::move(tasks));
  r.seconds = since(start);
  r.rss_peak_kb = rss_peak_kb();
  if (results.size() != n) throw std::runtime_error("gather lost results");
  co_return r;
}

// The ping-pong through Events: each side sets the other's event, then waits for its own.
aio::Task<void> event_pinger(std::size_t n, aio::Event& mine, aio::Event& theirs) {
  for (std::size_t i = 0; i < n; ++i) {
    theirs.set();
    co_await mine.wait();
    mine.clear();
  }
}

aio::Task<void> event_ponger(std::size_t n, aio::Event& mine, aio::Event& theirs) {
  for (std::size_t i = 0; i < n; ++i) {
    co_await mine.wait();
    mine.clear();
    theirs.set();
  }
}

aio::Task<Result> event_pingpong(std::size_t n) {
  Result r;
  aio::Event ping;
  aio::Event pong;
  const auto start = Clock::now();
  auto a = aio::create_task(event_pinger(n, ping, pong));
  auto b = aio::create_task(event_ponger(n, pong, ping));
  co_await a;
  co_await b;
  r.seconds = since(start);
  co_return r;
}

// The ping-pong through unbounded Queues: put never waits, get waits for the other side.
aio::Task<void> queue_pinger(std::size_t n, aio::Queue<std::size_t>& in,
                             aio::Queue<std::size_t>& out) {
  for (std::size_t i = 0; i < n; ++i) {
    co_await out.put(i);
    if (co_await in.get() != i) throw std::runtime_error("queue reordered");
  }
}

aio::Task<void> queue_ponger(std::size_t n, aio::Queue<std::size_t>& in,
                             aio::Queue<std::size_t>& out) {
  for (std::size_t i = 0; i < n; ++i) co_await out.put(co_await in.get());
}

aio::Task<Result> queue_pingpong(std::size_t n) {
  Result r;
  aio::Queue<std::size_t> ping;
  aio::Queue<std::size_t> pong;
  const auto start = Clock::now();
  auto a = aio::create_task(queue_pinger(n, ping, pong));
  auto b = aio::create_task(queue_ponger(n, pong, ping));
  co_await a;
  co_await b;
  r.seconds = since(start);
  co_return r;
}

Result touch(std::size_t bytes) {
  constexpr std::size_t kBlock = std::size_t{256} * 1024;
  constexpr std::size_t kPage = 4096;
  Result r;
  r.rss_base_kb = rss_now_kb();
  std::vector<char*> blocks;
  blocks.reserve(bytes / kBlock + 1);
  const auto start = Clock::now();
  for (std::size_t done = 0; done < bytes; done += kBlock) {
    auto* block = static_cast<char*>(::operator new(kBlock));
    for (std::size_t at = 0; at < kBlock; at += kPage) {
      *static_cast<volatile char*>(block + at) = 1;
    }
    blocks.push_back(block);
  }
  r.seconds = since(start);
  r.rss_peak_kb = rss_peak_kb();
  for (char* block : blocks) ::operator delete(block);
  return r;
}

int usage() {
  std::fputs("usage: asyncio_bench spawn|spawn-warm|touch|sleep|event|queue N\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  const std::string_view workload = argv[1];
  const auto n = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10));
  if (n == 0) return usage();
  Result r;
  try {
    if (workload == "spawn") {
      r = aio::run(spawn(n));
    } else if (workload == "spawn-warm") {
      r = aio::run(spawn_warm(n));
    } else if (workload == "touch") {
      r = touch(n);
    } else if (workload == "sleep") {
      r = aio::run(sleep_many(n));
    } else if (workload == "event") {
      r = aio::run(event_pingpong(n));
    } else if (workload == "queue") {
      r = aio::run(queue_pingpong(n));
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asyncio_bench %s: %s\n", argv[1], e.what());
    return 1;
  }
  std::printf(
      "{\"impl\": \"batteries\", \"workload\": \"%s\", \"n\": %zu, \"seconds\": %.9f, "
      "\"rss_base_kb\": %ld, \"rss_peak_kb\": %ld}\n",
      argv[1], n, r.seconds, r.rss_base_kb, r.rss_peak_kb);
  return 0;
}
