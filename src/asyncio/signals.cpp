// Signals for the event loop: add_signal_handler / remove_signal_handler, and asyncio::run's
// Ctrl+C (Python 3.11's asyncio.Runner).
//
// The design. A process has one disposition per signal, so the state is global, one Slot per
// signal number, and a signal belongs to at most one loop. The sigaction handler is
// async-signal-safe: it sets the signal's bit in g_pending and writes to the owning loop's
// eventfd, which wakes that loop's selector from any thread. Each iteration of a loop that
// owns signals takes its bits from g_pending and queues the callbacks, which then run as any
// other callback. Arrivals between two iterations coalesce into one run, as POSIX coalesces
// a pending signal.
//
// Removing a handler must not let a handler that is still running on another thread write to
// a descriptor that is closed (and maybe reused) afterwards: the handler counts itself in
// Slot::busy before it reads Slot::wake_fd, and removal clears wake_fd, then waits for busy
// to drop to zero, then clears the pending bit. A handler that starts after that sees no
// descriptor and does nothing.
#include "batteries/asyncio/loop.hpp"

#include <batteries/asyncio/task.hpp>

#include <fmt/format.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace batteries::asyncio {

namespace {

static_assert(NSIG <= 65, "the pending signals are bits of a 64-bit word");
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a signal handler may only use lock-free atomics");

struct Slot {
  std::atomic<int> wake_fd{-1};     // the owning loop's eventfd; -1 when no loop owns it
  std::atomic<int> busy{0};         // handlers running that may still use wake_fd
  std::atomic<bool> runner{false};  // asyncio::run's SIGINT (see run_sigint_begin)
  EventLoop* owner = nullptr;       // guarded by g_mutex
  struct sigaction previous {};     // for runner: the disposition to restore
};

std::array<Slot, NSIG> g_slots;
std::atomic<std::uint64_t> g_pending{0};  // bit sig - 1: sig arrived, not yet taken
std::mutex g_mutex;                       // add, remove and close, from any loop's thread

// asyncio::run's state: the main thread only (the loop that owns the runner's SIGINT runs
// there). g_interrupts counts the SIGINTs that arrived, in the handler; handled, those that
// the loop acted on.
std::atomic<std::uint32_t> g_interrupts{0};
struct RunState {
  EventLoop* loop = nullptr;
  detail::TaskCore* main = nullptr;
  std::uint32_t handled = 0;
};
RunState g_run;

constexpr std::uint64_t bit(int sig) noexcept { return std::uint64_t{1} << (sig - 1); }

void set_disposition(int sig, void (*handler)(int)) noexcept {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  ::sigaction(sig, &action, nullptr);
}

extern "C" void on_signal(int sig) {
  const int saved_errno = errno;  // write() may change it under the interrupted code
  Slot& slot = g_slots[static_cast<std::size_t>(sig)];
  slot.busy.fetch_add(1);
  if (const int fd = slot.wake_fd.load(); fd >= 0) {
    // The runner's second Ctrl+C gives SIGINT back to the system at once, so that a third
    // kills a program whose loop is stuck in a callback.
    if (slot.runner.load() && g_interrupts.fetch_add(1) + 1 >= 2) set_disposition(sig, SIG_DFL);
    g_pending.fetch_or(bit(sig));
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
  }
  slot.busy.fetch_sub(1);
  errno = saved_errno;
}

// Python's signal.valid_signals(): what sigfillset() holds (glibc leaves out the two signals
// it reserves for threads, 32 and 33).
void check_signal(int sig) {
  sigset_t all;
  sigfillset(&all);
  if (sig < 1 || sig >= NSIG || sigismember(&all, sig) != 1) {
    throw ValueError(fmt::format("invalid signal number {}", sig));
  }
}

// Installs on_signal for sig, with SA_RESTART as Python's siginterrupt(sig, False) asks, and
// SA_ONSTACK as CPython does. Raises what add_signal_handler() raises.
void install_handler(int sig, struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = &on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_ONSTACK;
  if (::sigaction(sig, &action, previous) != 0) {
    if (errno == EINVAL) throw RuntimeError(fmt::format("sig {} cannot be caught", sig));
    raise_errno();
  }
}

// Makes slot belong to no loop: the disposition is set to `restore` first (no new handler
// starts), then the handlers still running are waited for, then a pending arrival is dropped,
// as Python drops a signal whose handler was removed before the loop read it. Under g_mutex.
void release_slot(int sig, const struct sigaction& restore) noexcept {
  Slot& slot = g_slots[static_cast<std::size_t>(sig)];
  ::sigaction(sig, &restore, nullptr);
  slot.wake_fd.store(-1);
  while (slot.busy.load() != 0) sched_yield();  // a handler on another thread, finishing
  g_pending.fetch_and(~bit(sig));
  slot.runner.store(false);
  slot.owner = nullptr;
}

struct sigaction default_action() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  return action;
}

bool on_main_thread() noexcept {
#if defined(__linux__)
  return ::gettid() == ::getpid();
#elif defined(__APPLE__) || defined(__FreeBSD__)
  return pthread_main_np() == 1;
#else
  return true;
#endif
}

// Runner._on_sigint for the SIGINTs that arrived: the first cancels main (unless it is done);
// any other raises KeyboardInterrupt out of the loop.
void run_sigint_process() {
  const std::uint32_t arrived = g_interrupts.load();
  while (g_run.handled < arrived) {
    if (++g_run.handled == 1 && g_run.main != nullptr && !g_run.main->done()) {
      g_run.main->cancel("");
      continue;
    }
    g_run.handled = arrived;
    throw KeyboardInterrupt();
  }
}

}  // namespace

