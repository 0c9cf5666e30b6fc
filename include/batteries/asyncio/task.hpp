// Coroutines and tasks: Task<T>, create_task, sleep, current_task, all_tasks and run.
//
// A coroutine function returns Task<T>. Calling it creates the coroutine but runs none of
// it (the frame is allocated and the arguments copied in). Then either
//   - `co_await f()` runs it in place, inside the awaiting task, as Python's `await coro()`
//     does (no scheduling: control passes straight into it and straight back); or
//   - `create_task(f())` schedules it to run concurrently, as an asyncio Task: it starts
//     at the loop's next iteration, and the Task handle can be awaited, cancelled and
//     inspected like a Future.
// Each suspension of a task (awaiting a future, a pending task, a sleep, a lock) goes back
// to the loop, and the task resumes through the loop's ready queue, as in Python.
//
// A Task handle is reference counted; the frame lives while a handle or the running task
// itself refers to it. A task that is running keeps itself alive until it is done (unlike
// Python, where a task nobody references may be garbage collected mid-flight).
//
// Cancellation follows Python 3.11: task.cancel(msg) makes the CancelledError appear where
// the task waits (or at its next wait), and counts requests for cancelling()/uncancel().
//
// Thread-safety: tasks belong to the thread of the loop they run on. A Task that has not
// started may be moved to another thread (run_coroutine_threadsafe does that).
#pragma once

#include <batteries/asyncio/future.hpp>

#include <chrono>
#include <cmath>
#include <coroutine>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries::asyncio {

namespace detail {

/// The state of a task and of every coroutine frame: Python's Task minus the result.
/// Also a timer node, for sleep() without allocation.
class TaskCore : public FutureCore, public TimerNode {
 public:
  explicit TaskCore(const char* function) noexcept : FutureCore(nullptr), m_function(function) {
    m_is_task = true;
  }

  /// The task this frame runs in: itself once created as a task, the awaiting task's when
  /// awaited in place, null before either.
  [[nodiscard]] TaskCore* owner() const noexcept { return m_owner; }
  [[nodiscard]] bool started() const noexcept { return m_owner != nullptr; }
  [[nodiscard]] bool is_root() const noexcept { return m_owner == this; }
  [[nodiscard]] const char* function() const noexcept { return m_function; }

  /// create_task: schedules the first step. TypeError / RuntimeError if already started.
  void start(EventLoop& loop, std::optional<std::string> name);
  /// Runs this frame in place inside owner, returning to parent when done: the frame to
  /// transfer to.
  std::coroutine_handle<> run_inline(TaskCore* owner, std::coroutine_handle<> parent);

  bool cancel(std::string_view msg) override;
  [[nodiscard]] std::string repr() const override;
  [[nodiscard]] std::string get_name() const;
  void set_name(std::string name);
  [[nodiscard]] std::uint32_t cancelling() const noexcept { return m_num_cancels_requested; }
  std::uint32_t uncancel() noexcept {
    if (m_num_cancels_requested > 0) --m_num_cancels_requested;
    return m_num_cancels_requested;
  }

  /// At a resumption: raises the CancelledError a pending cancel() asked for.
  void throw_if_must_cancel();
  /// At a resumption that already raises a CancelledError: the pending request is consumed
  /// by it (Python's __step keeps the CancelledError it was given).
  void clear_must_cancel() noexcept { m_must_cancel = false; }
  /// Woken by the future it waited on: a cancelled future's own CancelledError consumes a
  /// pending cancel(); otherwise that cancel() is raised now (Python's __step).
  void resume_from(const FutureCore& waited) {
    if (waited.cancelled()) {
      clear_must_cancel();
    } else {
      throw_if_must_cancel();
    }
  }
  /// The task is about to suspend on waiter, to be resumed at frame h.
  void suspend_on(Waiter* waiter, std::coroutine_handle<> h) {
    m_waiter = waiter;
    m_link = h;
    // Python's __step: a task that must cancel (it cancelled itself while running) cancels
    // the new waiter at once, rather than when the waiter is done.
    if (m_must_cancel && waiter->cancel_wait(cancel_message())) m_must_cancel = false;
  }
  /// Schedules a step (Python's call_soon(self.__step)).
  void schedule_step();
  /// sleep(): arms the task's timer; cancel_sleep() disarms it and wakes the task.
  void begin_sleep(Waiter* waiter, std::coroutine_handle<> h, double delay);
  bool cancel_sleep();

