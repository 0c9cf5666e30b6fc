// asyncio.Future: a result that will be available later, awaited by tasks.
//
// Future<T> is a reference-counted handle to the shared state, as a Python variable is a
// reference to the object: copies refer to the same future. A future is bound to one event
// loop. Its done callbacks run through the loop's ready queue, never inline, in the order
// they were added, as Python schedules them with call_soon.
//
// Outcome<T> holds a value or an exception; gather(return_exceptions, ...) gives them.
//
// Thread-safety: a future belongs to its loop's thread; use call_soon_threadsafe() (or
// run_coroutine_threadsafe(), asyncio/threads.hpp) to reach it from another thread.
#pragma once

#include <batteries/asyncio/exceptions.hpp>
#include <batteries/asyncio/loop.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace batteries::asyncio {

/// The value of a void future or task, where one is needed (gather's tuple): Python's None.
using None = std::monostate;

template <class T>
class Future;
template <class T>
class Task;
class AnyFuture;
class AnyTask;

namespace detail {

template <class T>
using value_or_none = std::conditional_t<std::is_void_v<T>, None, T>;

/// A callback the future runs through the ready queue when it is done: fn(arg, future).
struct DoneCallback {
  void (*fn)(void* arg, void* future);
  void* arg;
  friend bool operator==(const DoneCallback&, const DoneCallback&) = default;
};

/// A waiter a task is suspended on (Python's Task._fut_waiter), which Task.cancel() asks to
/// cancel. cancel_wait returns true when it has arranged for the task to be woken with a
/// CancelledError (or, for a future, whatever the future ends with).
class Waiter {
 public:
  virtual bool cancel_wait(std::string_view msg) = 0;

 protected:
  ~Waiter() = default;
};

/// What few futures need, kept out of line so that every task stays small.
struct FutureExtra {
  std::string cancel_message;                // "" when none was given
  std::vector<DoneCallback> more_callbacks;  // after the first, which is inline
  std::string name;                          // a task's name, when set
  bool has_name = false;
};

/// The state every future and task shares: Python's Future without the result, which the
/// typed subclasses store. Reference counted (not atomically: one thread).
class FutureCore {
 public:
  enum class State : std::uint8_t { PENDING, CANCELLED, FINISHED };

  explicit FutureCore(EventLoop* loop) noexcept : m_loop(loop) {}
  FutureCore(const FutureCore&) = delete;
  FutureCore& operator=(const FutureCore&) = delete;

  void retain() noexcept { ++m_refs; }
  void release() noexcept {
    if (--m_refs == 0) last_release();
  }

  [[nodiscard]] bool done() const noexcept { return m_state != State::PENDING; }
  [[nodiscard]] bool cancelled() const noexcept { return m_state == State::CANCELLED; }
  [[nodiscard]] State state() const noexcept { return m_state; }
  [[nodiscard]] EventLoop* loop() const noexcept { return m_loop; }
  [[nodiscard]] bool is_task() const noexcept { return m_is_task; }

  /// Python's Future.cancel(msg): false when already done.
  virtual bool cancel(std::string_view msg);
  /// Python's Future.exception(): CancelledError when cancelled, InvalidStateError while
  /// pending; marks the exception retrieved.
  std::exception_ptr exception();
  /// The checks of Python's Future.result(): raises what result() raises, returns if a
  /// value is there. Marks the exception retrieved.
  void check_result() {
    if (m_state != State::FINISHED || m_exception) check_result_slow();
  }
  /// Python's Future.set_exception(). InvalidStateError when done; TypeError for null.
  void set_exception(std::exception_ptr e);
  /// InvalidStateError("<STATE>: <repr>") unless pending (before set_result).
  void check_pending() const;
  /// Marks the future finished with a value the subclass stored, and schedules callbacks.
  void finish() noexcept {
    m_state = State::FINISHED;
    schedule_callbacks();
  }

  void add_callback(DoneCallback cb) {
    if (m_state == State::PENDING && m_callback.fn == nullptr) {
      m_callback = cb;
    } else {
      add_callback_slow(cb);
    }
  }
  /// Removes every callback equal to cb; returns how many.
  std::size_t remove_callback(DoneCallback cb) noexcept;
  /// A user callback: calls fn with this future when it is done; returns an id for
  /// remove_user_callback().
  std::uint64_t add_user_callback(std::function<void(FutureCore&)> fn);
  std::size_t remove_user_callback(std::uint64_t id) noexcept;

