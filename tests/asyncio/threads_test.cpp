// Tests of ConcurrentFuture, ThreadPoolExecutor, to_thread, run_in_executor and
// run_coroutine_threadsafe: threads meeting event loops.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <batteries/asyncio.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::ConcurrentFuture;
using aio::Task;
using aio::ThreadPoolExecutor;
using batteries::RuntimeError;
using batteries::TimeoutError;
using batteries::TypeError;
using batteries::ValueError;
using namespace std::chrono_literals;

namespace {

// Every wait in these tests is bounded by this, so a bug fails a test instead of hanging it.
constexpr double kLongWait = 10.0;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The threads of this process (Linux: /proc/self/status).
int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// The count to compare with later: a first thread is started (and joined) before it, as
// ThreadSanitizer starts its own background thread with the process's first thread.
int baseline_thread_count() {
  std::thread([] {}).join();
  return thread_count();
}

std::string this_thread_name() {
  char name[16] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  return name;
}

// A one-shot gate that threads wait at (bounded) until the test opens it.
class Gate {
 public:
  void open() { m_promise.set_value(); }
  bool wait() const { return m_future.wait_for(20s) == std::future_status::ready; }

 private:
  std::promise<void> m_promise;
  std::shared_future<void> m_future = m_promise.get_future().share();
};

// An event loop running in a thread of its own until the object goes.
class LoopThread {
 public:
  LoopThread() : m_thread([this] { m_loop->run_forever(); }) {}
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;
  ~LoopThread() {
    stop();
    m_loop.reset();
  }
  aio::EventLoop& loop() { return *m_loop; }
  /// Stops the loop and joins its thread; the loop is not closed.
  void stop() {
    if (!m_thread.joinable()) return;
    aio::EventLoop* loop = m_loop.get();
    loop->call_soon_threadsafe([loop] { loop->stop(); });
    m_thread.join();
  }

 private:
  std::unique_ptr<aio::EventLoop> m_loop = aio::new_event_loop();
  std::thread m_thread;
};

// ---- ConcurrentFuture ------------------------------------------------------------------------

TEST(ConcurrentFuture, StartsPendingAndFinishesWithAResult) {
  ConcurrentFuture<int> f;
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
  EXPECT_RAISES(f.result(0.01), TimeoutError);
  EXPECT_RAISES(f.result(0), TimeoutError);
  EXPECT_RAISES(f.result(5ms), TimeoutError);
  EXPECT_RAISES(static_cast<void>(f.exception(0.0)), TimeoutError);
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.cancel());  // running: too late
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.result(0), 42);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_FALSE(f.cancel());
}

TEST(ConcurrentFuture, SetResultWithoutRunningIsAllowed) {
  ConcurrentFuture<std::string> f;
  f.set_result("x");
  EXPECT_EQ(f.result(), "x");
  ConcurrentFuture<> v;
  v.set_result();
  v.result();
  EXPECT_TRUE(v.done());
}

TEST(ConcurrentFuture, ExceptionIsRaisedByResultAndReturnedByException) {
  ConcurrentFuture<int> f;
  f.set_exception(ValueError("bad value"));
  EXPECT_RAISES_MSG(f.result(), ValueError, "bad value");
  std::exception_ptr e = f.exception();
  ASSERT_TRUE(e);
  EXPECT_RAISES_MSG(std::rethrow_exception(e), ValueError, "bad value");
  EXPECT_RAISES(f.set_exception(std::exception_ptr()), TypeError);
}

TEST(ConcurrentFuture, CancelWhilePending) {
  ConcurrentFuture<int> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancel());  // already cancelled: still true, as in Python
  EXPECT_RAISES(f.result(), aio::CancelledError);
  EXPECT_RAISES(static_cast<void>(f.exception()), aio::CancelledError);
  EXPECT_FALSE(f.set_running_or_notify_cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_RAISES_MSG(f.set_result(1), aio::InvalidStateError, "CANCELLED_AND_NOTIFIED: <Future at");
}

