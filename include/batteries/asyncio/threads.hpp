// asyncio's thread side: to_thread, run_in_executor, run_coroutine_threadsafe, and the
// concurrent.futures pieces they stand on (ConcurrentFuture, Executor, ThreadPoolExecutor).
//
// Python spreads these over two modules; batteries keeps them together:
//   concurrent.futures.Future                 ConcurrentFuture<T>
//   concurrent.futures.Executor               Executor (submit_work is the customization point)
//   concurrent.futures.ThreadPoolExecutor     ThreadPoolExecutor
//   ex.shutdown(wait, cancel_futures=True)    ex.shutdown(wait, {.cancel_futures = true})
//   await asyncio.to_thread(f, *args)         co_await to_thread(f, args...)
//   await loop.run_in_executor(ex, f, *args)  co_await run_in_executor(loop, ex, f, args...)
//                                             (a free function; ex == nullptr: the default)
//   loop.set_default_executor(ex)             loop.set_default_executor(shared_ptr<TPE>)
//   await loop.shutdown_default_executor()    co_await shutdown_default_executor(loop)
//   asyncio.run_coroutine_threadsafe(c, loop) run_coroutine_threadsafe(c(), loop)
//   asyncio.wrap_future(f, loop=loop)         wrap_future(f, loop)
//
// Thread-safety: ConcurrentFuture, Executor::submit / shutdown, ThreadPoolExecutor and
// run_coroutine_threadsafe() may be used from any thread. A ConcurrentFuture is a handle
// like std::shared_ptr: copies share one state, and each copy may be used by its own
// thread. to_thread, run_in_executor, wrap_future, set_default_executor and
// shutdown_default_executor belong to the loop's thread, as asyncio Futures do; results
// cross threads only through ConcurrentFuture and call_soon_threadsafe.
//
// Lifetimes: a ThreadPoolExecutor's destructor shuts it down and joins its threads (Python's
// `with` block), so no worker outlives it. A loop's default executor is created on first use
// and shut down, its threads joined, by asyncio::run (after the remaining tasks are
// cancelled, with the loop still running, as Python's shutdown_default_executor) and by
// EventLoop::close(). Python's close() calls shutdown(wait=False) and leaves the threads to
// the interpreter's exit; close() here waits for the jobs still running, so that no thread
// is left behind (a job that waits for this very loop would wait forever: give it a
// timeout). A result that arrives after its loop is closed or destroyed is dropped.
//
// ThreadSanitizer: exception_ptr's reference count lives in libstdc++, which TSan does not
// see, so an exception that two threads hold may be reported as a race when the last
// holder destroys it in another thread than a reader. to_thread and run_in_executor keep
// the exception on the loop's thread to avoid that; a ConcurrentFuture shared by hand may
// still trigger it (a false positive).
#pragma once

