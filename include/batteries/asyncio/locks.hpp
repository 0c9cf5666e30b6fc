// asyncio's synchronisation primitives: Event, Lock, Semaphore, BoundedSemaphore, Condition
// and Barrier (Python 3.11's asyncio.locks).
//
// Each primitive follows Python 3.11's implementation: a waiting task waits on a Future<void>
// kept in a FIFO of waiters, so that cancellation behaves exactly as in Python (a task
// cancelled while it waits for a Lock, or after it was woken but before it ran, hands the
// wake-up on to the next waiter; Condition::wait() re-acquires the lock even when cancelled).
// An operation that does not have to wait allocates nothing; one that waits allocates its
// waiter future, as Python does.
//
// Spelling (shared/MAPPING.md): `await lock.acquire()` is `co_await lock.acquire()`;
// `async with lock:` is `auto guard = co_await lock;` (a LockGuard that releases in its
// destructor; `co_await lock.guard()` is the same). The awaitables that acquire() and wait()
// return convert to Task<...> for the combinators: `create_task(Task<void>(event.wait()))`.
// acquire() and Event::wait() / Condition::wait() complete with void where Python returns
// True (it never returns anything else).
//
// Thread-safety: none. A primitive belongs to the thread of the loop it is used on, and it is
// bound to that loop lazily, at the first wait (Python 3.10+): waiting on it from a task of
// another loop raises RuntimeError("... is bound to a different event loop").
// Lifetime: primitives can be neither copied nor moved (waiting tasks refer to them); a
// primitive must outlive every task that waits on it, including the tasks a destroyed
// EventLoop abandons.
#pragma once

