// Tests of the asyncio event loop: ordering, timers, cancellation, errors, fds, threads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <batteries/asyncio.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "fds.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using batteries::RuntimeError;
using batteries::ValueError;

namespace {

TEST(EventLoop, CallSoonRunsInOrderAndNewCallbacksWaitForTheNextIteration) {
  aio::EventLoop loop;
  std::string order;
  loop.call_soon([&] {
    order += 'a';
    loop.call_soon([&] {
      order += 'c';
      loop.stop();
    });
  });
  loop.call_soon([&] { order += 'b'; });
  loop.run_forever();
  EXPECT_EQ(order, "abc");
}

TEST(EventLoop, StopLetsTheQueuedCallbacksRun) {
  aio::EventLoop loop;
  std::string order;
  loop.call_soon([&] {
    order += '1';
    loop.stop();
  });
  loop.call_soon([&] { order += '2'; });
  loop.run_forever();
  EXPECT_EQ(order, "12");
  // The loop runs again after a stop.
  loop.call_soon([&] {
    order += '3';
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(order, "123");
}

TEST(EventLoop, StopBeforeRunForeverRunsOneIteration) {
  aio::EventLoop loop;
  int ran = 0;
  loop.call_soon([&] { ++ran; });
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(loop.is_running());
}

TEST(EventLoop, TimersRunInTimeOrderAndTiesKeepTheirOrder) {
  aio::EventLoop loop;
  std::string order;
  const double now = loop.time();
  loop.call_at(now + 0.03, [&] {
    order += 'c';
    loop.stop();
  });
  loop.call_at(now + 0.01, [&] { order += 'a'; });
  loop.call_at(now + 0.02, [&] { order += 'b'; });
  loop.call_at(now + 0.02, [&] { order += 'B'; });
  loop.call_later(-1.0, [&] { order += '0'; });  // negative delays run at once
  loop.run_forever();
  EXPECT_EQ(order, "0abBc");
}

TEST(EventLoop, CallLaterWaitsAtLeastItsDelay) {
  aio::EventLoop loop;
  const double start = loop.time();
  double ran_at = 0;
  loop.call_later(std::chrono::milliseconds(50), [&] {
    ran_at = loop.time();
    loop.stop();
  });
  loop.run_forever();
  EXPECT_GE(ran_at - start, 0.05);
}

TEST(EventLoop, TimeIsMonotonic) {
  aio::EventLoop loop;
  const double a = loop.time();
  const double b = loop.time();
  EXPECT_LE(a, b);
}

TEST(EventLoop, CancelledCallbacksDoNotRun) {
  aio::EventLoop loop;
  bool soon = false;
  bool later = false;
  aio::Handle h = loop.call_soon([&] { soon = true; });
  aio::TimerHandle t = loop.call_later(0.001, [&] { later = true; });
  EXPECT_GT(t.when(), 0.0);
  h.cancel();
  t.cancel();
  t.cancel();  // twice is fine
  EXPECT_TRUE(h.cancelled());
  EXPECT_TRUE(t.cancelled());
  loop.call_later(0.01, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(soon);
  EXPECT_FALSE(later);
}

TEST(EventLoop, ACallbackMayCancelItsOwnHandleAndOthers) {
  aio::EventLoop loop;
  aio::Handle self;
  aio::Handle victim;
  bool victim_ran = false;
  self = loop.call_soon([&] {
    self.cancel();
    victim.cancel();
  });
  victim = loop.call_soon([&] { victim_ran = true; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(victim_ran);
}

TEST(EventLoop, ManyCancelledTimersAreCompacted) {
  aio::EventLoop loop;
  std::vector<aio::TimerHandle> timers;
  for (int i = 0; i < 1000; ++i) timers.push_back(loop.call_later(3600.0, [] {}));
  for (int i = 0; i < 900; ++i) timers[static_cast<std::size_t>(i)].cancel();
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(loop.timer_count(), 100u);
}

TEST(EventLoop, RunningAndClosingErrors) {
  aio::EventLoop loop;
  loop.call_soon([&] {
    EXPECT_RAISES_MSG(loop.run_forever(), RuntimeError, "This event loop is already running");
    EXPECT_RAISES_MSG(loop.close(), RuntimeError, "Cannot close a running event loop");
    aio::EventLoop other;
    EXPECT_RAISES_MSG(other.run_forever(), RuntimeError,
                      "Cannot run the event loop while another loop is running");
    EXPECT_EQ(&aio::get_running_loop(), &loop);
    EXPECT_TRUE(loop.is_running());
    loop.stop();
  });
  loop.run_forever();
  EXPECT_RAISES_MSG(aio::get_running_loop(), RuntimeError, "no running event loop");
  EXPECT_EQ(aio::running_loop(), nullptr);
  loop.close();
  loop.close();  // twice is fine
  EXPECT_TRUE(loop.is_closed());
  EXPECT_RAISES_MSG(loop.call_soon([] {}), RuntimeError, "Event loop is closed");
  EXPECT_RAISES_MSG(loop.call_later(1.0, [] {}), RuntimeError, "Event loop is closed");
  EXPECT_RAISES_MSG(loop.call_soon_threadsafe([] {}), RuntimeError, "Event loop is closed");
  EXPECT_RAISES_MSG(loop.run_forever(), RuntimeError, "Event loop is closed");
}

TEST(EventLoop, NanTimesAreValueErrors) {
  aio::EventLoop loop;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_RAISES((void)loop.call_later(nan, [] {}), ValueError);
  EXPECT_RAISES((void)loop.call_at(nan, [] {}), ValueError);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(EventLoop, ClosingDropsPendingCallbacksAndReleasesTheirCaptures) {
  auto token = std::make_shared<int>(7);
  {
    aio::EventLoop loop;
    loop.call_soon([token] {});
    loop.call_later(10.0, [token] {});
    loop.call_soon_threadsafe([token] {});
    EXPECT_EQ(token.use_count(), 4);
    loop.close();
    EXPECT_EQ(token.use_count(), 1);
  }
  EXPECT_EQ(token.use_count(), 1);
}

TEST(EventLoop, ExceptionsInCallbacksGoToTheHandlerAndTheLoopGoesOn) {
  aio::EventLoop loop;
  std::vector<std::string> seen;
  loop.set_exception_handler([&](aio::EventLoop& l, const aio::ExceptionContext& ctx) {
    EXPECT_EQ(&l, &loop);
    EXPECT_TRUE(ctx.handle.has_value());
    try {
      std::rethrow_exception(ctx.exception);
    } catch (const ValueError& e) {
      seen.push_back(ctx.message + ": " + e.what());
    }
  });
  bool after = false;
  loop.call_soon([] { throw ValueError("bad"); });
  loop.call_soon([&] {
    after = true;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(seen, (std::vector<std::string>{"Exception in callback: bad"}));
  EXPECT_TRUE(after);
}

TEST(EventLoop, DefaultHandlerWritesToStderr) {
  aio::EventLoop loop;
  loop.call_soon([] { throw ValueError("printed"); });
  loop.call_soon([&] { loop.stop(); });
  testing::internal::CaptureStderr();
  loop.run_forever();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in callback"), std::string::npos) << err;
  EXPECT_NE(err.find("ValueError: printed"), std::string::npos) << err;
}

TEST(EventLoop, AHandlerThatThrowsIsReportedByTheDefaultHandler) {
  aio::EventLoop loop;
  loop.set_exception_handler(
      [](aio::EventLoop&, const aio::ExceptionContext&) { throw RuntimeError("handler broke"); });
  loop.call_soon([] { throw ValueError("original"); });
  loop.call_soon([&] { loop.stop(); });
  testing::internal::CaptureStderr();
  loop.run_forever();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Unhandled error in exception handler"), std::string::npos) << err;
  EXPECT_NE(err.find("handler broke"), std::string::npos) << err;
  EXPECT_NE(err.find("original"), std::string::npos) << err;
}

TEST(EventLoop, SystemExitLeavesRunForever) {
  aio::EventLoop loop;
  loop.call_soon([] { throw batteries::SystemExit("bye"); });
  EXPECT_RAISES(loop.run_forever(), batteries::SystemExit);
  EXPECT_FALSE(loop.is_running());
  EXPECT_EQ(aio::running_loop(), nullptr);
  int ran = 0;
  loop.call_soon([&] {
    ++ran;
    loop.stop();
  });
  loop.run_forever();  // still usable
  EXPECT_EQ(ran, 1);
}

TEST(EventLoop, DebugModeReportsSlowCallbacks) {
  aio::EventLoop loop;
  loop.set_debug(true);
  loop.slow_callback_duration = 0.01;
  std::vector<std::string> messages;
  loop.set_exception_handler(
      [&](aio::EventLoop&, const aio::ExceptionContext& ctx) { messages.push_back(ctx.message); });
  loop.call_soon([] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("took 0.0"), std::string::npos) << messages[0];
}

TEST(EventLoop, ReadersRunWhileTheFdIsReadable) {
  aio::EventLoop loop;
  batteries::testing::Pipe pipe;
  std::string got;
  loop.add_reader(pipe.read_end.get(), [&] {
    char buf[16];
    const auto n = ::read(pipe.read_end.get(), buf, sizeof buf);
    got.append(buf, static_cast<std::size_t>(n));
    if (got == "hello") {
      EXPECT_TRUE(loop.remove_reader(pipe.read_end.get()));
      loop.stop();
    }
  });
  loop.call_later(0.01, [&] { ASSERT_EQ(::write(pipe.write_end.get(), "hello", 5), 5); });
  loop.run_forever();
  EXPECT_EQ(got, "hello");
  EXPECT_FALSE(loop.remove_reader(pipe.read_end.get()));
  EXPECT_FALSE(loop.remove_writer(pipe.read_end.get()));
}

TEST(EventLoop, WritersAndReplacingAReader) {
  aio::EventLoop loop;
  batteries::testing::Pipe pipe;
  int first = 0;
  int second = 0;
  loop.add_reader(pipe.read_end.get(), [&] { ++first; });
  loop.add_reader(pipe.read_end.get(), [&] {  // replaces the first
    ++second;
    char c;
    ASSERT_EQ(::read(pipe.read_end.get(), &c, 1), 1);
    loop.remove_reader(pipe.read_end.get());
    loop.stop();
  });
  loop.add_writer(pipe.write_end.get(), [&] {  // a pipe is writable at once
    ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1);
    EXPECT_TRUE(loop.remove_writer(pipe.write_end.get()));
  });
  loop.run_forever();
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST(EventLoop, BadDescriptorsAreValueErrors) {
  aio::EventLoop loop;
  EXPECT_RAISES_MSG(loop.add_reader(-1, [] {}), ValueError, "Invalid file descriptor: -1");
  EXPECT_RAISES(loop.add_writer(-5, [] {}), ValueError);
  // A descriptor that is not open: the selector refuses it and nothing is left behind.
  EXPECT_RAISES(loop.add_reader(1000, [] {}), batteries::OSError);
  EXPECT_FALSE(loop.remove_reader(1000));
}

TEST(EventLoop, CallSoonThreadsafeWakesAWaitingLoop) {
  aio::EventLoop loop;
  loop.call_later(3600.0, [] {});  // the loop would otherwise sleep an hour
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  const double start = loop.time();
  loop.run_forever();
  other.join();
  EXPECT_LT(loop.time() - start, 60.0);
}

TEST(EventLoop, CallSoonThreadsafeFromManyThreads) {
  aio::EventLoop loop;
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::atomic<int> done_threads{0};
  int ran = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) loop.call_soon_threadsafe([&] { ++ran; });
      if (done_threads.fetch_add(1) + 1 == kThreads) {
        loop.call_soon_threadsafe([&] { loop.stop(); });
      }
    });
  }
  loop.run_forever();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ran, kThreads * kEach);
}

TEST(EventLoop, OneLoopPerThreadAtTheSameTime) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      aio::EventLoop loop;
      loop.call_later(0.01, [&] {
        if (&aio::get_running_loop() == &loop) ++ok;
        loop.stop();
      });
      loop.run_forever();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
}

// The same schedule in CPython and here: the order callbacks run in must agree.
TEST(EventLoop, OrderingMatchesCPython) {
  const char* script = R"PY(
import asyncio
loop = asyncio.new_event_loop()
out = []
def soon(tag, more=()):
    out.append(tag)
    for m in more:
        loop.call_soon(soon, m)
t = loop.time()
loop.call_at(t + 0.02, soon, 'T2', ('T2a', 'T2b'))
loop.call_at(t + 0.01, soon, 'T1')
h = loop.call_at(t + 0.015, soon, 'X')
loop.call_soon(soon, 'S1', ('S1a',))
loop.call_soon(soon, 'S2')
h.cancel()
loop.call_later(-1, soon, 'N', ('Na',))
loop.call_at(t + 0.03, loop.stop)
loop.run_forever()
print(' '.join(out))
)PY";
  const auto python = batteries::testing::run_python(script);
  if (!python) GTEST_SKIP() << "no python3";

  aio::EventLoop loop;
  std::vector<std::string> out;
  std::function<void(std::string, std::vector<std::string>)> soon =
      [&](std::string tag, std::vector<std::string> more) {
        out.push_back(tag);
        for (auto& m : more) loop.call_soon([&soon, m] { soon(m, {}); });
      };
  const double t = loop.time();
  loop.call_at(t + 0.02, [&] { soon("T2", {"T2a", "T2b"}); });
  loop.call_at(t + 0.01, [&] { soon("T1", {}); });
  aio::TimerHandle h = loop.call_at(t + 0.015, [&] { soon("X", {}); });
  loop.call_soon([&] { soon("S1", {"S1a"}); });
  loop.call_soon([&] { soon("S2", {}); });
  h.cancel();
  loop.call_later(-1.0, [&] { soon("N", {"Na"}); });
  loop.call_at(t + 0.03, [&] { loop.stop(); });
  loop.run_forever();
  std::string joined;
  for (const auto& s : out) joined += (joined.empty() ? "" : " ") + s;
  EXPECT_EQ(joined + "\n", *python);
}

}  // namespace