TEST(ConcurrentFuture, StateErrorsUsePythonsMessages) {
  ConcurrentFuture<int> f;
  f.set_result(1);
  EXPECT_RAISES_MSG(f.set_result(2), aio::InvalidStateError, "FINISHED: <Future at 0x");
  EXPECT_RAISES_MSG(f.set_exception(ValueError("x")), aio::InvalidStateError, "FINISHED");
  EXPECT_RAISES_MSG(f.set_running_or_notify_cancel(), RuntimeError, "Future in unexpected state");
  ConcurrentFuture<int> running;
  running.set_running_or_notify_cancel();
  EXPECT_RAISES_MSG(running.set_running_or_notify_cancel(), RuntimeError,
                    "Future in unexpected state");
}

TEST(ConcurrentFuture, ReprFollowsPython) {
  ConcurrentFuture<int> f;
  EXPECT_NE(f.repr().find("<Future at 0x"), std::string::npos) << f.repr();
  EXPECT_NE(f.repr().find(" state=pending>"), std::string::npos) << f.repr();
  f.set_running_or_notify_cancel();
  EXPECT_NE(f.repr().find(" state=running>"), std::string::npos) << f.repr();
  f.set_result(3);
  EXPECT_NE(f.repr().find(" state=finished returned int>"), std::string::npos) << f.repr();
  ConcurrentFuture<> raised;
  raised.set_exception(ValueError("v"));
  EXPECT_NE(raised.repr().find(" state=finished raised ValueError>"), std::string::npos);
  ConcurrentFuture<> none;
  none.set_result();
  EXPECT_NE(none.str().find("returned NoneType>"), std::string::npos);
  ConcurrentFuture<> cancelled;
  cancelled.cancel();
  EXPECT_NE(cancelled.repr().find(" state=cancelled>"), std::string::npos);
}

TEST(ConcurrentFuture, ResultWaitsForAnotherThread) {
  ConcurrentFuture<int> f;
  std::thread producer([f]() mutable {
    std::this_thread::sleep_for(20ms);
    f.set_result(7);
  });
  EXPECT_EQ(f.result(kLongWait), 7);
  producer.join();
  ConcurrentFuture<int> g;
  std::thread failer([g]() mutable {
    std::this_thread::sleep_for(10ms);
    g.set_exception(ValueError("late"));
  });
  EXPECT_RAISES_MSG(g.result(std::chrono::seconds(10)), ValueError, "late");
  failer.join();
}

TEST(ConcurrentFuture, CancelFromAnotherThreadWakesTheWaiter) {
  ConcurrentFuture<int> f;
  std::thread canceller([f]() mutable {
    std::this_thread::sleep_for(10ms);
    f.cancel();
  });
  EXPECT_RAISES(f.result(kLongWait), aio::CancelledError);
  canceller.join();
}

TEST(ConcurrentFuture, DoneCallbacksRunOnceInTheFinishingThreadOrAtOnce) {
  ConcurrentFuture<int> f;
  std::vector<std::string> calls;
  std::thread::id ran_in;
  f.add_done_callback([&](ConcurrentFuture<int>& done) {
    calls.push_back("first " + std::to_string(done.result()));
    ran_in = std::this_thread::get_id();
  });
  f.add_done_callback([&](ConcurrentFuture<int>&) { calls.emplace_back("second"); });
  EXPECT_TRUE(calls.empty());
  std::thread producer([f]() mutable { f.set_result(5); });
  producer.join();
  EXPECT_EQ(calls, (std::vector<std::string>{"first 5", "second"}));
  EXPECT_NE(ran_in, std::this_thread::get_id());
  f.add_done_callback([&](ConcurrentFuture<int>& done) {
    EXPECT_TRUE(done == f);
    calls.emplace_back("late");
  });
  EXPECT_EQ(calls.back(), "late");  // already done: called at once
}

