// Tests of coroutines, tasks, futures, sleep, cancellation and asyncio::run.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <batteries/asyncio.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Task;
using batteries::RuntimeError;
using batteries::ValueError;

namespace {

Task<int> add(int a, int b) { co_return a + b; }

Task<int> twice(int x) {
  const int once = co_await add(x, x);
  co_return once * 2;
}

TEST(Task, CallingACoroutineRunsNothingUntilItIsAwaited) {
  int ran = 0;
  auto body = [&]() -> Task<int> {
    ++ran;
    co_return 7;
  };
  {
    Task<int> t = body();
    EXPECT_EQ(ran, 0);
    EXPECT_FALSE(t.done());
  }
  EXPECT_EQ(ran, 0);  // dropped unstarted: the body never ran
  EXPECT_EQ(aio::run(body()), 7);
  EXPECT_EQ(ran, 1);
}

TEST(Task, AwaitRunsInPlaceAndReturnsTheValue) { EXPECT_EQ(aio::run(twice(5)), 20); }

TEST(Task, AwaitInPlaceDoesNotYieldToTheLoop) {
  // Python: `await coro()` runs inside the same task with no trip through the loop, so a
  // task created earlier does not get to run in between.
  std::string order;
  auto other = [&]() -> Task<void> {
    order += 'o';
    co_return;
  };
  auto inner = [&]() -> Task<void> {
    order += 'i';
    co_return;
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(other());
    co_await inner();
    co_await inner();
    order += 'm';
    co_await t;
  };
  aio::run(main());
  EXPECT_EQ(order, "iimo");
}

TEST(Task, ExceptionsPropagateThroughAwait) {
  auto fails = []() -> Task<int> {
    throw ValueError("bad");
    co_return 0;
  };
  auto main = [&]() -> Task<std::string> {
    try {
      co_await fails();
    } catch (const ValueError& e) {
      co_return e.what();
    }
    co_return "none";
  };
  EXPECT_EQ(aio::run(main()), "bad");
  EXPECT_RAISES_MSG(aio::run(fails()), ValueError, "bad");
}

TEST(Task, CreateTaskRunsConcurrentlyInCreationOrder) {
  std::vector<std::string> log;
  auto worker = [&](std::string name, int steps) -> Task<int> {
    for (int i = 0; i < steps; ++i) {
      log.push_back(name + std::to_string(i));
      co_await aio::sleep(0);
    }
    co_return steps;
  };
  auto main = [&]() -> Task<int> {
    auto a = aio::create_task(worker("a", 3));
    auto b = aio::create_task(worker("b", 2));
    EXPECT_FALSE(a.done());
    const int ra = co_await a;
    const int rb = co_await b;
    co_return ra + rb;
  };
  EXPECT_EQ(aio::run(main()), 5);
  EXPECT_EQ(log, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2"}));
}

TEST(Task, TaskMethodsMirrorPython) {
  auto main = []() -> Task<void> {
    auto t = aio::create_task(add(1, 2), "adder");
    EXPECT_EQ(t.get_name(), "adder");
    t.set_name("renamed");
    EXPECT_EQ(t.get_name(), "renamed");
    EXPECT_FALSE(t.done());
    EXPECT_RAISES_MSG(t.result(), aio::InvalidStateError, "Result is not set.");
    EXPECT_RAISES_MSG((void)t.exception(), aio::InvalidStateError, "Exception is not set.");
    EXPECT_NE(t.repr().find("<Task pending name='renamed' coro=<"), std::string::npos);
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    EXPECT_TRUE(t.done());
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(t.result(), 3);
    EXPECT_EQ(t.exception(), nullptr);
    EXPECT_FALSE(t.cancel());  // done: nothing to cancel
    auto unnamed = aio::create_task(add(0, 0));
    EXPECT_EQ(unnamed.get_name().rfind("Task-", 0), 0u);
    co_await unnamed;
  };
  aio::run(main());
}

TEST(Task, DoneCallbacksRunThroughTheLoopInOrderAndCanBeRemoved) {
  auto main = []() -> Task<void> {
    std::string calls;
    auto t = aio::create_task(add(2, 2));
    t.add_done_callback([&](Task<int>& done) { calls += std::to_string(done.result()); });
    const auto id = t.add_done_callback([&](Task<int>&) { calls += 'x'; });
    t.add_done_callback([&](Task<int>&) { calls += 'b'; });
    EXPECT_EQ(t.remove_done_callback(id), 1u);
    EXPECT_EQ(t.remove_done_callback(id), 0u);
    EXPECT_EQ(calls, "");
    co_await t;
    // Scheduled when the task finished, in the order added, before this task's own wakeup
    // (which was added last), exactly as Python runs them.
    EXPECT_EQ(calls, "4b");
    // Added after done: scheduled at once.
    t.add_done_callback([&](Task<int>&) { calls += 'c'; });
    co_await aio::sleep(0);
    EXPECT_EQ(calls, "4bc");
  };
  aio::run(main());
}

TEST(Task, CurrentTaskAndAllTasks) {
  auto main = []() -> Task<void> {
    aio::AnyTask me = aio::current_task();
    EXPECT_TRUE(me);
    EXPECT_FALSE(me.done());
    auto sleeper = aio::create_task(add(1, 1));
    std::vector<aio::AnyTask> all = aio::all_tasks();
    EXPECT_EQ(all.size(), 2u);
    bool found_me = false, found_other = false;
    for (auto& t : all) {
      found_me = found_me || t == me;
      found_other = found_other || t == sleeper;
    }
    EXPECT_TRUE(found_me && found_other);
    co_await sleeper;
    EXPECT_EQ(aio::all_tasks().size(), 1u);
  };
  EXPECT_RAISES_MSG(aio::current_task(), RuntimeError, "no running event loop");
  aio::run(main());
}

TEST(Future, SetResultWakesTheAwaitingTask) {
  auto main = []() -> Task<int> {
    aio::Future<int> fut;
    EXPECT_FALSE(fut.done());
    aio::get_running_loop().call_later(0.001, [fut]() mutable { fut.set_result(41); });
    const int v = co_await fut;
    EXPECT_TRUE(fut.done());
    EXPECT_RAISES_MSG(fut.set_result(1), aio::InvalidStateError, "FINISHED: <Future finished>");
    co_return v + 1;
  };
  EXPECT_EQ(aio::run(main()), 42);
}

TEST(Future, ExceptionAndCancellationStates) {
  auto main = []() -> Task<void> {
    aio::Future<std::string> f;
    f.set_exception(ValueError("boom"));
    EXPECT_TRUE(f.done());
    EXPECT_RAISES_MSG(f.result(), ValueError, "boom");
    EXPECT_NE(f.exception(), nullptr);
    EXPECT_EQ(f.repr(), "<Future finished exception=ValueError('boom')>");

    aio::Future<void> g;
    EXPECT_TRUE(g.cancel("why"));
    EXPECT_FALSE(g.cancel());
    EXPECT_TRUE(g.cancelled());
    EXPECT_RAISES_MSG(g.result(), aio::CancelledError, "why");
    EXPECT_RAISES((void)g.exception(), aio::CancelledError);
    EXPECT_RAISES(g.set_result(), aio::InvalidStateError);
    EXPECT_RAISES(f.set_exception(std::exception_ptr()), aio::InvalidStateError);
    aio::Future<int> h;
    EXPECT_RAISES(h.set_exception(std::exception_ptr()), batteries::TypeError);
    EXPECT_RAISES(h.set_exception(batteries::StopIteration("x")), batteries::TypeError);
    h.set_result(1);
    co_return;
  };
  aio::run(main());
}

TEST(Future, AwaitingACancelledFutureRaisesCancelledError) {
  auto main = []() -> Task<std::string> {
    aio::Future<int> f;
    aio::get_running_loop().call_soon([f]() mutable { f.cancel("stop"); });
    try {
      co_await f;
    } catch (const aio::CancelledError& e) {
      co_return std::string("cancelled:") + e.what();
    }
    co_return "not cancelled";
  };
  EXPECT_EQ(aio::run(main()), "cancelled:stop");
}

TEST(Future, UnretrievedExceptionIsReported) {
  aio::EventLoop loop;
  std::vector<std::string> reports;
  loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& c) {
    reports.push_back(c.message + "|" + c.future);
  });
  {
    aio::Future<int> f(loop);
    f.set_exception(ValueError("lost"));
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0],
            "Future exception was never retrieved|<Future finished exception=ValueError('lost')>");
  {
    aio::Future<int> f(loop);
    f.set_exception(ValueError("seen"));
    EXPECT_NE(f.exception(), nullptr);
  }
  EXPECT_EQ(reports.size(), 1u);

  auto fails = []() -> Task<void> {
    throw ValueError("task lost");
    co_return;
  };
  {
    auto t = aio::run_until_complete(loop, [&]() -> Task<Task<void>> {
      auto inner = aio::create_task(fails());
      co_await aio::sleep(0);
      co_await aio::sleep(0);
      co_return inner;
    }());
    EXPECT_TRUE(t.done());
  }
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].rfind("Task exception was never retrieved|<Task finished", 0), 0u);
}