  /// The ready-queue entry that resumes a task: step(task, unused).
  static void step(void* task, void* unused);
  /// The done callback that wakes a task waiting on a future.
  static void wakeup(void* task, void* future) { step(task, future); }

  /// The coroutine's end: an exception from unhandled_exception, then the final suspension.
  void store_exception(std::exception_ptr e) noexcept { m_exception = std::move(e); }
  std::coroutine_handle<> finish_frame() noexcept;

  /// ~EventLoop: the tasks still pending are reported ("Task was destroyed but it is
  /// pending!") and dropped.
  static void abandon_all(EventLoop& loop) noexcept;
  /// The loop's tasks that are not done (all_tasks()).
  static std::vector<TaskCore*> pending(EventLoop& loop);

  // The loop's list of pending tasks.
  TaskCore* m_prev = nullptr;
  TaskCore* m_next = nullptr;

 protected:
  void set_self(std::coroutine_handle<> self) noexcept { m_link = self; }

 private:
  friend class FutureCore;
  void report_never_awaited() noexcept;
  static void sleep_left_heap(TimerNode* node, bool live);

  // Before the frame starts, its own handle. Then, in a task: the frame to resume next
  // (the innermost one awaited in place). In a frame awaited in place: the awaiting frame.
  std::coroutine_handle<> m_link;
  TaskCore* m_owner = nullptr;
  Waiter* m_waiter = nullptr;  // Python's _fut_waiter
  const char* m_function;
  std::uint32_t m_id = 0;  // "Task-<id>" (it wraps after 2**32 tasks)
  std::uint32_t m_num_cancels_requested = 0;
};

template <class T>
struct PromiseReturn : ResultSlot<T> {
  template <class U = T>
  void return_value(U&& v) {
    this->put(std::forward<U>(v));
  }
};
template <>
struct PromiseReturn<void> : ResultSlot<void> {
  void return_void() noexcept {}
};

/// Coroutine frames come from per-thread free lists (frames.cpp): a task costs no malloc
/// once the thread has run tasks of its size before.
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;
/// False in sanitizer builds, where frames use plain operator new.
bool frames_are_pooled() noexcept;

template <class T>
class TaskPromise final : public TaskCore, public PromiseReturn<T> {
 public:
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* frame, std::size_t size) noexcept {
    deallocate_frame(frame, size);
  }
  // The default argument names the coroutine function, for repr() and debug reports.
  explicit TaskPromise(const char* function = __builtin_FUNCTION()) noexcept : TaskCore(function) {}

  Task<T> get_return_object() noexcept;

  // Lazy: a task runs when awaited or started. One cancelled before its first step never
  // enters the body (TaskCore::step raises CancelledError for it), so nothing is checked
  // here and the frame keeps no awaiter state for it.
  std::suspend_always initial_suspend() noexcept { return {}; }
  auto final_suspend() noexcept {
    struct Final {
      [[nodiscard]] bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<TaskPromise> h) noexcept {
        return h.promise().finish_frame();
      }
      void await_resume() const noexcept {}
    };
    return Final{};
  }
  void unhandled_exception() noexcept { store_exception(std::current_exception()); }

 protected:
  void destroy() noexcept override {
    std::coroutine_handle<TaskPromise>::from_promise(*this).destroy();
  }
};

/// Awaiting a task: in place when it has not started, else as a future.
template <class T, bool Move>
class TaskAwaiter : public FutureWait {
 public:
  using FutureWait::FutureWait;
  [[nodiscard]] bool await_ready() {
    m_inline = !task().started();
    return !m_inline && m_core->done();
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    TaskCore* owner = h.promise().owner();
    if (m_inline) return task().run_inline(owner, h);
    suspend(owner, h);
    return std::noop_coroutine();
  }
  decltype(auto) await_resume() {
    if (!m_inline) resume_checks();
    m_core->check_result();
    if constexpr (!std::is_void_v<T>) {
      auto& slot = static_cast<TaskPromise<T>&>(task()).value;
      if constexpr (Move) {
        return T(std::move(*slot));
      } else {
        return static_cast<const T&>(*slot);
      }
    }
  }

 private:
  TaskCore& task() const noexcept { return static_cast<TaskCore&>(*m_core); }
  bool m_inline = false;
};

