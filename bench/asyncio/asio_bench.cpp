// Boost.Asio's side of bench/asyncio/compare.py: asyncio_bench's workloads as C++20 coroutines.
//
//   asio_bench <workload> <n>
//     spawn  co_spawn n trivial coroutines and wait until all of them are done
//     sleep  n coroutines each waiting 1 s on its own steady_timer; reports the memory taken
//     event  n round trips between two coroutines through two events (2n hand-offs)
//
// Prints the same JSON line as asyncio_bench. One io_context run by one thread, created
// with the concurrency hint 1 (one thread: Asio then skips its hand-offs between threads).
// BOOST_ASIO_CONCURRENCY_HINT_UNSAFE, which drops the locking too, measured no faster.
//
// Waiting for the n spawned coroutines: each one's completion handler counts down, and the
// last one sets an event the spawner waits on. That is cheaper than awaiting each one: the
// completion handler runs in place, with no extra coroutine (Boost 1.74 has neither
// experimental::make_parallel_group nor experimental::channel: both came later).
//
// The event: a steady_timer that never expires, whose cancel_one() wakes the waiter, plus a
// flag so that a set() before the wait is not lost: the usual way to signal between Asio
// coroutines before channels.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string_view>

#include "rss.hpp"

namespace {

namespace asio = boost::asio;
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

// asyncio.Event's set/clear/wait, on a timer that never expires (see the top of the file).
class Event {
 public:
  explicit Event(const asio::any_io_executor& ex)
      : m_timer(ex, asio::steady_timer::time_point::max()) {}
  void set() {
    m_set = true;
    m_timer.cancel_one();
  }
  void clear() { m_set = false; }
  [[nodiscard]] bool is_set() const { return m_set; }
  // One wait on the timer, woken by set() (as operation_aborted, which is not an error
  // here). Callers loop: while (!e.is_set()) co_await e.wait_once();
  auto wait_once() { return m_timer.async_wait(asio::redirect_error(asio::use_awaitable, m_ec)); }

 private:
  asio::steady_timer m_timer;
  boost::system::error_code m_ec;
  bool m_set = false;
};

asio::awaitable<void> trivial() { co_return; }

asio::awaitable<void> spawn(std::size_t n, Result& r) {
  auto ex = co_await asio::this_coro::executor;
  r.rss_base_kb = rss_now_kb();
  const auto start = Clock::now();
  Event done(ex);
  std::size_t remaining = n;
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(ex, trivial(), [&](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
      if (--remaining == 0) done.set();
    });
  }
  while (!done.is_set()) co_await done.wait_once();
  r.seconds = since(start);
  r.rss_peak_kb = rss_peak_kb();
}

// spawn twice; the second round's figures (the first warmed the allocator).
asio::awaitable<void> spawn_warm(std::size_t n, Result& r) {
  co_await spawn(n, r);
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_await spawn(n, r);
}

asio::awaitable<void> sleeper() {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(1));
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> sleep_many(std::size_t n, Result& r) {
  auto ex = co_await asio::this_coro::executor;
  r.rss_base_kb = rss_now_kb();
  const auto start = Clock::now();
  Event done(ex);
  std::size_t remaining = n;
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(ex, sleeper(), [&](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
      if (--remaining == 0) done.set();
    });
  }
  while (!done.is_set()) co_await done.wait_once();
  r.seconds = since(start);
  r.rss_peak_kb = rss_peak_kb();
}

asio::awaitable<void> pinger(std::size_t n, Event& mine, Event& theirs) {
  for (std::size_t i = 0; i < n; ++i) {
    theirs.set();
    while (!mine.is_set()) co_await mine.wait_once();
    mine.clear();
  }
}

asio::awaitable<void> ponger(std::size_t n, Event& mine, Event& theirs) {
  for (std::size_t i = 0; i < n; ++i) {
    while (!mine.is_set()) co_await mine.wait_once();
    mine.clear();
    theirs.set();
  }
}

asio::awaitable<void> event_pingpong(std::size_t n, Result& r) {
  auto ex = co_await asio::this_coro::executor;
  Event ping(ex);
  Event pong(ex);
  Event done(ex);
  std::size_t remaining = 2;
  auto finished = [&](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
    if (--remaining == 0) done.set();
  };
  const auto start = Clock::now();
  asio::co_spawn(ex, pinger(n, ping, pong), finished);
  asio::co_spawn(ex, ponger(n, pong, ping), finished);
  while (!done.is_set()) co_await done.wait_once();
  r.seconds = since(start);
}

int usage() {
  std::fputs("usage: asio_bench spawn|spawn-warm|sleep|event N\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  const std::string_view workload = argv[1];
  const auto n = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10));
  if (n == 0) return usage();
  asio::io_context ctx(1);
  Result r;
  asio::awaitable<void> (*body)(std::size_t, Result&) = nullptr;
  if (workload == "spawn") {
    body = spawn;
  } else if (workload == "spawn-warm") {
    body = spawn_warm;
  } else if (workload == "sleep") {
    body = sleep_many;
  } else if (workload == "event") {
    body = event_pingpong;
  } else {
    return usage();
  }
  try {
    asio::co_spawn(ctx, body(n, r), [](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
    });
    ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_bench %s: %s\n", argv[1], e.what());
    return 1;
  }
  std::printf(
      "{\"impl\": \"asio\", \"workload\": \"%s\", \"n\": %zu, \"seconds\": %.9f, "
      "\"rss_base_kb\": %ld, \"rss_peak_kb\": %ld}\n",
      argv[1], n, r.seconds, r.rss_base_kb, r.rss_peak_kb);
  return 0;
}