TEST(Future, CallbacksStillQueuedWhenTheLoopClosesAreDroppedAndFreed) {
  aio::EventLoop loop;
  aio::Future<int> f(loop);
  int called = 0;
  f.add_done_callback([&](aio::Future<int>&) { ++called; });
  f.add_done_callback([&](aio::Future<int>&) { ++called; });
  f.set_result(1);  // both callbacks are queued, holding the future
  loop.close();     // they never run; ASan checks that nothing they held leaks
  EXPECT_EQ(called, 0);
  EXPECT_EQ(f.result(), 1);
}

TEST(Sleep, SleepsAtLeastTheDelayAndReturnsTheResult) {
  auto main = []() -> Task<int> {
    auto& loop = aio::get_running_loop();
    const double t0 = loop.time();
    co_await aio::sleep(0.02);
    EXPECT_GE(loop.time() - t0, 0.02);
    co_return co_await aio::sleep(std::chrono::milliseconds(1), 9);
  };
  EXPECT_EQ(aio::run(main()), 9);
  EXPECT_RAISES(aio::sleep(std::nan("")), ValueError);
}

TEST(Sleep, ConcurrentSleepsOverlap) {
  auto main = []() -> Task<double> {
    auto& loop = aio::get_running_loop();
    const double t0 = loop.time();
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 50; ++i) {
      tasks.push_back(aio::create_task([]() -> Task<void> { co_await aio::sleep(0.05); }()));
    }
    for (auto& t : tasks) co_await t;
    co_return loop.time() - t0;
  };
  const double took = aio::run(main());
  EXPECT_GE(took, 0.05);
  EXPECT_LT(took, 1.0);  // not 50 x 0.05: a generous bound, far from the serial time
}

