// Tests of gather, wait, wait_for, timeout, shield, as_completed and TaskGroup.
#include <gtest/gtest.h>

#include <batteries/asyncio.hpp>
#include <ranges>
#include <string>
#include <tuple>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Task;
using batteries::ValueError;

namespace {

Task<int> value_after(double delay, int value) {
  co_await aio::sleep(delay);
  co_return value;
}

Task<int> fail_after(double delay, std::string message) {
  co_await aio::sleep(delay);
  throw ValueError(message);
}

Task<void> forever() { co_await aio::sleep(3600); }

template <class E, class F>
bool raises(F&& f) {
  try {
    f();
  } catch (const E&) {
    return true;
  } catch (...) {
  }
  return false;
}

// ---- gather ---------------------------------------------------------------------------

TEST(Gather, APackGivesATupleInArgumentOrder) {
  auto main = []() -> Task<void> {
    auto void_task = []() -> Task<void> { co_await aio::sleep(0.001); };
    auto [a, b, none] =
        co_await aio::gather(value_after(0.02, 1), value_after(0.01, 2), void_task());
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(none, aio::None{});
    auto empty = co_await aio::gather();
    static_assert(std::tuple_size_v<decltype(empty)> == 0);
  };
  aio::run(main());
}

TEST(Gather, TheSeedExampleTakesTheLongestDelayNotTheSum) {
  std::vector<std::string> log;
  auto fetch_data = [&](std::string name, double delay) -> Task<std::string> {
    log.push_back(name + " starting");
    co_await aio::sleep(delay);
    log.push_back(name + " done");
    co_return name + "-result";
  };
  auto main = [&]() -> Task<double> {
    const double t0 = aio::get_running_loop().time();
    auto [a, b] = co_await aio::gather(fetch_data("A", 0.2), fetch_data("B", 0.1));
    EXPECT_EQ(a, "A-result");
    EXPECT_EQ(b, "B-result");
    co_return aio::get_running_loop().time() - t0;
  };
  const double took = aio::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"A starting", "B starting", "B done", "A done"}));
  EXPECT_GE(took, 0.2);
  EXPECT_LT(took, 0.29);  // 0.3 would mean the two ran one after the other
}

TEST(Gather, ARangeGivesAVector) {
  auto main = []() -> Task<void> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 100; ++i) tasks.push_back(value_after(0.001 * (i % 7), i));
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    EXPECT_EQ(results.size(), 100u);
    for (std::size_t i = 0; i < results.size(); ++i) EXPECT_EQ(results[i], static_cast<int>(i));
    std::vector<Task<int>> none;
    EXPECT_TRUE((co_await aio::gather(none)).empty());
    // Futures too, and started tasks whose results others may still read.
    aio::Future<int> f;
    f.set_result(5);
    auto started = aio::create_task(value_after(0, 6));
    std::vector<aio::Future<int>> futures{f, f};
    const std::vector<int> fives = co_await aio::gather(futures);
    EXPECT_EQ(fives, (std::vector<int>{5, 5}));
    auto [x, y] = co_await aio::gather(started, started);
    EXPECT_EQ(x + y, 12);
    EXPECT_EQ(started.result(), 6);
  };
  aio::run(main());
}

TEST(Gather, ARangeReadOnceOrAViewIsStartedInOrder) {
  auto main = []() -> Task<void> {
    std::vector<int> order;
    auto record = [&](int i) -> Task<int> {
      order.push_back(i);
      co_return i * 10;
    };
    // A transformed view: each element is a new, unstarted task, read once.
    auto view = std::views::iota(0, 5) | std::views::transform(record);
    const std::vector<int> got = co_await aio::gather(view);
    EXPECT_EQ(got, (std::vector<int>{0, 10, 20, 30, 40}));
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    auto empty = std::views::iota(0, 0) | std::views::transform(record);
    EXPECT_TRUE((co_await aio::gather(empty)).empty());
  };
  aio::run(main());
}