#include <batteries/asyncio/detail/ring.hpp>
#include <batteries/asyncio/exceptions.hpp>
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/task.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace batteries::asyncio {

namespace detail {

/// The waiters of a primitive, oldest first.
using Waiters = Ring<Future<void>>;

/// Python's `waiters.remove(fut)` when fut may be gone already: removes it if it is there.
inline void remove_waiter(Waiters& waiters, const AnyFuture& fut) noexcept {
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (waiters[i] == fut) {
      waiters.erase(i);
      return;
    }
  }
}

/// Python's _LoopBoundMixin._get_loop(): binds `bound` to loop at the first call, and raises
/// RuntimeError("<repr> is bound to a different event loop") when a later call comes from
/// another loop. repr() is only called to build the message.
template <class Self>
EventLoop& bind_loop(EventLoop*& bound, EventLoop* loop, const Self& self) {
  if (bound == nullptr) bound = loop;
  if (bound != loop) throw RuntimeError(self.repr() + " is bound to a different event loop");
  return *loop;
}

/// The base of every awaitable that suspends a task on a waiter future (Python's
/// `fut = loop.create_future(); waiters.append(fut); await fut`).
///
/// It is the task's waiter (the object Task.cancel() asks to cancel), and it takes its own
/// done callback on the future instead of the task's, so that an operation that must wait
/// again (Queue.get() finding the queue empty after all) re-arms without resuming the task:
/// retry() decides that, as the `while` loop of Python's get() and put() does.
class PrimitiveWait : public Waiter {
 public:
  PrimitiveWait() noexcept = default;
  PrimitiveWait(const PrimitiveWait&) = delete;
  PrimitiveWait& operator=(const PrimitiveWait&) = delete;

  /// Task.cancel() while suspended: cancels the waiter future, which wakes the task. When
  /// the future is already done (the task was woken and has not run yet), this returns false
  /// and the task raises its pending CancelledError when it runs instead.
  bool cancel_wait(std::string_view msg) override { return m_future.cancel(msg); }

 protected:
  ~PrimitiveWait() {
    // A frame destroyed while it waits (its loop is being torn down) unhooks itself.
    if (m_task != nullptr && !m_future.done()) unhook();
  }

  /// The task that runs the coroutine h; RuntimeError outside a task.
  template <class P>
  static TaskCore* task_of(std::coroutine_handle<P> h) {
    TaskCore* task = h.promise().owner();
    if (task == nullptr) throw RuntimeError("a lock or queue can only be awaited from a task");
    return task;
  }

  /// Appends a new waiter future on loop to waiters and suspends task (at frame h) on it.
  void wait_in(Waiters& waiters, EventLoop& loop, TaskCore* task, std::coroutine_handle<> h) {
    arm(waiters, loop);
    m_task = task;
    task->suspend_on(this, h);
  }
  /// Appends a new waiter future to waiters and hooks it: the task waits on it now.
  void arm(Waiters& waiters, EventLoop& loop) {
    Future<void> fut(loop);
    fut.core_ptr()->add_callback({&PrimitiveWait::wake, this});  // the first: no allocation
    waiters.push_back(fut);
    m_future = std::move(fut);
  }
  /// Called when the waiter future is done with a result and no cancellation is pending:
  /// re-arm (another arm()) and return true to keep the task waiting.
  virtual bool retry() { return false; }

  /// After the task resumed: raises the CancelledError it must raise (the future's, when the
  /// future was cancelled; the task's pending one otherwise), or an error from wake().
  void resume_checks() {
    TaskCore* task = std::exchange(m_task, nullptr);
    if (!m_future.done()) unhook();
    task->resume_from(*m_future.core_ptr());
    if (m_future.cancelled()) std::rethrow_exception(m_future.core_ptr()->make_cancelled_error());
    if (m_error) std::rethrow_exception(std::exchange(m_error, nullptr));
  }
  /// Whether the operation suspended (await_resume then has Python's finally/except work).
  [[nodiscard]] bool suspended() const noexcept { return static_cast<bool>(m_future); }

  Future<void> m_future{nullptr};  // the current waiter future, once suspended

 private:
  void unhook() noexcept { m_future.core_ptr()->remove_callback({&PrimitiveWait::wake, this}); }
  // The done callback: Python's Task.__wakeup, with retry() as the loop around `await fut`.
  // A task with a cancellation pending resumes, to raise it, rather than wait again.
  static void wake(void* self, void* /*future*/) {
    auto* w = static_cast<PrimitiveWait*>(self);
    if (!w->m_future.cancelled()) {
      try {
        w->m_task->throw_if_must_cancel();
        if (w->retry()) return;
      } catch (...) {
        w->m_error = std::current_exception();  // raised by resume_checks()
      }
    }
    TaskCore::step(w->m_task, nullptr);
  }

  TaskCore* m_task = nullptr;  // set while suspended
  std::exception_ptr m_error;
};

/// Reports an exception that a destructor cannot throw (LockGuard's release).
void report_guard_error(const char* what) noexcept;

}  // namespace detail

/// The C++ spelling of `async with lock:`: owns one acquisition of a Lock, Semaphore or
/// Condition (anything with release()) and releases it when destroyed. Obtained from
/// `co_await lock` or `co_await lock.guard()`; movable, not copyable.
///
/// If the primitive was released behind the guard's back, the release in the destructor
/// fails (RuntimeError for a Lock, ValueError for a BoundedSemaphore): that is reported
/// through the running loop's exception handler, since a destructor cannot throw.
template <class M>
class [[nodiscard]] LockGuard {
 public:
  LockGuard() noexcept = default;
  /// Takes over an acquisition the caller made (std::adopt_lock's meaning).
  explicit LockGuard(M& primitive) noexcept : m_primitive(&primitive) {}
  LockGuard(LockGuard&& other) noexcept : m_primitive(std::exchange(other.m_primitive, nullptr)) {}
  LockGuard& operator=(LockGuard&& other) noexcept {
    if (this != &other) {
      reset();
      m_primitive = std::exchange(other.m_primitive, nullptr);
    }
    return *this;
  }
  ~LockGuard() { reset(); }