TEST(ConcurrentFuture, CallbackErrorsAreReportedAndTheOthersStillRun) {
  ConcurrentFuture<int> f;
  bool second = false;
  f.add_done_callback([](ConcurrentFuture<int>&) { throw ValueError("callback broke"); });
  f.add_done_callback([&](ConcurrentFuture<int>&) { second = true; });
  testing::internal::CaptureStderr();
  f.set_result(1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(second);
  EXPECT_NE(err.find("exception calling callback for <Future at"), std::string::npos) << err;
  EXPECT_NE(err.find("ValueError: callback broke"), std::string::npos) << err;
}

TEST(ConcurrentFuture, NanTimeoutIsAValueError) {
  ConcurrentFuture<int> f;
  EXPECT_RAISES(f.result(std::nan("")), ValueError);
}

// ---- ThreadPoolExecutor ----------------------------------------------------------------------

TEST(ThreadPoolExecutor, SubmitReturnsTheResultOrTheException) {
  ThreadPoolExecutor pool(2);
  auto sum = pool.submit([](int a, int b) { return a + b; }, 20, 22);
  EXPECT_EQ(sum.result(kLongWait), 42);
  auto text = pool.submit([](std::string s) { return s + "!"; }, std::string("hi"));
  EXPECT_EQ(text.result(kLongWait), "hi!");
  std::atomic<bool> ran{false};
  auto nothing = pool.submit([&ran] { ran = true; });
  nothing.result(kLongWait);
  EXPECT_TRUE(ran);
  auto fails = pool.submit([]() -> int { throw ValueError("in a worker"); });
  EXPECT_RAISES_MSG(fails.result(kLongWait), ValueError, "in a worker");
  auto moved = pool.submit([] { return std::make_unique<int>(9); });
  EXPECT_EQ(*moved.result(kLongWait), 9);
}

TEST(ThreadPoolExecutor, MaxWorkersDefaultsAsInPython) {
  const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
  ThreadPoolExecutor pool;
  EXPECT_EQ(pool.max_workers(), static_cast<int>(std::min(32U, cpus + 4)));
  EXPECT_EQ(ThreadPoolExecutor(3).max_workers(), 3);
  EXPECT_RAISES_MSG(ThreadPoolExecutor(0), ValueError, "max_workers must be greater than 0");
  EXPECT_RAISES_MSG(ThreadPoolExecutor(-1), ValueError, "max_workers must be greater than 0");
}

TEST(ThreadPoolExecutor, SubmitAfterShutdownRaises) {
  ThreadPoolExecutor pool(1);
  pool.shutdown();
  EXPECT_RAISES_MSG(pool.submit([] { return 1; }), RuntimeError,
                    "cannot schedule new futures after shutdown");
  pool.shutdown();  // again: nothing happens
}

TEST(ThreadPoolExecutor, ShutdownWithWaitRunsTheQueuedCalls) {
  ThreadPoolExecutor pool(1);
  std::vector<ConcurrentFuture<int>> futures;
  for (int i = 0; i < 5; ++i) {
    futures.push_back(pool.submit(
        [](int n) {
          std::this_thread::sleep_for(2ms);
          return n * n;
        },
        i));
  }
  pool.shutdown(true);
  EXPECT_EQ(pool.thread_count(), 0U);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(futures[i].done());
    EXPECT_EQ(futures[i].result(), i * i);
  }
}

TEST(ThreadPoolExecutor, ShutdownCanCancelTheQueuedCalls) {
  ThreadPoolExecutor pool(1);
  Gate gate;
  std::atomic<int> ran{0};
  auto first = pool.submit([&] {
    gate.wait();
    return ++ran;
  });
  while (!first.running()) std::this_thread::sleep_for(1ms);
  std::vector<ConcurrentFuture<int>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(pool.submit([&] { return ++ran; }));
  pool.shutdown(false, {.cancel_futures = true});
  for (auto& f : queued) {
    EXPECT_TRUE(f.cancelled());
    EXPECT_RAISES(f.result(), aio::CancelledError);
  }
  EXPECT_TRUE(first.running());
  gate.open();
  pool.shutdown(true);
  EXPECT_EQ(first.result(), 1);
  EXPECT_EQ(ran, 1);
}

TEST(ThreadPoolExecutor, ACancelledFutureIsNeverRun) {
  ThreadPoolExecutor pool(1);
  Gate gate;
  auto blocker = pool.submit([&] { gate.wait(); });
  std::atomic<bool> ran{false};
  auto later = pool.submit([&] { ran = true; });
  EXPECT_TRUE(later.cancel());
  gate.open();
  pool.shutdown(true);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(later.cancelled());
  blocker.result();
}