TEST(Gather, AnAdoptedVectorMayMixStartedAndUnstartedTasks) {
  auto main = []() -> Task<void> {
    auto running = aio::create_task(value_after(0.01, 1));
    std::vector<Task<int>> tasks;
    tasks.push_back(value_after(0, 0));
    tasks.push_back(running);  // others hold it: its result is copied, not moved
    tasks.push_back(value_after(0.005, 2));
    const std::vector<int> got = co_await aio::gather(std::move(tasks));
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(running.result(), 1);
  };
  aio::run(main());
}

TEST(Gather, AnEmptyHandleInAVectorIsATypeErrorAndTheStartedTasksFinish) {
  int finished = 0;
  auto child = [&]() -> Task<int> {
    co_await aio::sleep(0);
    ++finished;
    co_return 1;
  };
  auto main = [&]() -> Task<void> {
    std::vector<Task<int>> tasks;
    tasks.push_back(child());
    tasks.push_back(Task<int>());  // an empty handle
    tasks.push_back(child());
    EXPECT_RAISES_MSG(aio::gather(std::move(tasks)), batteries::TypeError,
                      "An asyncio.Future, a coroutine or an awaitable is required");
    co_await aio::sleep(0.01);
  };
  aio::run(main());
  EXPECT_EQ(finished, 1);  // the one started before the error ran; the one after did not
}

TEST(Gather, TheFirstExceptionPropagatesAndTheOthersKeepRunning) {
  auto main = []() -> Task<void> {
    auto slow = aio::create_task(value_after(0.05, 1));
    bool caught = false;
    try {
      co_await aio::gather(slow, fail_after(0.01, "first"), fail_after(0.02, "second"));
    } catch (const ValueError& e) {
      caught = true;
      EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_TRUE(caught);
    EXPECT_FALSE(slow.done());
    EXPECT_EQ(co_await slow, 1);
  };
  aio::run(main());
}

TEST(Gather, ReturnExceptionsGivesOutcomes) {
  auto main = []() -> Task<void> {
    auto cancelled = aio::create_task(forever());
    cancelled.cancel("stop");
    auto [a, b, c] = co_await aio::gather(aio::return_exceptions, value_after(0, 1),
                                          fail_after(0, "bad"), cancelled);
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(a.value(), 1);
    EXPECT_FALSE(b.ok());
    EXPECT_TRUE(b.holds<ValueError>());
    EXPECT_RAISES_MSG((void)b.value(), ValueError, "bad");
    EXPECT_TRUE(c.holds<aio::CancelledError>());

    std::vector<Task<int>> tasks;
    tasks.push_back(fail_after(0, "x"));
    tasks.push_back(value_after(0, 2));
    auto outcomes = co_await aio::gather(aio::return_exceptions, std::move(tasks));
    EXPECT_TRUE(outcomes[0].holds<ValueError>());
    EXPECT_EQ(outcomes[1].value(), 2);
  };
  aio::run(main());
}

TEST(Gather, CancellingTheGatherCancelsItsChildren) {
  std::vector<std::string> log;
  auto child = [&](std::string name) -> Task<void> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      log.push_back(name);
      throw;
    }
  };
  auto main = [&]() -> Task<void> {
    auto a = aio::create_task(child("a"));
    auto g = aio::gather(a, child("b"));
    co_await aio::sleep(0);
    EXPECT_TRUE(g.cancel());
    EXPECT_RAISES(co_await g, aio::CancelledError);
    EXPECT_TRUE(a.cancelled());
  };
  aio::run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
}

TEST(Gather, CancellingTheTaskThatAwaitsAGatherCancelsTheChildren) {
  int cancelled = 0;
  auto child = [&]() -> Task<void> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      ++cancelled;
      throw;
    }
  };
  auto waiter = [&]() -> Task<void> { co_await aio::gather(child(), child(), child()); };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(waiter());
    co_await aio::sleep(0.01);
    t.cancel();
    EXPECT_RAISES(co_await t, aio::CancelledError);
    EXPECT_TRUE(t.cancelled());
  };
  aio::run(main());
  EXPECT_EQ(cancelled, 3);
}

// ---- wait -------------------------------------------------------------------------------