// ---- cancellation ----------------------------------------------------------------------

TEST(Cancel, CancelDuringSleepRaisesAtTheSuspensionPointAndCanBeCleanedUp) {
  std::vector<std::string> log;
  auto sleeper = [&]() -> Task<int> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError& e) {
      log.push_back(std::string("cleanup:") + e.what());
      throw;
    }
    co_return 1;
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(sleeper());
    co_await aio::sleep(0);
    EXPECT_TRUE(t.cancel("enough"));
    EXPECT_TRUE(t.cancel("twice is safe"));
    EXPECT_EQ(t.cancelling(), 2u);
    try {
      co_await t;
      ADD_FAILURE() << "no CancelledError";
    } catch (const aio::CancelledError& e) {
      log.push_back(std::string("caught:") + e.what());
    }
    EXPECT_TRUE(t.cancelled());
    EXPECT_RAISES(t.result(), aio::CancelledError);
  };
  aio::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup:enough", "caught:enough"}));
}

TEST(Cancel, TheSleepTimerIsRemovedFromTheLoop) {
  aio::EventLoop loop;
  auto main = [&]() -> Task<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 300; ++i) {
      tasks.push_back(aio::create_task([]() -> Task<void> { co_await aio::sleep(3600); }()));
    }
    co_await aio::sleep(0);
    EXPECT_EQ(loop.timer_count(), 300u);
    for (auto& t : tasks) t.cancel();
    for (auto& t : tasks) {
      try {
        co_await t;
      } catch (const aio::CancelledError&) {
      }
    }
    co_await aio::sleep(0);
    EXPECT_EQ(loop.timer_count(), 0u);  // compacted: more than half were cancelled
  };
  aio::run_until_complete(loop, main());
}

