// The cost of one select() call with N registered descriptors, one of them ready, for each
// selector implementation. bench/selectors/compare.py runs Python on the same workload.
#include <batteries/selectors.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "fds.hpp"

namespace {

namespace sel = batteries::selectors;
using batteries::testing::SocketPair;

// N descriptors (N/2 socketpairs, both ends registered for reading); one is readable.
struct Workload {
  explicit Workload(std::size_t n) : pairs(n / 2) {}
  std::vector<SocketPair> pairs;
};

template <class Selector>
bool setup(benchmark::State& state, Selector& selector, Workload& work) {
  for (auto& pair : work.pairs) {
    selector.register_(pair.a.get(), sel::EVENT_READ);
    selector.register_(pair.b.get(), sel::EVENT_READ);
  }
  work.pairs[work.pairs.size() / 2].b.write("x");
  if (selector.select(0).size() != 1) {
    state.SkipWithError("expected exactly one ready descriptor");
    return false;
  }
  return true;
}

bool too_many_for(benchmark::State& state, std::size_t n) {
  if (!batteries::testing::raise_fd_limit(n + 64)) {
    state.SkipWithError("RLIMIT_NOFILE is too low");
    return true;
  }
  return false;
}

// The Python-shaped call: a fresh vector of (SelectorKey, Events) pairs each time.
template <class Selector>
void BM_select(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (too_many_for(state, n)) return;
  Workload work(n);
  Selector selector;
  if (!setup(state, selector, work)) return;
  for (auto _ : state) {
    auto ready = selector.select(0);
    benchmark::DoNotOptimize(ready.data());
  }
}

// The hot-path call: pointers into the selector, written into a reused buffer.
template <class Selector>
void BM_select_into(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (too_many_for(state, n)) return;
  Workload work(n);
  Selector selector;
  if (!setup(state, selector, work)) return;
  std::vector<sel::BaseSelector::ReadyRef> ready;
  for (auto _ : state) {
    selector.select(ready, std::chrono::nanoseconds(0));
    benchmark::DoNotOptimize(ready.data());
  }
}

#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
// The kernel's floor: a bare epoll_wait() on the same workload, no selector at all. No
// selector that asks the kernel once per select() can be cheaper than this.
void BM_raw_epoll_wait(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (too_many_for(state, n)) return;
  Workload work(n);
  sel::EpollSelector selector;  // used for its epoll descriptor and registrations only
  if (!setup(state, selector, work)) return;
  std::vector<epoll_event> events(n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ::epoll_wait(selector.fileno(), events.data(), static_cast<int>(events.size()), 0));
  }
}
BENCHMARK(BM_raw_epoll_wait)->Name("raw_epoll_wait")->Arg(10)->Arg(1000)->Arg(10000);

BENCHMARK(BM_select<sel::EpollSelector>)->Name("select/epoll")->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_select_into<sel::EpollSelector>)
    ->Name("select_into/epoll")
    ->Arg(10)
    ->Arg(1000)
    ->Arg(10000);
#endif
#if defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
BENCHMARK(BM_select<sel::KqueueSelector>)->Name("select/kqueue")->Arg(10)->Arg(1000)->Arg(10000);
#endif
BENCHMARK(BM_select<sel::PollSelector>)->Name("select/poll")->Arg(10)->Arg(1000)->Arg(10000);
// select(2) stops at FD_SETSIZE (1024) descriptors: no N=10,000 for it.
BENCHMARK(BM_select<sel::SelectSelector>)->Name("select/select")->Arg(10)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