#include <batteries/asyncio/task.hpp>

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace batteries::asyncio {

/// concurrent.futures.BrokenExecutor: the executor cannot take work any more.
BATTERIES_EXCEPTION(BrokenExecutor, RuntimeError);
/// concurrent.futures.thread.BrokenThreadPool: a worker's initializer failed.
BATTERIES_EXCEPTION(BrokenThreadPool, BrokenExecutor);

template <class T>
class ConcurrentFuture;

namespace detail {

/// The demangled name of a type, for repr(): "int", "std::vector<int>".
std::string type_name(const std::type_info& type);

/// The state a ConcurrentFuture shares: Python's concurrent.futures.Future less the result,
/// which ConcurrentState<T> adds. A mutex guards everything; done callbacks run outside it.
class ConcurrentCore : public std::enable_shared_from_this<ConcurrentCore> {
 public:
  enum class State : std::uint8_t { PENDING, RUNNING, CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED };
  using Callback = std::function<void(ConcurrentCore&)>;

  ConcurrentCore() = default;
  ConcurrentCore(const ConcurrentCore&) = delete;
  ConcurrentCore& operator=(const ConcurrentCore&) = delete;
  virtual ~ConcurrentCore() = default;

  bool cancel();
  [[nodiscard]] bool cancelled() const;
  [[nodiscard]] bool running() const;
  [[nodiscard]] bool done() const;
  bool set_running_or_notify_cancel();
  void set_exception(std::exception_ptr e);
  /// Waits as result() does and raises what it raises; returns when there is a value.
  void wait_result(std::optional<double> timeout);
  /// Python's exception(timeout).
  std::exception_ptr wait_exception(std::optional<double> timeout);
  void add_done_callback(Callback fn);
  [[nodiscard]] std::string repr() const;
  /// Moves the exception out, once done (run_in_executor's private futures: see
  /// copy_concurrent_state).
  std::exception_ptr take_exception() noexcept;

 protected:
  /// Locks for set_result(): InvalidStateError when done.
  std::unique_lock<std::mutex> begin_set_result();
  /// Marks it finished (the value is stored), wakes the waiters, runs the callbacks.
  void finish_result(std::unique_lock<std::mutex> lock) noexcept;
  /// The result's type for repr(): "int", "NoneType".
  [[nodiscard]] virtual std::string result_type_name() const = 0;

 private:
  [[nodiscard]] bool done_locked() const noexcept;
  [[nodiscard]] std::string repr_locked() const;
  void wait_done(std::unique_lock<std::mutex>& lock, std::optional<double> timeout);
  /// Takes the callbacks; the caller runs them with run_callbacks() once unlocked.
  std::vector<Callback> complete_locked(State state) noexcept;
  void run_callbacks(std::vector<Callback>& callbacks) noexcept;

  mutable std::mutex m_mutex;
  std::condition_variable m_done;
  std::vector<Callback> m_callbacks;
  std::exception_ptr m_exception;
  State m_state = State::PENDING;
};

template <class T>
class ConcurrentState final : public ConcurrentCore, public ResultSlot<T> {
 public:
  template <class U>
  void set_result(U&& result) requires(!std::is_void_v<T>) {
    auto lock = begin_set_result();
    this->put(std::forward<U>(result));
    finish_result(std::move(lock));
  }
  void set_result() requires std::is_void_v<T> { finish_result(begin_set_result()); }

 protected:
  [[nodiscard]] std::string result_type_name() const override {
    if constexpr (std::is_void_v<T>) {
      return "NoneType";
    } else {
      return type_name(typeid(T));
    }
  }
};

}  // namespace detail

/// Python's concurrent.futures.Future: a result that another thread produces, which any
/// thread may wait for (with a timeout), cancel, or be called back about. Copies share
/// the state. Every method is thread-safe.
template <class T = void>
class ConcurrentFuture {
  static_assert(!std::is_reference_v<T>, "ConcurrentFuture<T&> is not supported; use a pointer");
  using State = detail::ConcurrentState<T>;

 public:
  using value_type = T;

  /// A new pending future (Python's Future()).
  ConcurrentFuture() : m_state(std::make_shared<State>()) {}

  /// Cancels it unless it is running or finished; true when it is (now) cancelled.
  bool cancel() { return core().cancel(); }
  [[nodiscard]] bool cancelled() const { return core().cancelled(); }
  /// True while the call runs (between set_running_or_notify_cancel() and its result).
  [[nodiscard]] bool running() const { return core().running(); }
  /// True once cancelled or finished.
  [[nodiscard]] bool done() const { return core().done(); }

  /// The result, waiting up to timeout seconds (nullopt: for ever). CancelledError if it
  /// was cancelled, TimeoutError if the time passes first, the call's exception if it raised.
  /// The value stays in the future, shared by every caller.
  decltype(auto) result(std::optional<double> timeout = std::nullopt) const {
    core().wait_result(timeout);
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*m_state->value);
  }
  template <class Rep, class Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const {
    return result(std::optional<double>(std::chrono::duration<double>(timeout).count()));
  }
  /// The call's exception, or null when it returned; waits as result() does.
  [[nodiscard]] std::exception_ptr exception(std::optional<double> timeout = std::nullopt) const {
    return core().wait_exception(timeout);
  }
  template <class Rep, class Period>
  [[nodiscard]] std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception(std::optional<double>(std::chrono::duration<double>(timeout).count()));
  }

  /// Calls fn(future) when it is done, in the thread that finishes or cancels it; at once,
  /// in this thread, if it is done already. Exceptions from fn are reported on stderr
  /// ("exception calling callback for ..."), as Python logs them.
  template <class F>
  requires std::invocable < F&, ConcurrentFuture<T>
  & > void add_done_callback(F fn) {
    core().add_done_callback([fn = std::move(fn)](detail::ConcurrentCore& c) mutable {
      ConcurrentFuture self(std::static_pointer_cast<State>(c.shared_from_this()));
      fn(self);
    });
  }

  // ---- for executors (Python: "should only be used by Executor implementations") -----------
  /// False (and it stays cancelled) if it was cancelled; true (now running) if pending;
  /// RuntimeError("Future in unexpected state") otherwise.
  bool set_running_or_notify_cancel() { return core().set_running_or_notify_cancel(); }
  /// Finishes it with value. InvalidStateError if it is cancelled or finished.
  template <class U = T>
  void set_result(U&& value) requires(!std::is_void_v<T>) {
    state().set_result(std::forward<U>(value));
  }
  void set_result() requires std::is_void_v<T> { state().set_result(); }
  /// Finishes it with an exception. InvalidStateError if it is cancelled or finished.
  void set_exception(std::exception_ptr e) { core().set_exception(std::move(e)); }
  template <class E>
  requires std::derived_from<std::remove_cvref_t<E>, std::exception>
  void set_exception(E&& e) { set_exception(std::make_exception_ptr(std::forward<E>(e))); }

  /// Python's repr(): <Future at 0x... state=finished returned int>.
  [[nodiscard]] std::string repr() const { return core().repr(); }
  [[nodiscard]] std::string str() const { return repr(); }
  friend std::ostream& operator<<(std::ostream& out, const ConcurrentFuture& f) {
    return out << f.str();
  }
  friend bool operator==(const ConcurrentFuture& a, const ConcurrentFuture& b) noexcept {
    return a.m_state == b.m_state;
  }

  /// The shared state (for the rest of batteries::asyncio).
  [[nodiscard]] const std::shared_ptr<State>& state_ptr() const noexcept { return m_state; }
  explicit ConcurrentFuture(std::shared_ptr<State> state) noexcept : m_state(std::move(state)) {}

 private:
  [[nodiscard]] State& state() const {
    if (!m_state) throw InvalidStateError("empty future handle");
    return *m_state;
  }
  [[nodiscard]] detail::ConcurrentCore& core() const { return state(); }

  std::shared_ptr<State> m_state;
};