TEST(Wait, AllCompletedFirstCompletedFirstExceptionAndTimeout) {
  auto main = []() -> Task<void> {
    std::vector<Task<int>> ts{aio::create_task(value_after(0.01, 1)),
                              aio::create_task(value_after(0.05, 2))};
    auto [done, pending] = co_await aio::wait(ts, std::nullopt, aio::FIRST_COMPLETED);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(pending.size(), 1u);
    EXPECT_EQ(done[0].result(), 1);
    auto all = co_await aio::wait(ts);
    EXPECT_EQ(all.done.size(), 2u);
    EXPECT_TRUE(all.pending.empty());

    std::vector<Task<int>> mixed{aio::create_task(value_after(0.05, 1)),
                                 aio::create_task(fail_after(0.01, "boom")),
                                 aio::create_task(value_after(3600, 3))};
    auto fe = co_await aio::wait(mixed, std::nullopt, aio::FIRST_EXCEPTION);
    EXPECT_EQ(fe.done.size(), 1u);
    EXPECT_EQ(fe.pending.size(), 2u);
    EXPECT_NE(fe.done[0].exception(), nullptr);

    auto timed = co_await aio::wait(mixed, 0.1);  // the hour-long one stays pending
    EXPECT_EQ(timed.done.size(), 2u);
    EXPECT_EQ(timed.pending.size(), 1u);
    EXPECT_FALSE(timed.pending[0].cancelled());  // wait() never cancels
    timed.pending[0].cancel();
  };
  aio::run(main());
}

TEST(Wait, RejectsAnEmptyRangeAndUnstartedCoroutines) {
  auto main = []() -> Task<void> {
    std::vector<Task<int>> none;
    EXPECT_RAISES_MSG(co_await aio::wait(none), ValueError, "Set of Tasks/Futures is empty.");
    std::vector<Task<int>> coros;
    coros.push_back(value_after(0, 1));
    EXPECT_RAISES_MSG(co_await aio::wait(coros), batteries::TypeError,
                      "Passing coroutines is forbidden, use tasks explicitly.");
  };
  aio::run(main());
}

// ---- wait_for ----------------------------------------------------------------------------

TEST(WaitFor, ReturnsTheResultInTimeAndRaisesTimeoutErrorAfter) {
  auto main = []() -> Task<void> {
    EXPECT_EQ(co_await aio::wait_for(value_after(0.01, 4), 1.0), 4);
    EXPECT_EQ(co_await aio::wait_for(value_after(0.01, 5), std::nullopt), 5);
    bool cleaned = false;
    auto slow = [&]() -> Task<int> {
      try {
        co_await aio::sleep(3600);
      } catch (const aio::CancelledError&) {
        cleaned = true;
        throw;
      }
      co_return 0;
    };
    auto t = aio::create_task(slow());
    EXPECT_RAISES(co_await aio::wait_for(t, std::chrono::milliseconds(20)),
                  batteries::TimeoutError);
    EXPECT_TRUE(cleaned);  // cancelled and awaited before wait_for returned
    EXPECT_TRUE(t.cancelled());
    // Zero and negative timeouts: a done future gives its result, otherwise a timeout.
    aio::Future<int> done;
    done.set_result(8);
    EXPECT_EQ(co_await aio::wait_for(done, 0.0), 8);
    EXPECT_RAISES(co_await aio::wait_for(value_after(1, 1), -1.0), batteries::TimeoutError);
  };
  aio::run(main());
}

TEST(WaitFor, AnInnerTaskThatIgnoresOneCancellationStillGivesItsValue) {
  auto stubborn = []() -> Task<int> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      // ignore the first cancellation and finish a little later
    }
    co_await aio::sleep(0.01);
    co_return 42;
  };
  auto main = [&]() -> Task<int> { co_return co_await aio::wait_for(stubborn(), 0.02); };
  EXPECT_EQ(aio::run(main()), 42);
}

