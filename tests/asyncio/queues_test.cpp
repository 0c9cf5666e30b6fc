// Tests of asyncio's Queue, LifoQueue and PriorityQueue.
#include <gtest/gtest.h>

#include <atomic>
#include <batteries/asyncio.hpp>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

// Counts the allocations made while g_counting is set, to check the no-wait fast paths. Not
// under AddressSanitizer, whose own operator new checks more than this one would.
#if defined(__SANITIZE_ADDRESS__)
#define BATTERIES_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BATTERIES_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef BATTERIES_COUNT_ALLOCATIONS
#define BATTERIES_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

#if BATTERIES_COUNT_ALLOCATIONS
// noinline: GCC pairs an inlined free() with the caller's operator new and warns.
[[gnu::noinline]] void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace aio = batteries::asyncio;
using aio::Task;
using batteries::RuntimeError;
using batteries::ValueError;

namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- ordering and the non-waiting API ----------------------------------------------------------

TEST(Queue, IsFirstInFirstOut) {
  auto main = []() -> Task<std::vector<int>> {
    aio::Queue<int> q;
    for (int i : {3, 1, 4, 1, 5}) co_await q.put(i);
    q.put_nowait(9);
    std::vector<int> out;
    while (!q.empty()) out.push_back(co_await q.get());
    co_return out;
  };
  EXPECT_EQ(aio::run(main()), (std::vector<int>{3, 1, 4, 1, 5, 9}));
}

TEST(LifoQueue, IsLastInFirstOut) {
  auto main = []() -> Task<std::vector<int>> {
    aio::LifoQueue<int> q;
    for (int i : {3, 1, 4, 1, 5}) co_await q.put(i);
    std::vector<int> out;
    out.push_back(q.get_nowait());
    q.put_nowait(9);
    while (!q.empty()) out.push_back(co_await q.get());
    co_return out;
  };
  EXPECT_EQ(aio::run(main()), (std::vector<int>{5, 9, 1, 4, 1, 3}));
}

TEST(PriorityQueue, GivesTheSmallestFirst) {
  auto main = []() -> Task<std::vector<std::string>> {
    aio::PriorityQueue<std::pair<int, std::string>> q;
    co_await q.put({3, "three"});
    co_await q.put({1, "one"});
    q.put_nowait({4, "four"});
    co_await q.put({0, "zero"});
    q.put_nowait({2, "two"});
    std::vector<std::string> out;
    out.push_back((co_await q.get()).second);
    q.put_nowait({1, "one again"});
    while (!q.empty()) out.push_back(q.get_nowait().second);
    co_return out;
  };
  EXPECT_EQ(aio::run(main()),
            (std::vector<std::string>{"zero", "one", "one again", "two", "three", "four"}));
}

TEST(PriorityQueue, TakesAComparator) {
  auto main = []() -> Task<std::vector<int>> {
    aio::PriorityQueue<int, std::greater<int>> q(0, std::greater<int>());
    for (int i : {3, 1, 4, 1, 5, 9, 2, 6}) q.put_nowait(i);
    std::vector<int> out;
    while (!q.empty()) out.push_back(co_await q.get());
    co_return out;
  };
  EXPECT_EQ(aio::run(main()), (std::vector<int>{9, 6, 5, 4, 3, 2, 1, 1}));
}