  /// The message of the cancellation ("" when none was given).
  [[nodiscard]] std::string cancel_message() const {
    return m_extra ? m_extra->cancel_message : std::string();
  }
  /// A CancelledError carrying the cancellation message (Python's _make_cancelled_error).
  [[nodiscard]] std::exception_ptr make_cancelled_error() const;
  /// Python's repr(): <Future pending>, <Task finished name='Task-1' coro=<main()>>, ...
  [[nodiscard]] virtual std::string repr() const;
  /// "PENDING", "CANCELLED" or "FINISHED".
  [[nodiscard]] std::string_view state_name() const noexcept;
  /// Marks the exception as retrieved (it will not be reported).
  void clear_log() noexcept { m_log_traceback = false; }

 protected:
  virtual ~FutureCore();
  /// Frees the storage: delete for a heap future, destroy() for a task's frame.
  virtual void destroy() noexcept = 0;
  /// Queues the done callbacks (Python's __schedule_callbacks). Each holds a reference to
  /// the future until it has run.
  void schedule_callbacks() noexcept {
    if (m_callback.fn == nullptr) return;
    if (!m_extra) {
      const DoneCallback cb = std::exchange(m_callback, {});
      retain();
      try {
        m_loop->schedule(cb.fn, cb.arg, this, this);
        return;
      } catch (...) {
        release();
        m_callback = cb;
      }
    }
    schedule_callbacks_slow();
  }
  void set_cancel_message(std::string_view msg);

  EventLoop* m_loop;
  std::exception_ptr m_exception;
  std::unique_ptr<FutureExtra> m_extra;
  DoneCallback m_callback{};  // the first callback, stored inline
  std::uint32_t m_refs = 1;
  State m_state = State::PENDING;
  bool m_log_traceback = false;  // an exception was set and nobody has retrieved it
  bool m_is_task = false;
  bool m_must_cancel = false;  // a task's pending cancel() (here, where there is room)

  FutureExtra& extra() {
    if (!m_extra) m_extra = std::make_unique<FutureExtra>();
    return *m_extra;
  }
  [[nodiscard]] bool has_more_callbacks() const noexcept {
    return m_extra && !m_extra->more_callbacks.empty();
  }

 private:
  void last_release() noexcept;
  void check_result_slow();
  void add_callback_slow(DoneCallback cb);
  void schedule_callbacks_slow() noexcept;
};

/// A value slot: the typed part of a future or task.
template <class T>
struct ResultSlot {
  std::optional<T> value;
  template <class U>
  void put(U&& u) {
    value.emplace(std::forward<U>(u));
  }
};
template <>
struct ResultSlot<void> {};

/// The shared state of a Future<T>, on the heap. gather() derives from it.
template <class T>
class FutureState : public FutureCore, public ResultSlot<T> {
 public:
  using FutureCore::FutureCore;

 protected:
  void destroy() noexcept override { delete this; }
};

class TaskCore;

/// True for a CancelledError (null: false).
[[nodiscard]] bool is_cancelled_error(const std::exception_ptr& e) noexcept;
/// True for SystemExit and KeyboardInterrupt, which end the loop as they end Python's.
[[nodiscard]] bool is_exit_exception(const std::exception_ptr& e) noexcept;
/// How a repr() shows an exception: ValueError('x').
[[nodiscard]] std::string exception_repr(const std::exception_ptr& e);

/// Awaiting a future from a task: suspends until it is done (Python's `yield self`).
/// The typed awaiters (below and in task.hpp) add await_resume.
class FutureWait : public Waiter {
 public:
  explicit FutureWait(FutureCore* core) noexcept : m_core(core) {}
  FutureWait(const FutureWait&) = delete;
  FutureWait& operator=(const FutureWait&) = delete;
  ~FutureWait();

  [[nodiscard]] bool await_ready() const noexcept { return m_core->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h.promise().owner(), h);
  }
  bool cancel_wait(std::string_view msg) override { return m_core->cancel(msg); }