TEST(WaitFor, CancellingTheCallerCancelsTheInnerTaskAndRaises) {
  bool inner_cancelled = false;
  auto inner = [&]() -> Task<int> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      inner_cancelled = true;
      throw;
    }
    co_return 1;
  };
  auto caller = [&]() -> Task<int> { co_return co_await aio::wait_for(inner(), 10.0); };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(caller());
    co_await aio::sleep(0.01);
    t.cancel();
    EXPECT_RAISES(co_await t, aio::CancelledError);
  };
  aio::run(main());
  EXPECT_TRUE(inner_cancelled);
}

// ---- timeout -----------------------------------------------------------------------------

TEST(Timeout, ExpiresIntoTimeoutErrorAndReportsExpired) {
  auto main = []() -> Task<void> {
    auto cm = aio::timeout(0.02);
    EXPECT_RAISES(co_await cm.run(forever()), batteries::TimeoutError);
    EXPECT_TRUE(cm.expired());
    EXPECT_EQ(cm.repr(), "<Timeout [expired]>");
    EXPECT_EQ(aio::current_task().cancelling(), 0u);  // the timeout's cancel was uncancelled

    auto ok = aio::timeout(1.0);
    EXPECT_EQ(co_await ok.run(value_after(0.001, 3)), 3);
    EXPECT_FALSE(ok.expired());
    EXPECT_RAISES_MSG(co_await ok.run(value_after(0, 1)), batteries::RuntimeError,
                      "Timeout has already been entered");
    EXPECT_RAISES_MSG(ok.reschedule(1.0), batteries::RuntimeError,
                      "Cannot change state of finished Timeout");
    auto never = aio::timeout(std::nullopt);
    EXPECT_EQ(co_await never.run(value_after(0.001, 9)), 9);
    EXPECT_RAISES_MSG(aio::timeout(1.0).reschedule(2.0), batteries::RuntimeError,
                      "Timeout has not been entered");
  };
  aio::run(main());
}

TEST(Timeout, RescheduleFromInsideTheBlockAndTimeoutAt) {
  auto main = []() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto cm = aio::timeout_at(loop.time() + 0.01);
    auto body = [&]() -> Task<int> {
      cm.reschedule(loop.time() + 1.0);  // extend it: the body outlives the first deadline
      co_await aio::sleep(0.03);
      co_return 1;
    };
    EXPECT_EQ(co_await cm.run(body()), 1);
    auto cm2 = aio::timeout(3600);
    auto shorten = [&]() -> Task<void> {
      cm2.reschedule(loop.time() - 1);  // in the past: expires at the next iteration
      co_await aio::sleep(3600);
    };
    EXPECT_RAISES(co_await cm2.run(shorten()), batteries::TimeoutError);
  };
  aio::run(main());
}

TEST(Timeout, AnOuterCancellationIsNotTurnedIntoTimeoutError) {
  auto inner = []() -> Task<void> {
    auto cm = aio::timeout(0.01);
    co_await cm.run(forever());
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(inner());
    co_await aio::sleep(0);
    t.cancel();  // cancelled from outside before the deadline
    EXPECT_RAISES(co_await t, aio::CancelledError);
  };
  aio::run(main());
}

TEST(Timeout, NestedTimeoutsRaiseInTheOneThatExpired) {
  auto main = []() -> Task<std::string> {
    auto outer = aio::timeout(0.02);
    auto body = []() -> Task<std::string> {
      auto inner = aio::timeout(3600);
      try {
        co_await inner.run(forever());
      } catch (const aio::CancelledError&) {
        co_return "inner saw CancelledError";  // the outer deadline is not the inner one's
      }
      co_return "no";
    };
    try {
      co_return co_await outer.run(body());
    } catch (const batteries::TimeoutError&) {
      co_return "outer timed out";
    }
  };
  // The inner block swallowed the CancelledError, so the outer block finished normally.
  EXPECT_EQ(aio::run(main()), "inner saw CancelledError");
}

// ---- shield ------------------------------------------------------------------------------