TEST(Cancel, ATaskCancelledBeforeItStartsRunsNoneOfItsBody) {
  bool ran = false;
  auto body = [&]() -> Task<void> {
    ran = true;
    co_return;
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(body());
    t.cancel();
    EXPECT_RAISES(co_await t, aio::CancelledError);
    EXPECT_TRUE(t.cancelled());
  };
  aio::run(main());
  EXPECT_FALSE(ran);
}

TEST(Cancel, ATaskCancelledBeforeItStartsKeepsTheMessageRunsCallbacksAndFreesItsFrame) {
  struct Probe {
    int* live;
    explicit Probe(int* l) : live(l) { ++*live; }
    Probe(Probe&& other) noexcept : live(std::exchange(other.live, nullptr)) {}
    ~Probe() {
      if (live != nullptr) --*live;
    }
  };
  int live = 0;
  auto body = [](Probe) -> Task<int> { co_return 1; };
  bool called = false;
  std::string message;
  auto main = [&]() -> Task<void> {
    {
      auto t = aio::create_task(body(Probe(&live)));
      t.add_done_callback([&](Task<int>& f) { called = f.cancelled(); });
      EXPECT_TRUE(t.cancel("stop now"));
      EXPECT_TRUE(t.cancel("again"));  // still pending: a second request is counted too
      EXPECT_EQ(t.cancelling(), 2U);
      try {
        co_await t;
      } catch (const aio::CancelledError& e) {
        message = e.what();
      }
      EXPECT_EQ(t.get_name().rfind("Task-", 0), 0U);
      EXPECT_NE(t.repr().find("cancelled"), std::string::npos) << t.repr();
    }
    co_await aio::sleep(0);
  };
  aio::run(main());
  EXPECT_TRUE(called);
  EXPECT_EQ(message, "again");
  EXPECT_EQ(live, 0);  // the frame, with its copy of the argument, is gone
}

TEST(Cancel, CatchingCancelledErrorLetsTheTaskFinishNormally) {
  auto stubborn = []() -> Task<int> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      aio::current_task().uncancel();
    }
    co_await aio::sleep(0);  // it may still wait after ignoring the cancellation
    co_return 5;
  };
  auto main = [&]() -> Task<int> {
    auto t = aio::create_task(stubborn());
    co_await aio::sleep(0);
    t.cancel();
    const int r = co_await t;
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(t.cancelling(), 0u);
    co_return r;
  };
  EXPECT_EQ(aio::run(main()), 5);
}

TEST(Cancel, CancellingAWaiterCancelsTheTaskItAwaits) {
  // Python: cancelling a task that awaits another task cancels that one too.
  auto main = []() -> Task<void> {
    auto inner = aio::create_task([]() -> Task<int> {
      co_await aio::sleep(3600);
      co_return 0;
    }());
    auto outer = aio::create_task([](Task<int> in) -> Task<int> { co_return co_await in; }(inner));
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    outer.cancel();
    EXPECT_RAISES(co_await outer, aio::CancelledError);
    EXPECT_TRUE(inner.cancelled());
    EXPECT_TRUE(outer.cancelled());
  };
  aio::run(main());
}

TEST(Cancel, AnInnerTaskThatIgnoresCancellationShieldsItsAwaiter) {
  // The outer task's cancel() is passed to the inner task; when the inner one swallows it
  // and returns, the outer one receives the value, as in Python.
  auto main = []() -> Task<void> {
    auto inner = aio::create_task([]() -> Task<int> {
      try {
        co_await aio::sleep(3600);
      } catch (const aio::CancelledError&) {
      }
      co_return 7;
    }());
    auto outer = aio::create_task([](Task<int> in) -> Task<int> { co_return co_await in; }(inner));
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    outer.cancel();
    EXPECT_EQ(co_await outer, 7);
  };
  aio::run(main());
}

TEST(Cancel, CancelWhileTheWakeupIsQueuedStillCancels) {
  auto main = []() -> Task<void> {
    aio::Future<int> f;
    auto waiter =
        aio::create_task([](aio::Future<int> fut) -> Task<int> { co_return co_await fut; }(f));
    co_await aio::sleep(0);
    f.set_result(1);  // the waiter's wakeup is queued
    waiter.cancel();  // the future is done: the task must raise at its resumption
    EXPECT_RAISES(co_await waiter, aio::CancelledError);
  };
  aio::run(main());
}