  /// Releases now (early exit from the `async with` block); the destructor then does
  /// nothing. Raises what M::release() raises. Does nothing when it owns nothing.
  void release() {
    if (m_primitive != nullptr) std::exchange(m_primitive, nullptr)->release();
  }
  /// Gives up ownership without releasing; returns the primitive (or nullptr).
  M* dismiss() noexcept { return std::exchange(m_primitive, nullptr); }
  [[nodiscard]] bool owns() const noexcept { return m_primitive != nullptr; }
  [[nodiscard]] explicit operator bool() const noexcept { return owns(); }
  [[nodiscard]] M* get() const noexcept { return m_primitive; }

 private:
  void reset() noexcept {
    if (m_primitive == nullptr) return;
    try {
      std::exchange(m_primitive, nullptr)->release();
    } catch (...) {
      detail::report_guard_error("Exception in LockGuard's release");
    }
  }

  M* m_primitive = nullptr;
};

// ---- Event -----------------------------------------------------------------------------------

/// Python's asyncio.Event: a flag that tasks wait to become true. set() wakes every waiter;
/// clear() resets the flag. Initially false.
class Event {
 public:
  /// The awaitable of wait(); completes (void) once the flag is true.
  class [[nodiscard]] WaitAwaiter : public detail::PrimitiveWait {
   public:
    explicit WaitAwaiter(Event& event) noexcept : m_event(&event) {}
    [[nodiscard]] bool await_ready() const noexcept { return m_event->m_value; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::TaskCore* task = task_of(h);
      wait_in(m_event->m_waiters, m_event->get_loop(task), task, h);
    }
    void await_resume() {
      if (!suspended()) return;
      detail::remove_waiter(m_event->m_waiters, m_future);  // Python's finally
      resume_checks();
    }
    /// As a task, for the combinators (wait_for, gather, create_task).
    operator Task<void>() && { return Event::wait_task(*m_event); }  // NOLINT

   private:
    Event* m_event;
  };

  Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Python's is_set().
  [[nodiscard]] bool is_set() const noexcept { return m_value; }
  /// Sets the flag and wakes every waiting task. Tasks that wait later do not block.
  void set() {
    if (m_value) return;
    m_value = true;
    for (std::size_t i = 0; i < m_waiters.size(); ++i) {
      if (!m_waiters[i].done()) m_waiters[i].set_result();
    }
  }
  /// Resets the flag: later wait() calls block until set().
  void clear() noexcept { m_value = false; }
  /// Waits until the flag is true: `co_await event.wait()`. Returns at once if it is.
  WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

  /// Python's repr(): <asyncio.locks.Event object at 0x... [unset, waiters:1]>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 private:
  EventLoop& get_loop(detail::TaskCore* task) {
    return detail::bind_loop(m_loop, task->loop(), *this);
  }
  static Task<void> wait_task(Event& event);

  detail::Waiters m_waiters;
  EventLoop* m_loop = nullptr;
  bool m_value = false;
};

// ---- Lock ------------------------------------------------------------------------------------

/// Python's asyncio.Lock: a mutual-exclusion lock owned by no particular task. Waiters get
/// it in FIFO order: release() wakes the first waiter, and a task that calls acquire() before
/// that waiter has run waits behind it.
class Lock {
 public:
  /// The awaitable of acquire(); completes (void) once the lock is taken.
  class [[nodiscard]] AcquireAwaiter : public detail::PrimitiveWait {
   public:
    explicit AcquireAwaiter(Lock& lock) noexcept : m_lock(&lock) {}
    [[nodiscard]] bool await_ready() noexcept {
      if (!m_lock->free_for_newcomer()) return false;
      m_lock->m_locked = true;
      return true;
    }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::TaskCore* task = task_of(h);
      wait_in(m_lock->m_waiters, m_lock->get_loop(task), task, h);
    }
    void await_resume() {
      if (!suspended()) return;
      // Python removes the future in a `finally` that runs before its `except`, so that the
      // except branch does not wake this task's own future.
      detail::remove_waiter(m_lock->m_waiters, m_future);
      try {
        resume_checks();
      } catch (const CancelledError&) {
        if (!m_lock->m_locked) m_lock->wake_up_first();
        throw;
      }
      m_lock->m_locked = true;
    }
    /// As a task, for the combinators.
    operator Task<void>() && { return Lock::acquire_task(*m_lock); }  // NOLINT