TEST(Shield, CancellingTheShieldLeavesTheInnerTaskRunning) {
  auto main = []() -> Task<void> {
    auto inner = aio::create_task(value_after(0.02, 7));
    auto waiter = [](Task<int> t) -> Task<int> { co_return co_await aio::shield(t); };
    auto w = aio::create_task(waiter(inner));
    co_await aio::sleep(0.005);
    w.cancel();
    EXPECT_RAISES(co_await w, aio::CancelledError);
    EXPECT_FALSE(inner.cancelled());
    EXPECT_EQ(co_await inner, 7);
    // The outcome passes through when not cancelled, exceptions included.
    EXPECT_EQ(co_await aio::shield(value_after(0, 3)), 3);
    EXPECT_RAISES(co_await aio::shield(fail_after(0, "x")), ValueError);
  };
  aio::run(main());
}

// ---- as_completed --------------------------------------------------------------------------

TEST(AsCompleted, GivesResultsInCompletionOrderThenTimesOut) {
  auto main = []() -> Task<void> {
    std::vector<Task<int>> ts;
    ts.push_back(value_after(0.03, 3));
    ts.push_back(value_after(0.01, 1));
    ts.push_back(value_after(0.02, 2));
    std::vector<int> order;
    for (auto& next : aio::as_completed(std::move(ts))) order.push_back(co_await next);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));

    std::vector<Task<int>> slow;
    slow.push_back(value_after(0.001, 1));
    slow.push_back(value_after(3600, 2));
    auto its = aio::as_completed(std::move(slow), 0.05);
    EXPECT_EQ(co_await its[0], 1);
    EXPECT_RAISES(co_await its[1], batteries::TimeoutError);
    for (auto& t : aio::all_tasks()) {
      if (t != aio::current_task()) t.cancel();
    }
  };
  aio::run(main());
}

// ---- TaskGroup ----------------------------------------------------------------------------

TEST(TaskGroup, WaitsForAllTasksAndReturnsTheBodysValue) {
  auto main = []() -> Task<int> {
    Task<int> a, b;
    const int body = co_await aio::task_group([&](aio::TaskGroup& tg) -> Task<int> {
      a = tg.create_task(value_after(0.02, 1));
      b = tg.create_task(value_after(0.01, 2), "second");
      co_return 10;
    });
    EXPECT_TRUE(a.done() && b.done());
    EXPECT_EQ(b.get_name(), "second");
    co_return body + a.result() + b.result();
  };
  EXPECT_EQ(aio::run(main()), 13);
}

TEST(TaskGroup, TwoFailingChildrenRaiseOneExceptionGroupWithBoth) {
  std::vector<std::string> log;
  auto sibling = [&]() -> Task<void> {
    try {
      co_await aio::sleep(3600);
    } catch (const aio::CancelledError&) {
      log.push_back("sibling cancelled");
      throw;
    }
  };
  auto main = [&]() -> Task<void> {
    try {
      co_await aio::task_group([&](aio::TaskGroup& tg) -> Task<void> {
        tg.create_task(fail_after(0.01, "one"));
        tg.create_task(fail_after(0.01, "two"));
        tg.create_task(sibling());
        try {
          co_await aio::sleep(3600);
        } catch (const aio::CancelledError&) {
          log.push_back("body cancelled");
          throw;
        }
      });
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const batteries::ExceptionGroup& eg) {
      EXPECT_STREQ(eg.what(), "unhandled errors in a TaskGroup (2 sub-exceptions)");
      std::vector<std::string> messages;
      for (const auto& e : eg.exceptions()) {
        try {
          std::rethrow_exception(e);
        } catch (const ValueError& v) {
          messages.push_back(v.what());
        }
      }
      EXPECT_EQ(messages, (std::vector<std::string>{"one", "two"}));
    }
    EXPECT_EQ(aio::current_task().cancelling(), 0u);
  };
  aio::run(main());
  // As in CPython: the siblings are cancelled first, then the body (the parent task).
  EXPECT_EQ(log, (std::vector<std::string>{"sibling cancelled", "body cancelled"}));
}

TEST(TaskGroup, AnErrorInTheBodyCancelsTheTasksAndIsGrouped) {
  auto main = []() -> Task<void> {
    Task<void> child;
    try {
      co_await aio::task_group([&](aio::TaskGroup& tg) -> Task<void> {
        child = tg.create_task(forever());
        co_await aio::sleep(0);
        throw ValueError("body");
      });
    } catch (const batteries::ExceptionGroup& eg) {
      EXPECT_EQ(eg.exceptions().size(), 1u);
    }
    EXPECT_TRUE(child.cancelled());
  };
  aio::run(main());
}