TEST(Cancel, ATaskThatCancelsItselfRaisesAtItsNextWaitEvenIfTheFutureNeverCompletes) {
  auto main = []() -> Task<std::string> {
    aio::Future<int> never;
    aio::current_task().cancel("self");
    try {
      co_await never;  // Python's __step cancels the new waiter at once
    } catch (const aio::CancelledError& e) {
      EXPECT_TRUE(never.cancelled());
      aio::current_task().uncancel();
      co_return e.what();
    }
    co_return "not cancelled";
  };
  EXPECT_EQ(aio::run(main()), "self");
}

TEST(EventLoopFastPath, ThreadsafeCallbacksRunWhileTheLoopIsBusy) {
  // With callbacks always ready and no descriptor watched, the loop skips the selector;
  // call_soon_threadsafe() must still get through.
  auto main = []() -> Task<int> {
    auto& loop = aio::get_running_loop();
    std::atomic<bool> ran{false};
    std::thread other([&] { loop.call_soon_threadsafe([&] { ran = true; }); });
    int spins = 0;
    while (!ran && spins < 10'000'000) {
      co_await aio::sleep(0);
      ++spins;
    }
    other.join();
    EXPECT_TRUE(ran);
    co_return spins;
  };
  aio::run(main());
}

TEST(Frames, AFreedFrameIsReusedForTheNextTaskOfItsSize) {
  if (!aio::detail::frames_are_pooled()) GTEST_SKIP() << "plain frames in sanitizer builds";
  Task<int> first = add(1, 2);
  const auto* where = first.core_ptr();
  first = Task<int>();
  Task<int> second = add(3, 4);
  EXPECT_EQ(second.core_ptr(), where);
  EXPECT_EQ(aio::run(std::move(second)), 7);
}

TEST(Frames, FramesMayBeFreedOnAnotherThreadAndOutliveTheThreadThatMadeThem) {
  std::vector<Task<int>> made;
  std::thread maker([&] {
    for (int i = 0; i < 1000; ++i) made.push_back(add(i, 1));
  });
  maker.join();  // the maker's thread has ended; its frames live on
  std::thread freer([&] { made.clear(); });
  freer.join();  // freed on a third thread, which ends too: its lists go to the shared pool
  long total = 0;
  for (int round = 0; round < 3; ++round) {
    auto main = []() -> Task<long> {
      std::vector<Task<int>> tasks;
      for (int i = 0; i < 1000; ++i) tasks.push_back(add(i, 1));
      long sum = 0;
      for (int v : co_await aio::gather(std::move(tasks))) sum += v;
      co_return sum;
    };
    total += aio::run(main());
  }
  EXPECT_EQ(total, 3L * (999L * 1000L / 2 + 1000L));
}

TEST(Frames, ManyLiveFramesSpanLargeChunksAndStayDistinct) {
  // 60,000 live frames take about 10 MB, so they span many of the pool's chunks.
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 60000; ++i) tasks.push_back(add(i, 1));
  std::vector<const void*> where;
  for (const auto& task : tasks) where.push_back(task.core_ptr());
  std::sort(where.begin(), where.end());
  EXPECT_EQ(std::adjacent_find(where.begin(), where.end()), where.end());
  auto main = [&]() -> Task<long> {
    long sum = 0;
    for (int v : co_await aio::gather(std::move(tasks))) sum += v;
    co_return sum;
  };
  EXPECT_EQ(aio::run(main()), 59999L * 60000L / 2 + 60000L);
}

// ---- the rings under the ready queue, the locks and the queues -------------------------

// Interleaves pushes and pops so that the head wraps while the ring keeps growing, to
// 262,144 slots, and checks the order throughout. make(i) gives the i-th value.
template <class T, class Make>
void check_fifo_across_wrap_and_growth(Make make) {
  aio::detail::Ring<T> ring;
  std::size_t next_in = 0;
  std::size_t next_out = 0;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 1500; ++i) ring.push_back(make(next_in++));
    for (int i = 0; i < 500; ++i) ASSERT_EQ(ring.pop_front(), make(next_out++));
  }
  EXPECT_EQ(ring.size(), next_in - next_out);
  EXPECT_EQ(ring.front(), make(next_out));
  EXPECT_EQ(ring.back(), make(next_in - 1));
  for (std::size_t i = 0; i < ring.size(); i += 997) EXPECT_EQ(ring[i], make(next_out + i));
  while (!ring.empty()) ASSERT_EQ(ring.pop_front(), make(next_out++));
  EXPECT_EQ(next_out, next_in);
}