TEST(PriorityQueue, OrderMatchesHeapqOnManyItems) {
  std::string script = "import heapq, random\nrandom.seed(7)\nh = []\nout = []\n";
  script += "for i in range(300):\n";
  script += "    heapq.heappush(h, (random.randrange(1000), i))\n";
  script += "    if i % 3 == 0: out.append(heapq.heappop(h))\n";
  script += "while h: out.append(heapq.heappop(h))\n";
  script += "print(' '.join(f'{p}/{i}' for p, i in out))\n";
  const auto python = batteries::testing::run_python(script);
  if (!python) GTEST_SKIP() << "no python3";
  // Replay Python's pushes: every pair it popped, put back in push order (i).
  std::vector<std::pair<int, int>> pairs;  // (priority, i) in push order
  {
    const std::string first_line = python->substr(0, python->find('\n'));
    std::vector<std::pair<int, int>> popped;
    std::size_t pos = 0;
    while (pos < first_line.size()) {
      std::size_t end = first_line.find(' ', pos);
      if (end == std::string::npos) end = first_line.size();
      const std::string word = first_line.substr(pos, end - pos);
      const std::size_t slash = word.find('/');
      popped.emplace_back(std::stoi(word.substr(0, slash)), std::stoi(word.substr(slash + 1)));
      pos = end + 1;
    }
    pairs.resize(popped.size());
    for (const auto& [p, i] : popped) pairs[static_cast<std::size_t>(i)] = {p, i};
  }
  ASSERT_EQ(pairs.size(), 300U);
  auto main = [&]() -> Task<std::string> {
    aio::PriorityQueue<std::pair<int, int>> q;
    std::vector<std::string> out;
    for (int i = 0; i < 300; ++i) {
      co_await q.put(pairs[static_cast<std::size_t>(i)]);
      if (i % 3 == 0) {
        auto [p, j] = co_await q.get();
        out.push_back(std::to_string(p) + std::string("/").append(std::to_string(j)));
      }
    }
    while (!q.empty()) {
      auto [p, j] = q.get_nowait();
      out.push_back(std::to_string(p) + std::string("/").append(std::to_string(j)));
    }
    co_return join(out);
  };
  // (priority, i) pairs are all distinct, so the order is fully determined.
  EXPECT_EQ(aio::run(main()), python->substr(0, python->find('\n')));
}

TEST(Queue, OrderSurvivesGrowthAfterTheRingWrapsAround) {
  aio::Queue<int> q;
  int next_in = 0;
  int next_out = 0;
  // Interleave puts and gets so that the ring's head moves before each growth.
  for (int round = 1; round <= 6; ++round) {
    for (int i = 0; i < round * 7; ++i) q.put_nowait(next_in++);
    for (int i = 0; i < round * 4; ++i) ASSERT_EQ(q.get_nowait(), next_out++);
  }
  while (!q.empty()) ASSERT_EQ(q.get_nowait(), next_out++);
  EXPECT_EQ(next_out, next_in);
}

TEST(Queue, SizesAndTheNowaitErrors) {
  aio::Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_EQ(q.qsize(), 0U);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_RAISES(q.get_nowait(), aio::QueueEmpty);
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2U);
  EXPECT_RAISES(q.put_nowait(3), aio::QueueFull);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_FALSE(q.full());
  // maxsize <= 0: never full.
  aio::Queue<int> unbounded(-1);
  for (int i = 0; i < 1000; ++i) unbounded.put_nowait(i);
  EXPECT_FALSE(unbounded.full());
  EXPECT_EQ(unbounded.qsize(), 1000U);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(unbounded.get_nowait(), i);
  // QueueEmpty and QueueFull are Exceptions, not BaseExceptions, with Python's empty message.
  try {
    (void)unbounded.get_nowait();
  } catch (const batteries::Exception& e) {
    EXPECT_STREQ(e.what(), "");
  }
}

