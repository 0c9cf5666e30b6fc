// asyncio locks: the coroutines (Condition::wait, Barrier) and the reprs, out of line.
#include <fmt/format.h>
#include <batteries/asyncio/locks.hpp>
#include <batteries/asyncio/queues.hpp>

#include <string>

namespace batteries::asyncio {

namespace detail {

void report_guard_error(const char* what) noexcept {
  try {
    const ExceptionContext context{what, std::current_exception(), std::nullopt};
    if (EventLoop* loop = running_loop()) {
      loop->call_exception_handler(context);
    } else {
      EventLoop::default_exception_handler_static(context);
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing is left to report it to
  }
}

std::string format_queue(std::string_view name, const void* self, std::int64_t maxsize,
                         std::size_t getters, std::size_t putters, std::size_t tasks) {
  std::string out = fmt::format("<{}", name);
  if (self != nullptr) out += fmt::format(" at {}", fmt::ptr(self));
  out += fmt::format(" maxsize={}", maxsize);
  if (getters > 0) out += fmt::format(" _getters[{}]", getters);
  if (putters > 0) out += fmt::format(" _putters[{}]", putters);
  if (tasks > 0) out += fmt::format(" tasks={}", tasks);
  out += '>';
  return out;
}

namespace {

// Python's <asyncio.locks.Lock object at 0x... [extra, waiters:n]>.
std::string lock_repr(std::string_view name, const void* self, std::string extra,
                      std::size_t waiters) {
  if (waiters > 0) extra += fmt::format(", waiters:{}", waiters);
  return fmt::format("<asyncio.locks.{} object at {} [{}]>", name, fmt::ptr(self), extra);
}

}  // namespace

}  // namespace detail

// ---- Event, Lock, Semaphore ------------------------------------------------------------------

std::string Event::repr() const {
  return detail::lock_repr("Event", this, m_value ? "set" : "unset", m_waiters.size());
}

Task<void> Event::wait_task(Event& event) { co_await event.wait(); }

std::string Lock::repr() const {
  return detail::lock_repr("Lock", this, m_locked ? "locked" : "unlocked", m_waiters.size());
}

Task<void> Lock::acquire_task(Lock& lock) { co_await lock.acquire(); }

std::string Semaphore::repr() const {
  return detail::lock_repr(
      m_bound >= 0 ? "BoundedSemaphore" : "Semaphore", this,
      locked() ? std::string("locked") : fmt::format("unlocked, value:{}", m_value),
      m_waiters.size());
}

Task<void> Semaphore::acquire_task(Semaphore& sem) { co_await sem.acquire(); }

// ---- Condition -------------------------------------------------------------------------------

// Waiting for notify(): Python's `fut = create_future(); waiters.append(fut); try: await fut
// finally: waiters.remove(fut)`.
class Condition::NotifyAwaiter : public detail::PrimitiveWait {
 public:
  explicit NotifyAwaiter(Condition& cond) noexcept : m_cond(&cond) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    detail::TaskCore* task = task_of(h);
    wait_in(m_cond->m_waiters, m_cond->get_loop(task), task, h);
  }
  void await_resume() {
    detail::remove_waiter(m_cond->m_waiters, m_future);
    resume_checks();
  }

 private:
  Condition* m_cond;
};

Task<void> Condition::wait() {
  if (!locked()) throw RuntimeError("cannot wait on un-acquired lock");
  release();
  // C++ cannot co_await in a handler, so Python's `finally` keeps the error for later.
  std::exception_ptr error;
  try {
    co_await NotifyAwaiter(*this);
  } catch (...) {
    error = std::current_exception();
  }
  // The lock must be held again on the way out, even when this task is cancelled meanwhile.
  bool cancelled = false;
  for (;;) {
    try {
      co_await acquire();
      break;
    } catch (const CancelledError&) {
      cancelled = true;
    }
  }
  if (cancelled) throw CancelledError(std::string());
  if (error) std::rethrow_exception(error);
}

std::string Condition::repr() const {
  return detail::lock_repr("Condition", this, locked() ? "locked" : "unlocked", m_waiters.size());
}

// ---- Barrier ---------------------------------------------------------------------------------

// Python's `async with self._cond:` and `try/finally` are spelled with handlers, not guards:
// a coroutine frame destroyed while it waits (an abandoned task) then runs none of them.
Task<std::size_t> Barrier::wait() {
  co_await m_cond.acquire();
  std::size_t index = 0;
  try {
    // Block while the barrier drains or resets; raise if it is broken.
    co_await m_cond.wait_for(
        [this] { return m_state != State::DRAINING && m_state != State::RESETTING; });
    if (m_state == State::BROKEN) throw BrokenBarrierError("Barrier aborted");
    index = m_count++;
    try {
      if (index + 1 == m_parties) {
        // The last to arrive releases the others.
        m_state = State::DRAINING;
        m_cond.notify_all();
      } else {
        co_await m_cond.wait_for([this] { return m_state != State::FILLING; });
        if (m_state == State::BROKEN || m_state == State::RESETTING) {
          throw BrokenBarrierError("Abort or reset of barrier");
        }
      }
    } catch (...) {
      --m_count;
      exit_barrier();
      throw;
    }
    --m_count;
    exit_barrier();
  } catch (...) {
    m_cond.release();
    throw;
  }
  m_cond.release();
  co_return index;
}

void Barrier::exit_barrier() {
  // The last task out lets in the tasks waiting for the barrier to drain.
  if (m_count == 0) {
    if (m_state == State::RESETTING || m_state == State::DRAINING) m_state = State::FILLING;
    m_cond.notify_all();
  }
}

Task<void> Barrier::reset() {
  co_await m_cond.acquire();
  if (m_count > 0) {
    m_state = State::RESETTING;  // wakes the waiting tasks with BrokenBarrierError
  } else {
    m_state = State::FILLING;
  }
  m_cond.notify_all();
  m_cond.release();
}

Task<void> Barrier::abort() {
  co_await m_cond.acquire();
  m_state = State::BROKEN;
  m_cond.notify_all();
  m_cond.release();
}

std::string Barrier::repr() const {
  static constexpr const char* kStates[] = {"filling", "draining", "resetting", "broken"};
  std::string extra = kStates[static_cast<int>(m_state)];
  if (!broken()) extra += fmt::format(", waiters:{}/{}", n_waiting(), m_parties);
  return fmt::format("<asyncio.locks.Barrier object at {} [{}]>", fmt::ptr(this), extra);
}

}  // namespace batteries::asyncio