   protected:
    Lock* m_lock;
  };
  /// The awaitable of `co_await lock` and guard(): acquire(), then a LockGuard.
  class [[nodiscard]] GuardAwaiter : public AcquireAwaiter {
   public:
    using AcquireAwaiter::AcquireAwaiter;
    LockGuard<Lock> await_resume() {
      AcquireAwaiter::await_resume();
      return LockGuard<Lock>(*m_lock);
    }
  };

  Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Whether the lock is held.
  [[nodiscard]] bool locked() const noexcept { return m_locked; }
  /// Takes the lock, waiting while another task holds it: `co_await lock.acquire()`.
  AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  /// Releases the lock and wakes the first waiter. RuntimeError("Lock is not acquired.")
  /// when it is not held.
  void release() {
    if (!m_locked) throw RuntimeError("Lock is not acquired.");
    m_locked = false;
    wake_up_first();
  }
  /// `async with lock:` -- `auto guard = co_await lock.guard();` (or `co_await lock`).
  GuardAwaiter guard() noexcept { return GuardAwaiter(*this); }
  GuardAwaiter operator co_await() noexcept { return GuardAwaiter(*this); }

  /// Python's repr(): <asyncio.locks.Lock object at 0x... [locked, waiters:2]>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 private:
  // acquire() without waiting: Python's `not locked and all waiters cancelled`.
  [[nodiscard]] bool free_for_newcomer() const noexcept {
    if (m_locked) return false;
    for (std::size_t i = 0; i < m_waiters.size(); ++i) {
      if (!m_waiters[i].cancelled()) return false;
    }
    return true;
  }
  // Python's _wake_up_first: a first waiter that is done already will wake up and either
  // take the lock or, cancelled, pass the wake-up on.
  void wake_up_first() {
    if (m_waiters.empty()) return;
    Future<void>& first = m_waiters.front();
    if (!first.done()) first.set_result();
  }
  EventLoop& get_loop(detail::TaskCore* task) {
    return detail::bind_loop(m_loop, task->loop(), *this);
  }
  static Task<void> acquire_task(Lock& lock);

  detail::Waiters m_waiters;
  EventLoop* m_loop = nullptr;
  bool m_locked = false;
};

// ---- Semaphore -------------------------------------------------------------------------------

/// Python's asyncio.Semaphore: a counter that acquire() decrements, waiting while it is zero,
/// and release() increments. Waiters are served in FIFO order.
class Semaphore {
 public:
  /// The awaitable of acquire(); completes (void) once the counter was decremented.
  class [[nodiscard]] AcquireAwaiter : public detail::PrimitiveWait {
   public:
    explicit AcquireAwaiter(Semaphore& sem) noexcept : m_sem(&sem) {}
    [[nodiscard]] bool await_ready() noexcept {
      if (m_sem->locked()) return false;
      --m_sem->m_value;
      return true;
    }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::TaskCore* task = task_of(h);
      wait_in(m_sem->m_waiters, m_sem->get_loop(task), task, h);
    }
    void await_resume() {
      if (!suspended()) return;
      detail::remove_waiter(m_sem->m_waiters, m_future);
      try {
        resume_checks();
      } catch (const CancelledError&) {
        // Woken (the counter was decremented for this task) but cancelled: give it back.
        if (!m_future.cancelled()) {
          ++m_sem->m_value;
          m_sem->wake_up_next();
        }
        throw;
      }
      if (m_sem->m_value > 0) m_sem->wake_up_next();
    }
    /// As a task, for the combinators.
    operator Task<void>() && { return Semaphore::acquire_task(*m_sem); }  // NOLINT