TEST(Queue, ReprAndStr) {
  aio::Queue<int> q(3);
  EXPECT_EQ(q.str(), "<Queue maxsize=3>");
  EXPECT_TRUE(contains(q.repr(), "<Queue at 0x"));
  EXPECT_TRUE(contains(q.repr(), " maxsize=3>"));
  q.put_nowait(1);
  EXPECT_EQ(q.str(), "<Queue maxsize=3 tasks=1>");
  aio::LifoQueue<int> lifo;
  EXPECT_EQ(lifo.str(), "<LifoQueue maxsize=0>");
  aio::PriorityQueue<int> prio(5);
  EXPECT_EQ(prio.str(), "<PriorityQueue maxsize=5>");
  auto main = [&]() -> Task<void> {
    aio::Queue<int> empty;
    auto getter = [&]() -> Task<int> { co_return co_await empty.get(); };
    auto t = aio::create_task(getter());
    co_await aio::sleep(0);
    EXPECT_EQ(empty.str(), "<Queue maxsize=0 _getters[1]>");
    empty.put_nowait(5);
    EXPECT_EQ(co_await t, 5);
    aio::Queue<int> full(1);
    full.put_nowait(0);
    auto putter = [&]() -> Task<void> { co_await full.put(1); };
    auto p = aio::create_task(putter());
    co_await aio::sleep(0);
    EXPECT_EQ(full.str(), "<Queue maxsize=1 _putters[1] tasks=1>");
    EXPECT_EQ(full.get_nowait(), 0);
    co_await p;
    EXPECT_EQ(full.get_nowait(), 1);
  };
  aio::run(main());
}

// ---- waiting -----------------------------------------------------------------------------------

TEST(Queue, GetWaitsForAPut) {
  std::vector<std::string> log;
  aio::Queue<std::string> q;
  auto consumer = [&]() -> Task<void> {
    log.push_back("get");
    log.push_back(std::string("got ").append(co_await q.get()));
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(consumer());
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    log.push_back("put");
    co_await q.put("x");
    co_await t;
  };
  aio::run(main());
  EXPECT_EQ(join(log), "get put got x");
}

TEST(Queue, APutterBlocksWhileTheQueueIsFull) {
  std::vector<std::string> log;
  aio::Queue<int> q(1);
  auto producer = [&]() -> Task<void> {
    for (int i = 0; i < 3; ++i) {
      co_await q.put(i);
      log.push_back(std::string("put").append(std::to_string(i)));
    }
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(producer());
    for (int i = 0; i < 3; ++i) co_await aio::sleep(0);
    EXPECT_EQ(join(log), "put0");  // put(1) waits
    EXPECT_TRUE(q.full());
    for (int i = 0; i < 3; ++i) {
      log.push_back(std::string("get").append(std::to_string(co_await q.get())));
      co_await aio::sleep(0);
    }
    co_await t;
  };
  aio::run(main());
  EXPECT_EQ(join(log), "put0 get0 put1 get1 put2 get2");
}

TEST(Queue, ACancelledGetterDoesNotSwallowAnItem) {
  // Woken by put_nowait(), cancelled before it ran: the next getter gets the item.
  std::vector<std::string> log;
  aio::Queue<int> q;
  auto consumer = [&](std::string name) -> Task<void> {
    try {
      const int item = co_await q.get();
      log.push_back(name + std::string(" got ").append(std::to_string(item)));
    } catch (const aio::CancelledError&) {
      log.push_back(name + " cancelled");
    }
  };
  auto main = [&]() -> Task<void> {
    auto a = aio::create_task(consumer("a"));
    auto b = aio::create_task(consumer("b"));
    co_await aio::sleep(0);
    q.put_nowait(42);  // wakes a
    a.cancel();
    co_await a;
    co_await b;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.str(), "<Queue maxsize=0 tasks=1>");
  };
  aio::run(main());
  EXPECT_EQ(join(log), "a cancelled b got 42");
}

TEST(Queue, AGetterCancelledWhileWaitingLeavesNoTrace) {
  std::vector<std::string> log;
  aio::Queue<int> q;
  auto consumer = [&](std::string name) -> Task<void> {
    try {
      const int item = co_await q.get();
      log.push_back(name + std::string(" got ").append(std::to_string(item)));
    } catch (const aio::CancelledError& e) {
      log.push_back(name + " cancelled:" + e.what());
    }
  };
  auto main = [&]() -> Task<void> {
    auto a = aio::create_task(consumer("a"));
    auto b = aio::create_task(consumer("b"));
    co_await aio::sleep(0);
    a.cancel("msg");
    co_await a;
    EXPECT_EQ(q.str(), "<Queue maxsize=0 _getters[1]>");
    q.put_nowait(7);
    co_await b;
    EXPECT_EQ(q.str(), "<Queue maxsize=0 tasks=1>");
  };
  aio::run(main());
  EXPECT_EQ(join(log), "a cancelled:msg b got 7");
}