TEST(Ring, KeepsFifoOrderAcrossWrapAndGrowth) {
  // Strings move element by element; plain data grows by realloc.
  check_fifo_across_wrap_and_growth<std::string>([](std::size_t i) { return std::to_string(i); });
  check_fifo_across_wrap_and_growth<std::uint64_t>([](std::size_t i) { return i * 7919; });
}

TEST(Ring, OverAlignedItemsAreAligned) {
  struct alignas(64) Wide {
    int value;
  };
  aio::detail::Ring<Wide> ring;
  for (int i = 0; i < 100; ++i) ring.push_back(Wide{i});
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&ring[i]) % 64, 0U);
    EXPECT_EQ(ring[i].value, i);
  }
}

TEST(Ring, AQueueOfAMillionItemsKeepsThemAllInOrder) {
  auto main = []() -> Task<long> {
    aio::Queue<int> queue;
    for (int i = 0; i < 1000000; ++i) queue.put_nowait(i);
    long sum = 0;
    int expect = 0;
    while (!queue.empty()) {
      const int v = co_await queue.get();
      if (v != expect++) co_return -1;
      sum += v;
    }
    co_return sum;
  };
  EXPECT_EQ(aio::run(main()), 999999L * 1000000L / 2);
}

// ---- run ------------------------------------------------------------------------------

TEST(Run, CancelsAndAwaitsTheTasksLeftPending) {
  bool cleaned = false;
  // A lambda coroutine reads its captures through the closure, so the closure must outlive
  // the task: name it, never create_task([&]{...}()) from a temporary.
  auto background = [&]() -> Task<void> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      cleaned = true;
      throw;
    }
  };
  auto main = [&]() -> Task<int> {
    aio::create_task(background());
    co_await aio::sleep(0);
    co_return 3;
  };
  EXPECT_EQ(aio::run(main()), 3);
  EXPECT_TRUE(cleaned);
}

TEST(Run, CannotBeNestedAndTheLoopIsGoneAfterwards) {
  auto main = []() -> Task<void> {
    EXPECT_RAISES_MSG(aio::run(add(1, 1)), RuntimeError,
                      "asyncio.run() cannot be called from a running event loop");
    co_return;
  };
  aio::run(main());
  EXPECT_EQ(aio::running_loop(), nullptr);
}

TEST(Run, RunUntilCompleteOnAnExplicitLoop) {
  aio::EventLoop loop;
  EXPECT_EQ(aio::run_until_complete(loop, twice(2)), 8);
  EXPECT_EQ(aio::run_until_complete(loop, add(1, 2)), 3);
  aio::Future<int> f(loop);
  loop.call_soon([f]() mutable { f.set_result(11); });
  EXPECT_EQ(aio::run_until_complete(loop, f), 11);
  // stop() before the future completes
  aio::Future<int> never(loop);
  loop.call_soon([&] { loop.stop(); });
  EXPECT_RAISES_MSG(aio::run_until_complete(loop, never), RuntimeError,
                    "Event loop stopped before Future completed.");
  never.cancel();
}

TEST(Run, SystemExitInATaskPropagatesOutOfTheLoop) {
  auto main = []() -> Task<void> {
    throw batteries::SystemExit("bye");
    co_return;
  };
  EXPECT_RAISES(aio::run(main()), batteries::SystemExit);
}

TEST(Debug, ACoroutineNeverAwaitedIsReportedInDebugMode) {
  aio::EventLoop loop;
  loop.set_debug(true);
  std::vector<std::string> reports;
  loop.set_exception_handler(
      [&](aio::EventLoop&, const aio::ExceptionContext& c) { reports.push_back(c.message); });
  aio::run_until_complete(loop, []() -> Task<void> {
    Task<int> forgotten = add(1, 2);
    co_return;
  }());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], "coroutine 'add' was never awaited");
}

}  // namespace