/// One submitted call: what an Executor queues and runs. Executors that are not a
/// ThreadPoolExecutor run it with run(), on a thread of their choice, once.
class WorkItem {
 public:
  WorkItem(const WorkItem&) = delete;
  WorkItem& operator=(const WorkItem&) = delete;
  /// If it never ran, its future is cancelled: an executor that drops work leaves no
  /// thread waiting for ever.
  virtual ~WorkItem();

  /// Runs the call and finishes the future with its result or exception; does nothing if
  /// the future was cancelled first (Python's _WorkItem.run).
  virtual void run() noexcept = 0;
  /// Cancels the future instead of running the call (shutdown(cancel_futures=true)).
  void cancel() noexcept;
  /// Finishes the future with error instead of running the call (a broken pool).
  void fail(std::exception_ptr error) noexcept;

 protected:
  explicit WorkItem(std::shared_ptr<detail::ConcurrentCore> future) noexcept
      : m_future(std::move(future)) {}
  std::shared_ptr<detail::ConcurrentCore> m_future;
};

namespace detail {

template <class F, class... Args>
using call_result_t =
    std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

template <class R, class F, class... Args>
class CallWorkItem final : public WorkItem {
 public:
  template <class G, class... A>
  CallWorkItem(std::shared_ptr<ConcurrentState<R>> future, G&& fn, A&&... args)
      : WorkItem(std::move(future)), m_fn(std::forward<G>(fn)), m_args(std::forward<A>(args)...) {}

  void run() noexcept override {
    auto& future = static_cast<ConcurrentState<R>&>(*m_future);
    try {
      if (!future.set_running_or_notify_cancel()) return;
    } catch (...) {
      return;  // run twice: the first run owns the future
    }
    std::exception_ptr error;
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(std::move(m_fn), std::move(m_args));
        future.set_result();
      } else {
        future.set_result(std::apply(std::move(m_fn), std::move(m_args)));
      }
      return;
    } catch (...) {
      error = std::current_exception();
    }
    // Published after the catch, with no reference left in this thread (see
    // copy_concurrent_state).
    future.set_exception(std::move(error));
  }

 private:
  F m_fn;
  std::tuple<Args...> m_args;
};

}  // namespace detail