TEST(Queue, ACancelledPutterDoesNotWasteAFreeSlot) {
  std::vector<std::string> log;
  aio::Queue<int> q(1);
  auto producer = [&](int item) -> Task<void> {
    try {
      co_await q.put(item);
      log.push_back(std::string("put ").append(std::to_string(item)));
    } catch (const aio::CancelledError&) {
      log.push_back(std::string("cancelled ").append(std::to_string(item)));
    }
  };
  auto main = [&]() -> Task<void> {
    q.put_nowait(0);
    auto a = aio::create_task(producer(1));
    auto b = aio::create_task(producer(2));
    co_await aio::sleep(0);
    EXPECT_EQ(q.get_nowait(), 0);  // wakes a
    a.cancel();
    co_await a;
    co_await b;
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_TRUE(q.empty());
  };
  aio::run(main());
  EXPECT_EQ(join(log), "cancelled 1 put 2");
}

TEST(Queue, AWokenGetterWhoseItemWasTakenWaitsAgainWithoutRunning) {
  std::vector<std::string> log;
  aio::Queue<int> q;
  int resumed = 0;
  auto consumer = [&]() -> Task<void> {
    const int item = co_await q.get();
    ++resumed;
    log.push_back(std::string("consumer got ").append(std::to_string(item)));
  };
  auto main = [&]() -> Task<void> {
    auto c = aio::create_task(consumer());
    co_await aio::sleep(0);
    q.put_nowait(1);                                               // wakes the consumer
    log.push_back("main took " + std::to_string(q.get_nowait()));  // ... and steals the item
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    EXPECT_FALSE(c.done());
    EXPECT_EQ(resumed, 0);
    EXPECT_EQ(q.str(), "<Queue maxsize=0 _getters[1] tasks=1>");
    q.put_nowait(2);
    co_await c;
  };
  aio::run(main());
  EXPECT_EQ(join(log), "main took 1 consumer got 2");
}

TEST(Queue, AWokenPutterWhoseSlotWasTakenWaitsAgain) {
  std::vector<std::string> log;
  aio::Queue<int> q(1);
  auto producer = [&]() -> Task<void> {
    co_await q.put(2);
    log.push_back("producer put 2");
  };
  auto main = [&]() -> Task<void> {
    q.put_nowait(1);
    auto p = aio::create_task(producer());
    co_await aio::sleep(0);
    log.push_back("got " + std::to_string(q.get_nowait()));  // wakes the producer
    q.put_nowait(3);                                         // ... and takes the slot
    co_await aio::sleep(0);
    EXPECT_FALSE(p.done());
    log.push_back("got " + std::to_string(q.get_nowait()));
    co_await p;
    log.push_back("got " + std::to_string(q.get_nowait()));
  };
  aio::run(main());
  EXPECT_EQ(join(log), "got 1 got 3 producer put 2 got 2");
}

TEST(Queue, CancellingARetryingGetterWorks) {
  // Cancelled after it went back to waiting: the CancelledError comes, no item is lost.
  aio::Queue<int> q;
  auto main = [&]() -> Task<void> {
    auto getter = [&]() -> Task<int> { co_return co_await q.get(); };
    auto c = aio::create_task(getter());
    co_await aio::sleep(0);
    q.put_nowait(1);
    (void)q.get_nowait();
    co_await aio::sleep(0);  // c re-arms
    c.cancel();
    EXPECT_RAISES(co_await c, aio::CancelledError);
    EXPECT_EQ(q.str(), "<Queue maxsize=0 tasks=1>");
    q.put_nowait(5);
    EXPECT_EQ(co_await q.get(), 5);
  };
  aio::run(main());
}