/// Python's asyncio.sleep(): a timer with no allocation, or a bare yield for delay <= 0.
template <class T>
class SleepAwaiter : public Waiter {
 public:
  SleepAwaiter(double delay, T result) : m_delay(delay), m_result(std::move(result)) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_task = h.promise().owner();
    if (m_delay > 0) {
      m_task->begin_sleep(this, h, m_delay);
    } else {
      m_task->suspend_on(this, h);  // Python's __sleep0: a bare yield
      m_task->schedule_step();
    }
  }
  T await_resume() {
    if (m_cancelled) {
      m_task->clear_must_cancel();
      throw CancelledError(m_message ? *m_message : std::string());
    }
    m_task->throw_if_must_cancel();
    return std::move(m_result);
  }
  bool cancel_wait(std::string_view msg) override {
    if (m_delay <= 0 || !m_task->cancel_sleep()) return false;
    m_cancelled = true;
    if (!msg.empty()) m_message = std::make_unique<std::string>(msg);
    return true;
  }

 private:
  double m_delay;
  TaskCore* m_task = nullptr;
  std::unique_ptr<std::string> m_message;  // the cancellation's, if it had one
  bool m_cancelled = false;
  [[no_unique_address]] T m_result;
};

template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<Task<T>> = true;

}  // namespace detail

/// A handle to any task, whatever its result type: what current_task() and all_tasks()
/// return. It has Task's methods except result(); co_await waits for it and rethrows its
/// exception.
class AnyTask : public AnyFuture {
 public:
  AnyTask() = default;

  /// Python's Task.get_name(): "Task-<n>" unless set.
  [[nodiscard]] std::string get_name() const { return task().get_name(); }
  void set_name(std::string name) { task().set_name(std::move(name)); }
  /// The number of pending cancellation requests (Python 3.11's Task.cancelling()).
  [[nodiscard]] std::uint32_t cancelling() const { return task().cancelling(); }
  /// Decrements the pending cancellation requests; returns the count left.
  std::uint32_t uncancel() { return task().uncancel(); }
  /// The coroutine function's name (Python's get_coro().__qualname__, more or less).
  [[nodiscard]] std::string_view get_coro() const { return task().function(); }

  auto operator co_await() const noexcept { return detail::TaskAwaiter<void, false>(&core()); }

  static AnyTask borrow(detail::TaskCore* core) noexcept {
    core->retain();
    return AnyTask(core);
  }

 protected:
  explicit AnyTask(detail::FutureCore* adopted) noexcept : AnyFuture(adopted) {}
  [[nodiscard]] detail::TaskCore& task() const { return static_cast<detail::TaskCore&>(core()); }
};

/// A coroutine returning T, and the task that runs it (Python's coroutine object and
/// asyncio.Task in one). See the top of this file.
template <class T = void>
class Task : public AnyTask {
  static_assert(!std::is_reference_v<T>, "Task<T&> is not supported; return a pointer");

 public:
  using promise_type = detail::TaskPromise<T>;

  /// An empty handle.
  Task() = default;

  /// The result. CancelledError if cancelled, InvalidStateError("Result is not set.") if
  /// not done, the task's exception if it raised one.
  decltype(auto) result() const& {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*promise().value);
  }
  decltype(auto) result() && {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return T(std::move(*promise().value));
  }

  /// Adds fn(task) to run when it is done (see AnyFuture::add_done_callback).
  template <class F>
  requires std::invocable < F&, Task<T>
  & > std::uint64_t add_done_callback(F fn) {
    return core().add_user_callback([fn = std::move(fn)](detail::FutureCore& c) mutable {
      c.retain();
      Task<T> self(&c);
      fn(self);
    });
  }

  /// Awaiting an rvalue task moves its result out; an lvalue gives a const reference.
  auto operator co_await() const& noexcept { return detail::TaskAwaiter<T, false>(&core()); }
  auto operator co_await() && noexcept { return detail::TaskAwaiter<T, true>(&core()); }

 private:
  friend promise_type;
  explicit Task(detail::FutureCore* adopted) noexcept : AnyTask(adopted) {}
  promise_type& promise() const { return static_cast<promise_type&>(core()); }
};

template <class T>
Task<T> detail::TaskPromise<T>::get_return_object() noexcept {
  set_self(std::coroutine_handle<TaskPromise>::from_promise(*this));
  return Task<T>(this);
}

/// Python's asyncio.create_task(coro, name=None): schedules the coroutine on the running
/// loop and returns its task. RuntimeError outside a running loop.
template <class T>
Task<T> create_task(Task<T> coro, std::optional<std::string> name = std::nullopt) {
  if (!coro) throw TypeError("create_task() needs a coroutine, got an empty Task");
  static_cast<detail::TaskCore*>(coro.core_ptr())->start(get_running_loop(), std::move(name));
  return coro;
}