/// Python's Executor.shutdown() keyword-only arguments.
struct ShutdownOptions {
  /// Cancel the calls still queued instead of running them.
  bool cancel_futures = false;
};

/// Python's concurrent.futures.Executor: submit calls, get ConcurrentFutures. A pool of
/// one's own implements submit_work() (and do_shutdown(), if it has anything to stop).
class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  /// Python's submit(fn, /, *args): schedules fn(args...) (fn and args are copied or
  /// moved in, and called as rvalues, once) and returns the future of its result.
  /// RuntimeError("cannot schedule new futures after shutdown") after shutdown().
  template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
      ConcurrentFuture<detail::call_result_t<F, Args...>> submit(F&& fn, Args&&... args) {
    using R = detail::call_result_t<F, Args...>;
    ConcurrentFuture<R> future;
    submit_work(std::make_unique<detail::CallWorkItem<R, std::decay_t<F>, std::decay_t<Args>...>>(
        future.state_ptr(), std::forward<F>(fn), std::forward<Args>(args)...));
    return future;
  }

  /// Python's shutdown(wait=True, *, cancel_futures=False): takes no more work; with
  /// wait, returns once the queued calls have run (or been cancelled) and the threads
  /// have exited. Calling it again is harmless.
  void shutdown(bool wait = true, ShutdownOptions options = {}) { do_shutdown(wait, options); }

  /// The customization point: take the item and call item->run() once, on some thread,
  /// or throw (RuntimeError after shutdown). Dropping the item cancels its future.
  virtual void submit_work(std::unique_ptr<WorkItem> item) = 0;

 protected:
  /// Python's Executor.shutdown does nothing; a pool with threads stops them here.
  virtual void do_shutdown(bool /*wait*/, ShutdownOptions /*options*/) {}
};

namespace detail {
class PoolState;
}

/// Python's concurrent.futures.ThreadPoolExecutor: up to max_workers threads (default
/// min(32, cpu_count + 4)), started as calls come in while no idle thread is left. Threads
/// are named "<prefix>_<n>" (the OS keeps 15 characters). The destructor is shutdown(true).
class ThreadPoolExecutor : public Executor {
 public:
  /// ValueError("max_workers must be greater than 0"). initializer runs first in each
  /// worker; if it raises, the pool is broken: the queued calls and every later submit()
  /// fail with BrokenThreadPool. (Python's initargs: bind them into the function.)
  explicit ThreadPoolExecutor(std::optional<int> max_workers = std::nullopt,
                              std::string thread_name_prefix = {},
                              std::function<void()> initializer = {});
  ~ThreadPoolExecutor() override;

  void submit_work(std::unique_ptr<WorkItem> item) override;
  /// The most threads it will start (Python's _max_workers).
  [[nodiscard]] int max_workers() const noexcept;
  /// The threads started and not yet joined (Python's len(_threads)).
  [[nodiscard]] std::size_t thread_count() const;

 protected:
  void do_shutdown(bool wait, ShutdownOptions options) override;

 private:
  std::shared_ptr<detail::PoolState> m_pool;
};

namespace detail {

/// Another thread's way into a loop: call_soon_threadsafe() for as long as the loop is
/// open. The loop closes it in close(), so a holder never touches a destroyed loop.
class LoopLink {
 public:
  explicit LoopLink(EventLoop* loop) noexcept : m_loop(loop) {}
  /// loop.call_soon_threadsafe(fn) from any thread; false (fn dropped here) once closed.
  bool post(EventLoop::Callback fn);
  void close() noexcept;