TEST(Queue, TaskDoneAndJoin) {
  std::vector<std::string> log;
  aio::Queue<int> q;
  EXPECT_RAISES_MSG(q.task_done(), ValueError, "task_done() called too many times");
  auto worker = [&]() -> Task<void> {
    for (;;) {
      const int item = co_await q.get();
      co_await aio::sleep(0);
      log.push_back(std::string("done ").append(std::to_string(item)));
      q.task_done();
    }
  };
  auto main = [&]() -> Task<void> {
    co_await q.join();  // nothing pending: at once
    auto w = aio::create_task(worker());
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    co_await q.join();
    log.push_back("joined");
    EXPECT_EQ(q.str(), "<Queue maxsize=0 _getters[1]>");
    w.cancel();
    EXPECT_RAISES(co_await w, aio::CancelledError);
    EXPECT_RAISES_MSG(q.task_done(), ValueError, "task_done() called too many times");
    // Several joiners; join() also converts to a task.
    q.put_nowait(9);
    auto j1 = aio::create_task(Task<void>(q.join()));
    auto j2 = aio::create_task(Task<void>(q.join()));
    co_await aio::sleep(0);
    EXPECT_FALSE(j1.done());
    (void)q.get_nowait();
    q.task_done();
    co_await j1;
    co_await j2;
  };
  aio::run(main());
  EXPECT_EQ(join(log), "done 0 done 1 done 2 joined");
}