   protected:
    Semaphore* m_sem;
  };
  /// The awaitable of `co_await sem` and guard(): acquire(), then a LockGuard.
  class [[nodiscard]] GuardAwaiter : public AcquireAwaiter {
   public:
    using AcquireAwaiter::AcquireAwaiter;
    LockGuard<Semaphore> await_resume() {
      AcquireAwaiter::await_resume();
      return LockGuard<Semaphore>(*m_sem);
    }
  };

  /// ValueError("Semaphore initial value must be >= 0") for a negative value.
  explicit Semaphore(std::int64_t value = 1) : m_value(value) {
    if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
  }
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Whether acquire() would wait: the counter is zero, or tasks that were not cancelled
  /// are waiting already.
  [[nodiscard]] bool locked() const noexcept {
    if (m_value == 0) return true;
    for (std::size_t i = 0; i < m_waiters.size(); ++i) {
      if (!m_waiters[i].cancelled()) return true;
    }
    return false;
  }
  /// Decrements the counter, waiting while it is zero: `co_await sem.acquire()`.
  AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  /// Increments the counter and wakes the first waiter. For a BoundedSemaphore,
  /// ValueError("BoundedSemaphore released too many times") above the initial value.
  void release() {
    if (m_bound >= 0 && m_value >= m_bound) {
      throw ValueError("BoundedSemaphore released too many times");
    }
    ++m_value;
    wake_up_next();
  }
  /// `async with sem:` -- `auto guard = co_await sem.guard();` (or `co_await sem`).
  GuardAwaiter guard() noexcept { return GuardAwaiter(*this); }
  GuardAwaiter operator co_await() noexcept { return GuardAwaiter(*this); }

  /// Python's repr(): <asyncio.locks.Semaphore object at 0x... [unlocked, value:1]>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 protected:
  Semaphore(std::int64_t value, std::int64_t bound) : Semaphore(value) { m_bound = bound; }

 private:
  // Python's _wake_up_next: hands one unit of the counter to the first waiter not done.
  void wake_up_next() {
    for (std::size_t i = 0; i < m_waiters.size(); ++i) {
      if (!m_waiters[i].done()) {
        --m_value;
        m_waiters[i].set_result();
        return;
      }
    }
  }
  EventLoop& get_loop(detail::TaskCore* task) {
    return detail::bind_loop(m_loop, task->loop(), *this);
  }
  static Task<void> acquire_task(Semaphore& sem);

  detail::Waiters m_waiters;
  EventLoop* m_loop = nullptr;
  std::int64_t m_value;
  std::int64_t m_bound = -1;  // BoundedSemaphore's initial value; -1 when unbounded
};

/// Python's asyncio.BoundedSemaphore: a Semaphore whose release() raises
/// ValueError("BoundedSemaphore released too many times") rather than go above the initial
/// value. The check lives in Semaphore::release(), so that it holds through a Semaphore&.
class BoundedSemaphore : public Semaphore {
 public:
  /// ValueError("Semaphore initial value must be >= 0") for a negative value.
  explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value, value) {}
};

// ---- Condition -------------------------------------------------------------------------------

/// Python's asyncio.Condition: tasks wait() until another task notify()s them, all under a
/// Lock. acquire(), release(), locked() and `co_await cond` (a LockGuard of the lock) are the
/// lock's.
///
/// Ownership: Condition() makes and owns its own Lock. Condition(lock) shares a Lock that
/// the caller owns and that must outlive the Condition (several conditions may share one
/// lock); Condition(std::shared_ptr<Lock>) shares ownership of it instead.
class Condition {
 public:
  /// A Condition with a Lock of its own.
  Condition() : m_lock(&m_own_lock.emplace()) {}
  /// A Condition over lock, which the caller owns and keeps alive longer than it.
  explicit Condition(Lock& lock) noexcept : m_lock(&lock) {}
  /// A Condition that shares the ownership of lock. TypeError for a null pointer.
  explicit Condition(std::shared_ptr<Lock> lock) : m_shared_lock(std::move(lock)) {
    if (!m_shared_lock) throw TypeError("Condition() needs a Lock, got a null pointer");
    m_lock = m_shared_lock.get();
  }
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// The underlying lock.
  [[nodiscard]] Lock& lock() const noexcept { return *m_lock; }
  [[nodiscard]] bool locked() const noexcept { return m_lock->locked(); }
  Lock::AcquireAwaiter acquire() noexcept { return m_lock->acquire(); }
  void release() { m_lock->release(); }
  Lock::GuardAwaiter guard() noexcept { return m_lock->guard(); }
  Lock::GuardAwaiter operator co_await() noexcept { return m_lock->guard(); }