 private:
  std::mutex m_mutex;
  EventLoop* m_loop;  // guarded by m_mutex; null once closed
};

/// The loop's link (loop thread only).
std::shared_ptr<LoopLink> loop_link(EventLoop& loop);
/// The loop's default executor, created on first use (loop thread only).
/// RuntimeError("Executor shutdown has been called") after shutdown_default_executor().
Executor& default_executor(EventLoop& loop);
/// asyncio::run's end: run_until_complete(loop, shutdown_default_executor(loop)), without
/// an extra loop iteration when no default executor was created.
void run_shutdown_default_executor(EventLoop& loop);

/// A future or task on a loop, as other threads' results see it: only the loop's thread
/// reads or writes `core`, which LocalGuard clears once the future is done or destroyed.
struct LocalRef {
  FutureCore* core;
};

/// Lives in a done callback of the local future, so it dies on the loop's thread when the
/// future is done or destroyed. It clears the LocalRef; when `remote` is set, it also
/// cancels the remote future if that is still pending, as nothing else can finish it.
class LocalGuard {
 public:
  explicit LocalGuard(std::shared_ptr<LocalRef> ref,
                      std::shared_ptr<ConcurrentCore> remote = nullptr) noexcept
      : m_ref(std::move(ref)), m_remote(std::move(remote)) {}
  LocalGuard(const LocalGuard&) = delete;
  LocalGuard& operator=(const LocalGuard&) = delete;
  ~LocalGuard();

 private:
  std::shared_ptr<LocalRef> m_ref;
  std::shared_ptr<ConcurrentCore> m_remote;
};

/// Python's _copy_future_state(source, dest), on the loop's thread; dest is pending.
/// Move: source is nobody else's (run_in_executor), so its value and exception are moved
/// out. Then the worker thread holds no reference to the exception once it is published,
/// and the loop's thread is the one that destroys it: ThreadSanitizer cannot see
/// exception_ptr's reference count (inside an uninstrumented libstdc++) and would report
/// a destruction in the worker as a race with the loop thread's reads.
template <class T, bool Move>
void copy_concurrent_state(ConcurrentFuture<T>& source, FutureCore& dest) {
  if (source.cancelled()) {
    dest.cancel({});
    return;
  }
  std::exception_ptr e;
  if constexpr (Move) {
    e = source.state_ptr()->take_exception();
  } else {
    e = source.exception();
  }
  if (e) {
    dest.set_exception(std::move(e));
    return;
  }
  if constexpr (!std::is_void_v<T>) {
    auto& slot = static_cast<FutureState<T>&>(dest);
    if constexpr (Move) {
      slot.put(std::move(*source.state_ptr()->value));
    } else {
      slot.put(source.result());
    }
  }
  dest.finish();
}

/// Python's _chain_future(source, dest) for a concurrent source and an asyncio dest.
template <class T, bool Move>
Future<T> wrap_concurrent(ConcurrentFuture<T> source, EventLoop& loop) {
  Future<T> dest(loop);
  auto ref = std::make_shared<LocalRef>(LocalRef{dest.core_ptr()});
  dest.add_done_callback([source, guard = std::make_shared<LocalGuard>(ref)](Future<T>& f) mutable {
    if (f.cancelled()) source.cancel();
  });
  source.add_done_callback([ref, link = loop_link(loop)](ConcurrentFuture<T>& s) {
    link->post([ref, s]() mutable {
      if (ref->core == nullptr || ref->core->done()) return;
      copy_concurrent_state<T, Move>(s, *ref->core);
    });
  });
  return dest;
}

/// Python's _set_concurrent_future_state(future, task), on the loop's thread.
template <class T>
void set_concurrent_state(ConcurrentFuture<T>& future, Task<T>& task) {
  if (task.cancelled()) future.cancel();
  if (!future.set_running_or_notify_cancel()) return;
  if (std::exception_ptr e = task.exception()) {
    future.set_exception(std::move(e));
  } else if constexpr (std::is_void_v<T>) {
    future.set_result();
  } else {
    future.set_result(std::move(task).result());
  }
}

/// run_coroutine_threadsafe's callback, on the loop's thread: creates the task and chains
/// it to the future both ways.
template <class T>
void start_threadsafe(Task<T> coro, ConcurrentFuture<T> future, EventLoop& loop) {
  try {
    static_cast<TaskCore*>(coro.core_ptr())->start(loop, std::nullopt);
  } catch (...) {
    if (future.set_running_or_notify_cancel()) future.set_exception(std::current_exception());
    throw;
  }
  auto ref = std::make_shared<LocalRef>(LocalRef{coro.core_ptr()});
  coro.add_done_callback([future, guard = std::make_shared<LocalGuard>(ref, future.state_ptr())](
                             Task<T>& task) mutable { set_concurrent_state(future, task); });
  if (future.cancelled()) {
    coro.cancel();  // cancelled before the loop got here: the body never runs
    return;
  }
  future.add_done_callback([ref, link = loop_link(loop)](ConcurrentFuture<T>& f) {
    if (!f.cancelled()) return;
    link->post([ref] {
      if (ref->core != nullptr) ref->core->cancel({});
    });
  });
}

}  // namespace detail