TEST(Queue, MoveOnlyItemsGoThroughEveryPath) {
  using Item = std::unique_ptr<std::string>;
  auto main = []() -> Task<std::vector<std::string>> {
    aio::Queue<Item> q(1);
    std::vector<std::string> out;
    auto producer = [&]() -> Task<void> {
      for (const char* word : {"a", "b", "c"}) co_await q.put(std::make_unique<std::string>(word));
    };
    auto p = aio::create_task(producer());
    for (int i = 0; i < 3; ++i) out.push_back(*co_await q.get());
    co_await p;
    q.put_nowait(std::make_unique<std::string>("d"));
    out.push_back(*q.get_nowait());
    aio::LifoQueue<Item> lifo;
    lifo.put_nowait(std::make_unique<std::string>("e"));
    out.push_back(*co_await lifo.get());
    aio::PriorityQueue<std::pair<int, Item>> prio;
    prio.put_nowait({2, std::make_unique<std::string>("g")});
    prio.put_nowait({1, std::make_unique<std::string>("f")});
    out.push_back(*(co_await prio.get()).second);
    out.push_back(*prio.get_nowait().second);
    co_return out;
  };
  EXPECT_EQ(aio::run(main()), (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g"}));
}

TEST(Queue, GetAndPutConvertToTasksAndATimedOutGetLosesNothing) {
  auto main = []() -> Task<void> {
    aio::Queue<int> q(1);
    EXPECT_RAISES((co_await aio::wait_for(Task<int>(q.get()), 0.01)), aio::TimeoutError);
    EXPECT_EQ(q.str(), "<Queue maxsize=1>");
    co_await aio::wait_for(Task<void>(q.put(1)), 1.0);
    EXPECT_RAISES((co_await aio::wait_for(Task<void>(q.put(2)), 0.01)), aio::TimeoutError);
    EXPECT_EQ(q.qsize(), 1U);
    EXPECT_EQ(co_await aio::wait_for(Task<int>(q.get()), 1.0), 1);
    auto t = aio::create_task(Task<int>(q.get()));
    co_await q.put(3);
    EXPECT_EQ(co_await t, 3);
  };
  aio::run(main());
}

TEST(Queue, IsBoundToTheFirstLoopThatWaitsOnIt) {
  aio::Queue<int> q;
  auto roundtrip = [&]() -> Task<void> {
    auto getter = [&]() -> Task<int> { co_return co_await q.get(); };
    auto t = aio::create_task(getter());
    co_await aio::sleep(0);
    q.put_nowait(1);
    co_await t;
  };
  auto loop1 = aio::new_event_loop();
  auto loop2 = aio::new_event_loop();
  aio::run_until_complete(*loop1, roundtrip());
  EXPECT_RAISES_MSG(aio::run_until_complete(*loop2, roundtrip()), RuntimeError, "<Queue at 0x");
  loop1->close();
  loop2->close();
}

TEST(Queue, TheNoWaitPathsDoNotAllocate) {
  if (!BATTERIES_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocations are not counted under ASan";
  auto main = []() -> Task<long> {
    aio::Queue<int> q(4);
    aio::Event event;
    aio::Lock lock;
    aio::Semaphore sem(2);
    // Warm up: the rings reach their capacity.
    for (int i = 0; i < 4; ++i) q.put_nowait(i);
    for (int i = 0; i < 4; ++i) (void)q.get_nowait();
    for (int i = 0; i < 4; ++i) q.task_done();
    event.set();
    g_counting = true;
    g_allocations = 0;
    for (int round = 0; round < 100; ++round) {
      for (int i = 0; i < 4; ++i) co_await q.put(i);
      for (int i = 0; i < 4; ++i) (void)co_await q.get();
      q.put_nowait(round);
      (void)q.get_nowait();
      co_await event.wait();
      co_await lock.acquire();
      lock.release();
      { auto guard = co_await lock; }
      co_await sem.acquire();
      { auto guard = co_await sem; }
      sem.release();
      for (int i = 0; i < 5; ++i) q.task_done();
      co_await q.join();
    }
    g_counting = false;
    co_return g_allocations.load();
  };
  EXPECT_EQ(aio::run(main()), 0);
}

TEST(Queue, ProducersAndConsumersMatchCPython) {
  const char* script = R"PY(
import asyncio
async def main():
    q = asyncio.Queue(2)
    out = []
    async def producer(name, n):
        for i in range(n):
            await q.put(f'{name}{i}')
            out.append(f'{name}>{i}')
        out.append(f'{name}:end')
    async def consumer(name):
        try:
            while True:
                item = await q.get()
                out.append(f'{name}<{item}')
                q.task_done()
                if len(item) % 2 == 0:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            out.append(f'{name}:cancelled')
            raise
    cs = [asyncio.create_task(consumer(n)) for n in 'xyz']
    ps = [asyncio.create_task(producer(n, k)) for n, k in [('a', 5), ('bb', 4)]]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    cs[1].cancel()
    await asyncio.gather(*ps)
    await q.join()
    out.append('joined')
    for c in cs:
        c.cancel()
    await asyncio.gather(*cs, return_exceptions=True)
    print(' '.join(out))
asyncio.run(main())
)PY";
  const auto python = batteries::testing::run_python(script);
  if (!python) GTEST_SKIP() << "no python3";

  aio::Queue<std::string> q(2);
  std::vector<std::string> out;
  auto producer = [&](std::string name, int n) -> Task<void> {
    for (int i = 0; i < n; ++i) {
      co_await q.put(name + std::to_string(i));
      out.push_back(name + std::string(">").append(std::to_string(i)));
    }
    out.push_back(name + ":end");
  };
  auto consumer = [&](std::string name) -> Task<void> {
    try {
      for (;;) {
        std::string item = co_await q.get();
        out.push_back(name + "<" + item);
        q.task_done();
        if (item.size() % 2 == 0) co_await aio::sleep(0);
      }
    } catch (const aio::CancelledError&) {
      out.push_back(name + ":cancelled");
      throw;
    }
  };
  auto main = [&]() -> Task<void> {
    std::vector<Task<void>> cs;
    for (const char* name : {"x", "y", "z"}) cs.push_back(aio::create_task(consumer(name)));
    std::vector<Task<void>> ps;
    ps.push_back(aio::create_task(producer("a", 5)));
    ps.push_back(aio::create_task(producer("bb", 4)));
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    cs[1].cancel();
    co_await aio::gather(ps);
    co_await q.join();
    out.push_back("joined");
    for (auto& c : cs) c.cancel();
    co_await aio::gather(aio::return_exceptions, cs);
  };
  aio::run(main());
  EXPECT_EQ(join(out) + "\n", *python);
}

}  // namespace