  /// Releases the lock, waits until notified, and re-acquires the lock -- even when the wait
  /// is cancelled: the CancelledError is raised once the lock is held again.
  /// RuntimeError("cannot wait on un-acquired lock") when the lock is not held.
  /// The returned task must be awaited while the Condition is alive.
  Task<void> wait();
  /// Waits until predicate() is true (checked first, then after each wake-up, with the lock
  /// held) and returns its last value. The lock must be held.
  template <std::invocable Predicate>
  Task<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  /// Wakes up to n waiting tasks (each returns from wait() once it has the lock again).
  /// RuntimeError("cannot notify on un-acquired lock") when the lock is not held.
  void notify(std::size_t n = 1) {
    if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
    std::size_t woken = 0;
    for (std::size_t i = 0; i < m_waiters.size() && woken < n; ++i) {
      if (!m_waiters[i].done()) {
        ++woken;
        m_waiters[i].set_result();
      }
    }
  }
  /// Wakes every waiting task.
  void notify_all() { notify(m_waiters.size()); }

  /// Python's repr(): <asyncio.locks.Condition object at 0x... [locked, waiters:1]>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 private:
  class NotifyAwaiter;
  EventLoop& get_loop(detail::TaskCore* task) {
    return detail::bind_loop(m_loop, task->loop(), *this);
  }

  std::optional<Lock> m_own_lock;
  std::shared_ptr<Lock> m_shared_lock;
  Lock* m_lock = nullptr;
  detail::Waiters m_waiters;
  EventLoop* m_loop = nullptr;
};

// ---- Barrier ---------------------------------------------------------------------------------

/// Python's asyncio.Barrier (3.11): `parties` tasks wait() until all of them have arrived,
/// then all proceed; the barrier then refills for the next round. abort() breaks it, reset()
/// returns it to the empty state; waiting tasks then get BrokenBarrierError.
class Barrier {
 public:
  /// ValueError("parties must be > 0") when parties < 1.
  explicit Barrier(std::int64_t parties) : m_parties(checked_parties(parties)) {}
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits until `parties` tasks are waiting, and returns this task's arrival index, from 0
  /// to parties-1. BrokenBarrierError when the barrier is broken, or is aborted or reset
  /// while this task waits. (Python's `async with barrier as index` is this call.)
  Task<std::size_t> wait();
  /// Returns the barrier to its empty state; tasks waiting get BrokenBarrierError.
  Task<void> reset();
  /// Breaks the barrier: waiting tasks and later wait() calls get BrokenBarrierError.
  Task<void> abort();

  /// The number of tasks it takes to pass the barrier.
  [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
  /// The number of tasks waiting while it fills (0 while it drains or resets).
  [[nodiscard]] std::size_t n_waiting() const noexcept {
    return m_state == State::FILLING ? m_count : 0;
  }
  /// Whether it is broken (abort()).
  [[nodiscard]] bool broken() const noexcept { return m_state == State::BROKEN; }

  /// Python's repr(): <asyncio.locks.Barrier object at 0x... [filling, waiters:1/3]>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

 private:
  enum class State : std::uint8_t { FILLING, DRAINING, RESETTING, BROKEN };
  static std::size_t checked_parties(std::int64_t parties) {
    if (parties < 1) throw ValueError("parties must be > 0");
    return static_cast<std::size_t>(parties);
  }
  void exit_barrier();

  Condition m_cond;  // notifies every task when the state changes
  std::size_t m_parties;
  std::size_t m_count = 0;  // tasks in the barrier
  State m_state = State::FILLING;
};

}  // namespace batteries::asyncio