/// Python's asyncio.ensure_future(): a task that has not started is scheduled; a task or
/// future that has is returned as it is.
template <class T>
Task<T> ensure_future(Task<T> task) {
  if (task && !static_cast<detail::TaskCore*>(task.core_ptr())->started()) {
    return create_task(std::move(task));
  }
  return task;
}
template <class T>
Future<T> ensure_future(Future<T> future) {
  return future;
}

/// Python's asyncio.sleep(delay, result=None): suspends the task for delay seconds (at
/// least); delay <= 0 yields to the other tasks once, as sleep(0) does. ValueError for NaN.
inline detail::SleepAwaiter<None> sleep(double delay) {
  if (std::isnan(delay)) throw ValueError("delay must not be NaN");
  return {delay, None{}};
}
template <class T>
detail::SleepAwaiter<T> sleep(double delay, T result) {
  if (std::isnan(delay)) throw ValueError("delay must not be NaN");
  return {delay, std::move(result)};
}
template <class Rep, class Period>
detail::SleepAwaiter<None> sleep(std::chrono::duration<Rep, Period> delay) {
  return sleep(std::chrono::duration<double>(delay).count());
}
template <class Rep, class Period, class T>
detail::SleepAwaiter<T> sleep(std::chrono::duration<Rep, Period> delay, T result) {
  return sleep(std::chrono::duration<double>(delay).count(), std::move(result));
}

/// The task running now on the running loop, or an empty handle (Python's None).
AnyTask current_task();
AnyTask current_task(EventLoop& loop);
/// The tasks of the running loop that are not done yet.
std::vector<AnyTask> all_tasks();
std::vector<AnyTask> all_tasks(EventLoop& loop);

namespace detail {
/// Runs loop until f is done (Python's run_until_complete without the result).
void run_until_done(EventLoop& loop, FutureCore& f);
/// asyncio.run's end: cancels the pending tasks and waits for them, reporting errors.
void cancel_all_tasks(EventLoop& loop);
/// asyncio.run's checks and loop: runs main on a new loop, then cleans up and closes it.
void run_main(TaskCore& main, std::optional<bool> debug);
}  // namespace detail

/// Python's loop.run_until_complete(future): runs the loop until the task (started here if
/// it has not been) or future is done, and returns its result or rethrows its exception.
/// RuntimeError("Event loop stopped before Future completed.") if stop() came first.
template <class T>
T run_until_complete(EventLoop& loop, Task<T> task) {
  if (!task) throw TypeError("run_until_complete() needs a task, got an empty Task");
  auto* core = static_cast<detail::TaskCore*>(task.core_ptr());
  if (!core->started()) core->start(loop, std::nullopt);
  detail::run_until_done(loop, *core);
  return std::move(task).result();
}
template <class T>
T run_until_complete(EventLoop& loop, Future<T> future) {
  if (!future) throw TypeError("run_until_complete() needs a future, got an empty Future");
  detail::run_until_done(loop, *future.core_ptr());
  return std::move(future).result();
}

/// Python's asyncio.run(main, debug=None): runs main on a new event loop and returns its
/// result (or rethrows its exception). When main is done, the tasks still pending are
/// cancelled and awaited, then the loop is closed. RuntimeError when called from a running
/// loop.
///
/// Ctrl+C, as Python 3.11's asyncio.Runner: called from the main thread while SIGINT's
/// disposition is SIG_DFL, run() handles SIGINT until main is done. The first SIGINT cancels
/// main; if main then ends cancelled (and main.uncancel() == 0), run() raises
/// KeyboardInterrupt after its cleanup. A second SIGINT restores SIG_DFL at once and raises
/// KeyboardInterrupt at the loop's next iteration (Python raises it wherever the main thread
/// is), so a third one kills a program stuck in a callback. The previous disposition is back
/// when run() returns or throws. For Python's exit status, catch KeyboardInterrupt in main()
/// and `std::signal(SIGINT, SIG_DFL); std::raise(SIGINT);` (or return 130).
template <class T>
T run(Task<T> main, std::optional<bool> debug = std::nullopt) {
  if (!main) throw TypeError("a coroutine was expected, got an empty Task");
  detail::run_main(static_cast<detail::TaskCore&>(*main.core_ptr()), debug);
  return std::move(main).result();
}

}  // namespace batteries::asyncio