 protected:
  void suspend(TaskCore* task, std::coroutine_handle<> h);
  /// After a suspension: the CancelledError the task must raise instead, if any.
  void resume_checks();

  FutureCore* m_core;
  TaskCore* m_task = nullptr;  // set while suspended
};

}  // namespace detail

/// A value or an exception: one entry of gather(return_exceptions, ...)'s result, which in
/// Python is either the result or the exception object.
template <class T>
class Outcome {
 public:
  using value_type = detail::value_or_none<T>;
  Outcome(value_type value) : m_value(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Outcome(std::exception_ptr e) : m_value(std::move(e)) {}  // NOLINT(google-explicit-constructor)

  /// True when it holds a value.
  [[nodiscard]] bool ok() const noexcept { return m_value.index() == 0; }
  [[nodiscard]] explicit operator bool() const noexcept { return ok(); }
  /// The value; rethrows the exception if there is one.
  [[nodiscard]] value_type& value() & {
    if (!ok()) std::rethrow_exception(std::get<1>(m_value));
    return std::get<0>(m_value);
  }
  [[nodiscard]] const value_type& value() const& {
    if (!ok()) std::rethrow_exception(std::get<1>(m_value));
    return std::get<0>(m_value);
  }
  [[nodiscard]] value_type value() && {
    if (!ok()) std::rethrow_exception(std::get<1>(m_value));
    return std::move(std::get<0>(m_value));
  }
  /// The exception, or null when it holds a value.
  [[nodiscard]] std::exception_ptr exception() const noexcept {
    return ok() ? nullptr : std::get<1>(m_value);
  }
  /// True when it holds an exception of type E (or derived from E).
  template <class E>
  [[nodiscard]] bool holds() const noexcept {
    if (ok()) return false;
    try {
      std::rethrow_exception(std::get<1>(m_value));
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  std::variant<value_type, std::exception_ptr> m_value;
};

/// A handle to any future or task, whatever its result type: what wait() and all_tasks()
/// hold. Copies share the future. An empty handle (default-constructed) refers to nothing.
class AnyFuture {
 public:
  AnyFuture() = default;
  AnyFuture(const AnyFuture& other) noexcept : m_core(other.m_core) {
    if (m_core) m_core->retain();
  }
  AnyFuture(AnyFuture&& other) noexcept : m_core(std::exchange(other.m_core, nullptr)) {}
  AnyFuture& operator=(AnyFuture other) noexcept {
    std::swap(m_core, other.m_core);
    return *this;
  }
  ~AnyFuture() {
    if (m_core) m_core->release();
  }

  [[nodiscard]] bool done() const { return core().done(); }
  [[nodiscard]] bool cancelled() const { return core().cancelled(); }
  /// Cancels it: false when it is already done. A task is cancelled at its next suspension.
  bool cancel(std::string_view msg = {}) { return core().cancel(msg); }
  /// The exception it finished with, or null. CancelledError if cancelled,
  /// InvalidStateError("Exception is not set.") if not done.
  [[nodiscard]] std::exception_ptr exception() { return core().exception(); }
  /// Adds fn(future) to run (through the loop) when it is done; soon if it is already done.
  /// Returns an id for remove_done_callback() (Python compares the function instead).
  std::uint64_t add_done_callback(std::function<void(AnyFuture)> fn);
  /// Removes the callback added with that id; returns how many were removed (0 or 1).
  std::size_t remove_done_callback(std::uint64_t id) { return core().remove_user_callback(id); }
  [[nodiscard]] EventLoop& get_loop() const { return *core().loop(); }
  [[nodiscard]] std::string repr() const { return m_core ? m_core->repr() : "<Future empty>"; }
  [[nodiscard]] std::string str() const { return repr(); }

  [[nodiscard]] explicit operator bool() const noexcept { return m_core != nullptr; }
  friend bool operator==(const AnyFuture& a, const AnyFuture& b) noexcept {
    return a.m_core == b.m_core;
  }
  friend auto operator<=>(const AnyFuture& a, const AnyFuture& b) noexcept {
    return std::compare_three_way{}(a.m_core, b.m_core);
  }

  /// co_await: waits until it is done and rethrows its exception, discarding any result.
  auto operator co_await() const noexcept {
    struct Awaiter : detail::FutureWait {
      using FutureWait::FutureWait;
      void await_resume() {
        resume_checks();
        m_core->check_result();
      }
    };
    return Awaiter(&core());
  }

  /// The shared state (for the rest of batteries::asyncio).
  [[nodiscard]] detail::FutureCore* core_ptr() const noexcept { return m_core; }
  /// A new handle sharing core (which it retains).
  static AnyFuture borrow(detail::FutureCore* core) noexcept {
    core->retain();
    return AnyFuture(core);
  }

 protected:
  explicit AnyFuture(detail::FutureCore* adopted) noexcept : m_core(adopted) {}
  [[nodiscard]] detail::FutureCore& core() const {
    if (m_core == nullptr) throw InvalidStateError("empty future handle");
    return *m_core;
  }

  detail::FutureCore* m_core = nullptr;
};

/// Python's asyncio.Future: set_result / set_exception from one side, co_await from tasks.
template <class T = void>
class Future : public AnyFuture {
  static_assert(!std::is_reference_v<T>, "Future<T&> is not supported; use a pointer");
  using State = detail::FutureState<T>;

 public:
  /// A new pending future on the running loop (Python's Future()); RuntimeError outside one.
  Future() : Future(get_running_loop()) {}
  /// A new pending future on loop (Python's Future(loop=loop), loop.create_future()).
  explicit Future(EventLoop& loop) : AnyFuture(new State(&loop)) {}
  /// An empty handle, which refers to no future.
  explicit Future(std::nullptr_t) noexcept {}

  /// The result. CancelledError if cancelled, InvalidStateError("Result is not set.") if
  /// pending, and the exception if it finished with one.
  decltype(auto) result() const& {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*state().value);
  }
  decltype(auto) result() && {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return T(std::move(*state().value));
  }

  /// Marks it done with value. InvalidStateError if it is already done.
  template <class U = T>
  requires(!std::is_void_v<U>) void set_result(U&& value) {
    core().check_pending();
    state().put(std::forward<U>(value));
    core().finish();
  }
  void set_result() requires std::is_void_v<T> {
    core().check_pending();
    core().finish();
  }
  /// Marks it done with an exception. InvalidStateError if it is already done.
  void set_exception(std::exception_ptr e) { core().set_exception(std::move(e)); }
  template <class E>
  requires std::derived_from<std::remove_cvref_t<E>, std::exception>
  void set_exception(E&& e) { set_exception(std::make_exception_ptr(std::forward<E>(e))); }

  /// Adds fn(future) to run when it is done (see AnyFuture::add_done_callback).
  template <class F>
  requires std::invocable < F&, Future<T>
  & > std::uint64_t add_done_callback(F fn) {
    return core().add_user_callback([fn = std::move(fn)](detail::FutureCore& c) mutable {
      c.retain();
      Future<T> self(&c);
      fn(self);
    });
  }

  auto operator co_await() const& noexcept { return Awaiter<false>(&core()); }
  auto operator co_await() && noexcept { return Awaiter<true>(&core()); }

 private:
  template <class>
  friend class Future;
  friend class AnyFuture;

 public:
  /// A handle adopting a reference to state (for the rest of batteries::asyncio).
  explicit Future(State* adopted) noexcept : AnyFuture(adopted) {}

 private:
  explicit Future(detail::FutureCore* adopted) noexcept : AnyFuture(adopted) {}
  State& state() const { return static_cast<State&>(core()); }

  template <bool Move>
  struct Awaiter : detail::FutureWait {
    using FutureWait::FutureWait;
    decltype(auto) await_resume() {
      resume_checks();
      m_core->check_result();
      if constexpr (!std::is_void_v<T>) {
        auto& slot = static_cast<State*>(m_core)->value;
        if constexpr (Move) {
          return T(std::move(*slot));
        } else {
          return static_cast<const T&>(*slot);
        }
      }
    }
  };
};

/// Python's loop.create_future(): a pending Future<T> on loop.
template <class T = void>
Future<T> create_future(EventLoop& loop) {
  return Future<T>(loop);
}

}  // namespace batteries::asyncio