void EventLoop::add_signal_handler(int sig, Callback callback) {
  check_signal(sig);
  check_closed();
  const std::lock_guard lock(g_mutex);
  Slot& slot = g_slots[static_cast<std::size_t>(sig)];
  if (slot.owner != nullptr && slot.owner != this) {
    throw RuntimeError(
        fmt::format("sig {} already has a handler in another event loop; a signal can belong "
                    "to one loop at a time",
                    sig));
  }
  const auto index = static_cast<std::size_t>(sig);
  if (m_signal_handlers.size() <= index) m_signal_handlers.resize(index + 1, nullptr);
  auto* state = new detail::HandleState{std::move(callback), this};
  const bool fresh = slot.owner == nullptr;
  if (fresh) {
    slot.wake_fd.store(m_wakeup_fd);
    slot.owner = this;
  }
  try {
    // Every time, as Python's signal.signal() does: this also repairs a disposition that
    // someone changed behind the loop's back.
    install_handler(sig, nullptr);
  } catch (...) {
    state->release();
    if (fresh) release_slot(sig, default_action());
    throw;
  }
  // asyncio::run's SIGINT handler, if it was, is replaced: a SIGINT it did not act on yet
  // goes to the new callback instead.
  if (slot.runner.exchange(false)) g_run.handled = g_interrupts.load();
  // A queued run of the old callback still happens, as in Python (the old Handle is not
  // cancelled); the queue holds its own reference.
  if (detail::HandleState* old = std::exchange(m_signal_handlers[index], state)) old->release();
  m_signal_mask |= bit(sig);
}

bool EventLoop::remove_signal_handler(int sig) {
  check_signal(sig);
  const auto index = static_cast<std::size_t>(sig);
  if (index >= m_signal_handlers.size() || m_signal_handlers[index] == nullptr) return false;
  {
    const std::lock_guard lock(g_mutex);
    release_slot(sig, default_action());
  }
  std::exchange(m_signal_handlers[index], nullptr)->release();
  m_signal_mask &= ~bit(sig);
  return true;
}

void EventLoop::close_signals() noexcept {
  if (m_signal_mask == 0) return;
  {
    const std::lock_guard lock(g_mutex);
    for (std::uint64_t mask = m_signal_mask; mask != 0; mask &= mask - 1) {
      const int sig = std::countr_zero(mask) + 1;
      Slot& slot = g_slots[static_cast<std::size_t>(sig)];
      if (slot.runner.load()) {  // asyncio::run's loop, on the main thread
        release_slot(sig, slot.previous);
        g_run = {};
      } else {
        release_slot(sig, default_action());
      }
    }
  }
  for (detail::HandleState*& state : m_signal_handlers) {
    if (state != nullptr) std::exchange(state, nullptr)->release();
  }
  m_signal_handlers.clear();
  m_signal_mask = 0;
}

void EventLoop::process_signals() {
  std::uint64_t arrived = g_pending.load(std::memory_order_acquire) & m_signal_mask;
  if (arrived == 0) return;
  arrived &= g_pending.fetch_and(~arrived);
  bool interrupt = false;
  for (; arrived != 0; arrived &= arrived - 1) {
    const int sig = std::countr_zero(arrived) + 1;
    detail::HandleState* state = m_signal_handlers[static_cast<std::size_t>(sig)];
    if (state == nullptr) {  // only asyncio::run's SIGINT has no callback
      interrupt = true;
      continue;
    }
    state->retain();
    try {
      m_ready.push_back({&EventLoop::run_handle, state, 0});
    } catch (...) {
      state->release();  // out of memory: this run is dropped, and reported
      call_exception_handler(
          {fmt::format("Dropped the handler of signal {}", sig), std::current_exception(), {}});
    }
  }
  if (interrupt) run_sigint_process();  // last: it may raise KeyboardInterrupt
}

// ---- asyncio::run's Ctrl+C ----------------------------------------------------------------

bool detail::run_sigint_begin(EventLoop& loop, TaskCore& main) {
  if (!on_main_thread()) return false;
  const std::lock_guard lock(g_mutex);
  Slot& slot = g_slots[SIGINT];
  if (slot.owner != nullptr) return false;
  struct sigaction current {};
  if (::sigaction(SIGINT, nullptr, &current) != 0) return false;
  if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return false;
  g_interrupts.store(0);
  g_run = {&loop, &main, 0};
  slot.wake_fd.store(loop.m_wakeup_fd);
  slot.runner.store(true);
  slot.owner = &loop;
  try {
    install_handler(SIGINT, &slot.previous);
  } catch (...) {
    release_slot(SIGINT, default_action());
    g_run = {};
    return false;
  }
  if (loop.m_signal_handlers.size() <= SIGINT) loop.m_signal_handlers.resize(SIGINT + 1, nullptr);
  loop.m_signal_mask |= bit(SIGINT);
  return true;
}

bool detail::run_sigint_end(EventLoop& loop, TaskCore& main) noexcept {
  if (g_run.loop != &loop) return false;
  {
    const std::lock_guard lock(g_mutex);
    Slot& slot = g_slots[SIGINT];
    if (slot.owner == &loop && slot.runner.load()) {
      release_slot(SIGINT, slot.previous);
      loop.m_signal_mask &= ~bit(SIGINT);
    }
  }
  const std::uint32_t arrived = g_interrupts.load();  // no handler counts any more
  const bool unhandled = arrived > g_run.handled;
  g_run = {};
  // Runner.run: `except CancelledError: if self._interrupt_count > 0 and task.uncancel() == 0:
  // raise KeyboardInterrupt()`. A SIGINT the loop never saw would have raised in Python's
  // handler, main being done by then.
  if (unhandled) return true;
  return arrived > 0 && main.cancelled() && main.uncancel() == 0;
}

}  // namespace batteries::asyncio