/// Python's asyncio.wrap_future(future, loop=loop): an asyncio Future on loop that gets the
/// concurrent future's result (copied: other threads may read it too) when it has one.
/// Cancelling the asyncio Future cancels the concurrent one. Loop thread only.
template <class T>
requires(std::is_void_v<T> ||
         std::copy_constructible<T>) Future<T> wrap_future(ConcurrentFuture<T> future,
                                                           EventLoop& loop) {
  return detail::wrap_concurrent<T, false>(std::move(future), loop);
}
/// The same on the running loop.
template <class T>
requires(std::is_void_v<T> ||
         std::copy_constructible<T>) Future<T> wrap_future(ConcurrentFuture<T> future) {
  return wrap_future(std::move(future), get_running_loop());
}
/// An asyncio Future is returned as it is, as in Python.
template <class T>
Future<T> wrap_future(Future<T> future) {
  return future;
}

/// Python's loop.run_in_executor(executor, func, *args): runs func(args...) in executor
/// (nullptr: the loop's default executor, a ThreadPoolExecutor created on first use) and
/// returns an asyncio Future of its result. Cancelling the Future cancels the call if it
/// has not started. RuntimeError("Event loop is closed") on a closed loop; RuntimeError(
/// "Executor shutdown has been called") for the default executor after it was shut down.
/// Loop thread only; executor must live until the call is submitted.
template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    Future<detail::call_result_t<F, Args...>> run_in_executor(EventLoop& loop, Executor* executor,
                                                              F&& func, Args&&... args) {
  using R = detail::call_result_t<F, Args...>;
  if (loop.is_closed()) throw RuntimeError("Event loop is closed");
  if (executor == nullptr) executor = &detail::default_executor(loop);
  ConcurrentFuture<R> source = executor->submit(std::forward<F>(func), std::forward<Args>(args)...);
  return detail::wrap_concurrent<R, true>(std::move(source), loop);
}

/// Python's asyncio.to_thread(func, *args): runs func(args...) in the running loop's
/// default executor and returns its result, or raises its exception. (Python also copies
/// the contextvars context into the thread; C++ has none to copy.) Cancelling the task
/// abandons the call: it still runs to the end if it has started.
template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    Task<detail::call_result_t<F, Args...>> to_thread(F func, Args... args) {
  EventLoop& loop = get_running_loop();
  if constexpr (std::is_void_v<detail::call_result_t<F, Args...>>) {
    co_await run_in_executor(loop, nullptr, std::move(func), std::move(args)...);
  } else {
    co_return co_await run_in_executor(loop, nullptr, std::move(func), std::move(args)...);
  }
}

/// Python's loop.shutdown_default_executor(): shuts the default executor down in a helper
/// thread, waiting for its calls while the loop keeps running; afterwards run_in_executor
/// with the default executor raises RuntimeError. Loop thread only.
Task<void> shutdown_default_executor(EventLoop& loop);

/// Python's asyncio.run_coroutine_threadsafe(coro, loop): from any thread, schedules the
/// coroutine as a task on loop (which runs in another thread) and returns a future of its
/// result. Cancelling the future cancels the task. TypeError("A coroutine object is
/// required") for an empty or started Task; RuntimeError("Event loop is closed").
/// loop must be alive for the call. If the loop is destroyed with the task still pending,
/// the future is cancelled (Python leaves it pending for ever); if the loop is closed
/// before it even got to create the task, the future stays pending, as in Python.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Task<T> coro, EventLoop& loop) {
  if (!coro || static_cast<detail::TaskCore*>(coro.core_ptr())->started()) {
    throw TypeError("A coroutine object is required");
  }
  ConcurrentFuture<T> future;
  loop.call_soon_threadsafe([coro = std::move(coro), future, &loop]() mutable {
    detail::start_threadsafe(std::move(coro), std::move(future), loop);
  });
  return future;
}

}  // namespace batteries::asyncio