TEST(ThreadPoolExecutor, ReusesIdleThreads) {
  ThreadPoolExecutor pool(4);
  for (int i = 0; i < 10; ++i) {
    pool.submit([] {}).result(kLongWait);
    // The worker counts itself idle just after the result: give it that moment (as in
    // Python, a submit that comes sooner starts another thread).
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_LE(pool.thread_count(), 2U);
}

TEST(ThreadPoolExecutor, StartsUpToMaxWorkersThreadsNamedAfterThePrefix) {
  ThreadPoolExecutor pool(3, "worker");
  Gate gate;
  std::vector<ConcurrentFuture<std::string>> names;
  for (int i = 0; i < 5; ++i) {
    names.push_back(pool.submit([&] {
      gate.wait();
      return this_thread_name();
    }));
  }
  EXPECT_EQ(pool.thread_count(), 3U);
  gate.open();
  for (auto& name : names) EXPECT_EQ(name.result(kLongWait).rfind("worker_", 0), 0U);
}

TEST(ThreadPoolExecutor, AFailingInitializerBreaksThePool) {
  testing::internal::CaptureStderr();
  ThreadPoolExecutor pool(1, "", [] { throw ValueError("no init"); });
  auto f = pool.submit([] { return 1; });
  EXPECT_RAISES_MSG(f.result(kLongWait), aio::BrokenThreadPool,
                    "A thread initializer failed, the thread pool is not usable anymore");
  EXPECT_RAISES(pool.submit([] { return 2; }), aio::BrokenExecutor);
  pool.shutdown(true);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in initializer:"), std::string::npos) << err;
}

TEST(ThreadPoolExecutor, InitializerRunsInEachWorker) {
  std::atomic<int> inits{0};
  {
    ThreadPoolExecutor pool(2, "", [&] { ++inits; });
    pool.submit([] {}).result(kLongWait);
  }
  EXPECT_EQ(inits, 1);
}

TEST(ThreadPoolExecutor, TheDestructorWaitsForTheCalls) {
  std::atomic<bool> finished{false};
  ConcurrentFuture<> f;
  {
    ThreadPoolExecutor pool(1);
    f = pool.submit([&] {
      std::this_thread::sleep_for(20ms);
      finished = true;
    });
  }
  EXPECT_TRUE(finished);
  EXPECT_TRUE(f.done());
}

TEST(ThreadPoolExecutor, ACallMayDropTheLastReferenceToItsOwnPool) {
  const int before = baseline_thread_count();
  auto pool = std::make_shared<ThreadPoolExecutor>(1);
  Gate gate;
  auto f = pool->submit([&gate, self = pool]() mutable {
    gate.wait();
    self.reset();  // the destructor runs in the pool's own worker: it cannot join itself
    return 5;
  });
  pool.reset();
  gate.open();
  EXPECT_EQ(f.result(kLongWait), 5);
  // The worker was detached; it exits by itself (waited for here, so that the tests that
  // count threads are not disturbed).
  for (int i = 0; i < 5000 && thread_count() != before; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(thread_count(), before);
}

// An executor of one's own: a thread per call, and a switch to drop the work instead.
class ThreadPerCall final : public aio::Executor {
 public:
  ~ThreadPerCall() override { do_shutdown(true, {}); }
  void submit_work(std::unique_ptr<aio::WorkItem> item) override {
    ++submitted;
    if (drop) return;  // the item goes: its future is cancelled
    std::shared_ptr<aio::WorkItem> shared = std::move(item);
    const std::lock_guard lock(m_mutex);
    m_threads.emplace_back([shared] { shared->run(); });
  }
  std::atomic<int> submitted{0};
  bool drop = false;

 protected:
  void do_shutdown(bool, aio::ShutdownOptions) override {
    std::vector<std::thread> threads;
    {
      const std::lock_guard lock(m_mutex);
      threads.swap(m_threads);
    }
    for (auto& t : threads) t.join();
  }

 private:
  std::mutex m_mutex;
  std::vector<std::thread> m_threads;
};

TEST(Executor, AUserExecutorRunsTheWorkItsWay) {
  ThreadPerCall executor;
  auto f = executor.submit([](int x) { return x + 1; }, 1);
  EXPECT_EQ(f.result(kLongWait), 2);
  executor.drop = true;
  auto dropped = executor.submit([] { return 0; });
  EXPECT_TRUE(dropped.cancelled());
  EXPECT_EQ(executor.submitted, 2);
}

// ---- to_thread -------------------------------------------------------------------------------

TEST(ToThread, ReturnsTheResultFromAnotherThread) {
  const std::thread::id loop_thread = std::this_thread::get_id();
  auto work = [loop_thread](int a, int b) {
    EXPECT_NE(std::this_thread::get_id(), loop_thread);
    EXPECT_EQ(this_thread_name().rfind("asyncio_", 0), 0U) << this_thread_name();
    return a * b;
  };
  auto main = [&]() -> Task<int> { co_return co_await aio::to_thread(work, 6, 7); };
  EXPECT_EQ(aio::run(main()), 42);
}

TEST(ToThread, RaisesTheCallsException) {
  auto main = []() -> Task<std::string> {
    try {
      co_await aio::to_thread([] { throw ValueError("thread failed"); });
    } catch (const ValueError& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(aio::run(main()), "thread failed");
}

TEST(ToThread, VoidAndMoveOnlyResults) {
  std::atomic<int> calls{0};
  auto main = [&]() -> Task<int> {
    co_await aio::to_thread([&] { ++calls; });
    std::unique_ptr<int> p = co_await aio::to_thread([] { return std::make_unique<int>(5); });
    co_return *p + calls;
  };
  EXPECT_EQ(aio::run(main()), 6);
}

TEST(ToThread, ManyCallsOverlap) {
  // 8 sleeps of 50 ms in 8 threads: together well under the 400 ms they take in a row.
  constexpr int kCalls = 8;
  auto main = [&]() -> Task<double> {
    aio::get_running_loop().set_default_executor(std::make_shared<ThreadPoolExecutor>(kCalls));
    auto nap = [] { std::this_thread::sleep_for(50ms); };
    auto one = [&]() -> Task<void> { co_await aio::to_thread(nap); };
    const double start = now();
    std::vector<Task<void>> tasks;
    for (int i = 0; i < kCalls; ++i) tasks.push_back(aio::create_task(one()));
    for (auto& t : tasks) co_await t;
    co_return now() - start;
  };
  const double took = aio::run(main());
  EXPECT_GE(took, 0.045);
  EXPECT_LT(took, 0.3);
}

TEST(ToThread, CancellingTheTaskLeavesTheRunningCallToFinish) {
  std::atomic<bool> finished{false};
  Gate started;
  auto slow = [&] {
    started.open();
    std::this_thread::sleep_for(30ms);
    finished = true;
    return 1;
  };
  auto waiter = [&]() -> Task<int> { co_return co_await aio::to_thread(slow); };
  auto main = [&]() -> Task<bool> {
    auto t = aio::create_task(waiter());
    co_await aio::to_thread([&] { started.wait(); });
    t.cancel();
    try {
      co_await t;
    } catch (const aio::CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(aio::run(main()));
  EXPECT_TRUE(finished);  // asyncio::run waited for the default executor
}

// ---- run_in_executor -------------------------------------------------------------------------

TEST(RunInExecutor, DefaultAndUserExecutors) {
  auto loop = aio::new_event_loop();
  auto doubled = aio::run_in_executor(
      *loop, nullptr, [](int x) { return 2 * x; }, 21);
  EXPECT_EQ(aio::run_until_complete(*loop, doubled), 42);

  ThreadPoolExecutor pool(2, "mine");
  auto name = aio::run_in_executor(*loop, &pool, [] { return this_thread_name(); });
  EXPECT_EQ(aio::run_until_complete(*loop, name).rfind("mine_", 0), 0U);

  auto fails = aio::run_in_executor(*loop, &pool, []() -> int { throw ValueError("x"); });
  EXPECT_RAISES(aio::run_until_complete(*loop, fails), ValueError);
  loop->close();
}

TEST(RunInExecutor, OnAClosedLoopRaises) {
  auto loop = aio::new_event_loop();
  loop->close();
  EXPECT_RAISES_MSG(aio::run_in_executor(*loop, nullptr, [] {}), RuntimeError,
                    "Event loop is closed");
}

TEST(RunInExecutor, AfterShutdownDefaultExecutorRaises) {
  auto loop = aio::new_event_loop();
  auto first = aio::run_in_executor(*loop, nullptr, [] { return 1; });
  EXPECT_EQ(aio::run_until_complete(*loop, first), 1);
  aio::run_until_complete(*loop, aio::shutdown_default_executor(*loop));
  EXPECT_RAISES_MSG(aio::run_in_executor(*loop, nullptr, [] {}), RuntimeError,
                    "Executor shutdown has been called");
  ThreadPoolExecutor pool(1);
  auto user = aio::run_in_executor(*loop, &pool, [] { return 2; });  // other executors still work
  EXPECT_EQ(aio::run_until_complete(*loop, user), 2);
  loop->close();
}

TEST(RunInExecutor, ShutdownDefaultExecutorWaitsForTheCalls) {
  std::atomic<bool> finished{false};
  auto main = [&]() -> Task<void> {
    aio::EventLoop& loop = aio::get_running_loop();
    auto pending = aio::run_in_executor(loop, nullptr, [&] {
      std::this_thread::sleep_for(30ms);
      finished = true;
    });
    co_await aio::shutdown_default_executor(loop);
    EXPECT_TRUE(finished);
    co_await pending;  // its result came through the loop while it waited
  };
  aio::run(main());
}

TEST(RunInExecutor, CancellingTheFutureCancelsAQueuedCall) {
  auto loop = aio::new_event_loop();
  ThreadPoolExecutor pool(1);
  Gate gate;
  auto blocker = aio::run_in_executor(*loop, &pool, [&] { gate.wait(); });
  std::atomic<bool> ran{false};
  auto queued = aio::run_in_executor(*loop, &pool, [&] { ran = true; });
  EXPECT_TRUE(queued.cancel());
  // One iteration runs the done callback that cancels the concurrent future.
  aio::run_until_complete(*loop, aio::run_in_executor(*loop, nullptr, [] {}));
  gate.open();
  aio::run_until_complete(*loop, blocker);
  pool.shutdown(true);
  EXPECT_FALSE(ran);
  loop->close();
}

TEST(RunInExecutor, AResultAfterTheLoopIsGoneIsDropped) {
  ThreadPoolExecutor pool(1);
  Gate gate;
  std::atomic<bool> finished{false};
  {
    auto loop = aio::new_event_loop();
    auto f = aio::run_in_executor(*loop, &pool, [&] {
      gate.wait();
      finished = true;
      return std::string("too late");
    });
    loop->close();
  }  // the loop is destroyed while the call still runs
  gate.open();
  pool.shutdown(true);
  EXPECT_TRUE(finished);
}

TEST(RunInExecutor, WrapFutureAwaitsAConcurrentFuture) {
  auto main = []() -> Task<int> {
    ConcurrentFuture<int> cf;
    std::thread producer([cf]() mutable {
      std::this_thread::sleep_for(10ms);
      cf.set_result(11);
    });
    int value = co_await aio::wrap_future(cf);
    producer.join();
    // Cancelling the asyncio side cancels the concurrent one.
    ConcurrentFuture<int> other;
    auto wrapped = aio::wrap_future(other, aio::get_running_loop());
    wrapped.cancel();
    co_await aio::sleep(0);
    co_await aio::sleep(0);
    EXPECT_TRUE(other.cancelled());
    co_return value;
  };
  EXPECT_EQ(aio::run(main()), 11);
}

// ---- the default executor's threads ------------------------------------------------------------

TEST(DefaultExecutor, AsyncioRunLeavesNoThreadsBehind) {
  const int before = baseline_thread_count();
  ASSERT_GT(before, 0);
  int during = 0;
  auto main = [&]() -> Task<void> {
    auto nap = [] { std::this_thread::sleep_for(10ms); };
    std::vector<Task<void>> tasks;
    auto one = [&]() -> Task<void> { co_await aio::to_thread(nap); };
    for (int i = 0; i < 4; ++i) tasks.push_back(aio::create_task(one()));
    co_await aio::sleep(0.002);
    during = thread_count();
    for (auto& t : tasks) co_await t;
    // A call still running when main returns: asyncio::run waits for it.
    aio::create_task(aio::to_thread([] { std::this_thread::sleep_for(20ms); }));
    co_await aio::sleep(0);
  };
  aio::run(main());
  EXPECT_GT(during, before);
  EXPECT_EQ(thread_count(), before);
}

TEST(DefaultExecutor, CloseJoinsTheThreads) {
  const int before = baseline_thread_count();
  auto loop = aio::new_event_loop();
  std::atomic<bool> finished{false};
  auto f = aio::run_in_executor(*loop, nullptr, [] { return 1; });
  EXPECT_EQ(aio::run_until_complete(*loop, f), 1);
  auto slow = aio::run_in_executor(*loop, nullptr, [&] {
    std::this_thread::sleep_for(20ms);
    finished = true;
  });
  EXPECT_GT(thread_count(), before);
  loop->close();  // waits for the running call: no thread is left behind
  EXPECT_TRUE(finished);
  EXPECT_EQ(thread_count(), before);
}

TEST(DefaultExecutor, SetDefaultExecutorIsUsedAndSharedOwnershipIsKept) {
  auto pool = std::make_shared<ThreadPoolExecutor>(1, "custom");
  {
    auto loop = aio::new_event_loop();
    loop->set_default_executor(pool);
    auto name = aio::run_in_executor(*loop, nullptr, [] { return this_thread_name(); });
    EXPECT_EQ(aio::run_until_complete(*loop, name).rfind("custom_", 0), 0U);
    EXPECT_RAISES_MSG(loop->set_default_executor(nullptr), TypeError,
                      "executor must be ThreadPoolExecutor");
  }
  // close() shut it down (wait=False, as Python), and the user's reference keeps it alive.
  EXPECT_RAISES(pool->submit([] {}), RuntimeError);
}

// ---- run_coroutine_threadsafe ------------------------------------------------------------------

Task<int> add_later(int a, int b) {
  co_await aio::sleep(0.001);
  co_return a + b;
}

Task<void> nap_on_loop(double seconds) { co_await aio::sleep(seconds); }

Task<int> fail_later() {
  co_await aio::sleep(0.001);
  throw ValueError("coroutine failed");
}

TEST(RunCoroutineThreadsafe, ResultFromALoopInAnotherThread) {
  LoopThread runner;
  auto f = aio::run_coroutine_threadsafe(add_later(40, 2), runner.loop());
  EXPECT_EQ(f.result(kLongWait), 42);
  auto g = aio::run_coroutine_threadsafe(fail_later(), runner.loop());
  std::exception_ptr e = g.exception(kLongWait);
  ASSERT_TRUE(e);
  // The loop's thread stops before this one reads the exception it made: ThreadSanitizer
  // cannot see exception_ptr's reference count (see threads.hpp).
  runner.stop();
  EXPECT_RAISES_MSG(g.result(), ValueError, "coroutine failed");
}

TEST(RunCoroutineThreadsafe, FromManyPlainThreads) {
  LoopThread runner;
  std::vector<std::thread> threads;
  std::atomic<int> total{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 10; ++j) {
        total += aio::run_coroutine_threadsafe(add_later(i, j), runner.loop()).result(kLongWait);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total, 10 * (0 + 1 + 2 + 3) + 4 * 45);
}

TEST(RunCoroutineThreadsafe, CancellingTheFutureCancelsTheTask) {
  Gate started;
  std::atomic<bool> saw_cancel{false};
  auto sleeper = [&]() -> Task<int> {
    started.open();
    try {
      co_await aio::sleep(30.0);
    } catch (const aio::CancelledError&) {
      saw_cancel = true;
      throw;
    }
    co_return 0;
  };
  LoopThread runner;  // after what its tasks use, so that it stops first
  auto f = aio::run_coroutine_threadsafe(sleeper(), runner.loop());
  ASSERT_TRUE(started.wait());
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_RAISES(f.result(kLongWait), aio::CancelledError);
  for (int i = 0; i < 2000 && !saw_cancel; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(saw_cancel);
}

TEST(RunCoroutineThreadsafe, ATaskCancelledInTheLoopCancelsTheFuture) {
  LoopThread runner;
  auto self_cancelling = []() -> Task<int> {
    aio::current_task().cancel();
    co_await aio::sleep(0);
    co_return 1;
  };
  auto f = aio::run_coroutine_threadsafe(self_cancelling(), runner.loop());
  EXPECT_RAISES(f.result(kLongWait), aio::CancelledError);
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafe, CancelledBeforeTheLoopGotToItTheBodyNeverRuns) {
  auto loop = aio::new_event_loop();
  std::atomic<bool> ran{false};
  auto body = [&]() -> Task<void> {
    ran = true;
    co_return;
  };
  auto f = aio::run_coroutine_threadsafe(body(), *loop);  // the loop is not running yet
  EXPECT_TRUE(f.cancel());
  aio::run_until_complete(*loop, nap_on_loop(0.001));
  EXPECT_FALSE(ran);
  loop->close();
}

TEST(RunCoroutineThreadsafe, ErrorsAsInPython) {
  auto loop = aio::new_event_loop();
  EXPECT_RAISES_MSG(aio::run_coroutine_threadsafe(Task<int>(), *loop), TypeError,
                    "A coroutine object is required");
  loop->close();
  EXPECT_RAISES_MSG(aio::run_coroutine_threadsafe(add_later(1, 2), *loop), RuntimeError,
                    "Event loop is closed");
}

TEST(RunCoroutineThreadsafe, ALoopDestroyedWithTheTaskPendingCancelsTheFuture) {
  ConcurrentFuture<int> f;
  Gate started;
  auto forever = [&]() -> Task<int> {
    started.open();
    co_await aio::sleep(60.0);
    co_return 0;
  };
  {
    LoopThread runner;
    f = aio::run_coroutine_threadsafe(forever(), runner.loop());
    ASSERT_TRUE(started.wait());
    runner.stop();
    runner.loop().set_exception_handler([](aio::EventLoop&, const aio::ExceptionContext&) {});
    EXPECT_FALSE(f.done());
  }  // "Task was destroyed but it is pending!": nothing can finish the future now
  EXPECT_TRUE(f.cancelled());
}

// ---- several loops and threads ------------------------------------------------------------------

TEST(Threads, TwoLoopsRunAtOnceInTwoThreads) {
  LoopThread b;
  std::atomic<bool> done{false};
  auto on_b = [&]() -> Task<int> {
    EXPECT_EQ(&aio::get_running_loop(), &b.loop());
    co_return co_await aio::to_thread([] { return 20; }) + 1;
  };
  auto main_a = [&]() -> Task<int> {
    aio::EventLoop& a = aio::get_running_loop();
    EXPECT_NE(&a, &b.loop());
    int from_thread = co_await aio::to_thread([] { return 21; });
    int from_b = co_await aio::wrap_future(aio::run_coroutine_threadsafe(on_b(), b.loop()));
    co_return from_thread + from_b;
  };
  int result = 0;
  std::thread a_thread([&] {
    result = aio::run(main_a());
    done = true;
  });
  a_thread.join();
  b.stop();
  EXPECT_TRUE(done);
  EXPECT_EQ(result, 42);
}

TEST(Threads, CallSoonThreadsafeFromManyThreads) {
  constexpr int kThreads = 8;
  constexpr int kEach = 200;
  const std::thread::id loop_thread = std::this_thread::get_id();
  int count = 0;  // touched by the loop's thread only
  bool wrong_thread = false;
  auto main = [&]() -> Task<int> {
    aio::EventLoop& loop = aio::get_running_loop();
    aio::Future<int> all(loop);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < kEach; ++j) {
          loop.call_soon_threadsafe([&] {
            if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
            if (++count == kThreads * kEach) all.set_result(count);
          });
        }
      });
    }
    int n = co_await all;
    for (auto& t : threads) t.join();
    co_return n;
  };
  EXPECT_EQ(aio::run(main()), kThreads * kEach);
  EXPECT_FALSE(wrong_thread);
}

TEST(Threads, AsyncioRunInsideAWorkerThread) {
  // Python allows asyncio.run() in a thread of to_thread; each loop has its own executor.
  auto inner = []() -> Task<int> { co_return co_await aio::to_thread([] { return 3; }); };
  auto main = [&]() -> Task<int> {
    co_return co_await aio::to_thread([&] { return aio::run(inner()) * 2; });
  };
  EXPECT_EQ(aio::run(main()), 6);
}

}  // namespace