TEST(TaskGroup, ACancelledParentPropagatesCancelledError) {
  auto in_group = []() -> Task<void> {
    co_await aio::task_group([](aio::TaskGroup& tg) -> Task<void> {
      tg.create_task(forever());
      co_await aio::sleep(3600);
    });
  };
  auto main = [&]() -> Task<void> {
    auto t = aio::create_task(in_group());
    co_await aio::sleep(0.01);
    t.cancel();
    EXPECT_RAISES(co_await t, aio::CancelledError);
  };
  aio::run(main());
}

TEST(TaskGroup, CreateTaskErrorsAndBaseErrors) {
  auto main = []() -> Task<void> {
    aio::TaskGroup loose;
    EXPECT_RAISES_MSG(loose.create_task(value_after(0, 1)), batteries::RuntimeError,
                      "has not been entered");
    aio::TaskGroup manual;  // entered and exited by hand, as task_group() does
    manual.enter();
    EXPECT_RAISES(manual.enter(), batteries::RuntimeError);
    co_await manual.exit(nullptr);
    EXPECT_RAISES_MSG(manual.create_task(value_after(0, 1)), batteries::RuntimeError,
                      "is finished");
  };
  aio::run(main());
  // A task that raises KeyboardInterrupt ends the loop with it, as in Python (where the
  // group's __aexit__ re-raises it too, during asyncio.run's cleanup).
  auto exits = []() -> Task<void> {
    co_await aio::sleep(0);
    throw batteries::KeyboardInterrupt("stop");
  };
  auto main2 = [&]() -> Task<void> {
    co_await aio::task_group([&](aio::TaskGroup& tg) -> Task<void> {
      tg.create_task(exits());
      co_await aio::sleep(3600);
    });
  };
  EXPECT_RAISES_MSG(aio::run(main2()), batteries::KeyboardInterrupt, "stop");
}

TEST(TaskGroup, MatchesCPythonsOrderOfEvents) {
  const std::string script = R"(
import asyncio
log = []
async def child(name, delay, fail):
    log.append(f"start {name}")
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        log.append(f"cancel {name}")
        raise
    if fail:
        log.append(f"fail {name}")
        raise ValueError(name)
    log.append(f"done {name}")
async def main():
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child("a", 0.01, False))
            tg.create_task(child("b", 0.02, True))
            tg.create_task(child("c", 0.03, True))
            tg.create_task(child("d", 1, False))
            log.append("body done")
    except ExceptionGroup as eg:
        log.append(f"group {len(eg.exceptions)}")
asyncio.run(main())
print("|".join(log))
)";
  const auto expected = batteries::testing::run_python(script);
  if (!expected) GTEST_SKIP() << "no python3";
  std::vector<std::string> log;
  auto child = [&](std::string name, double delay, bool fail) -> Task<void> {
    log.push_back("start " + name);
    try {
      co_await aio::sleep(delay);
    } catch (const aio::CancelledError&) {
      log.push_back("cancel " + name);
      throw;
    }
    if (fail) {
      log.push_back("fail " + name);
      throw ValueError(name);
    }
    log.push_back("done " + name);
  };
  auto main = [&]() -> Task<void> {
    try {
      co_await aio::task_group([&](aio::TaskGroup& tg) -> Task<void> {
        tg.create_task(child("a", 0.01, false));
        tg.create_task(child("b", 0.02, true));
        tg.create_task(child("c", 0.03, true));
        tg.create_task(child("d", 1, false));
        log.push_back("body done");
        co_return;
      });
    } catch (const batteries::ExceptionGroup& eg) {
      log.push_back("group " + std::to_string(eg.exceptions().size()));
    }
  };
  aio::run(main());
  std::string got;
  for (const auto& l : log) got += (got.empty() ? "" : "|") + l;
  EXPECT_EQ(got + "\n", *expected);
}

}  // namespace
