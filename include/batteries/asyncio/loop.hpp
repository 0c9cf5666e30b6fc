// The asyncio event loop: callbacks, timers, file-descriptor readiness and the ready queue.
//
// EventLoop is Python's asyncio.BaseEventLoop over batteries::selectors. It runs callbacks
// scheduled with call_soon / call_later / call_at, and callbacks for readable or writable
// descriptors (add_reader / add_writer), one iteration at a time as Python's _run_once does:
// wait in the selector until the first timer is due (or not at all when callbacks are
// ready), queue the descriptors' callbacks and the due timers, then run the callbacks that
// were ready when the iteration started, in order. Callbacks scheduled while it runs wait for
// the next iteration. Coroutine tasks (asyncio/task.hpp) resume through the same queue.
//
// Thread-safety: a loop belongs to the thread that runs it. Only call_soon_threadsafe() may
// be called from other threads; it wakes the loop through an eventfd. Several loops may
// run at once, one per thread. Handles may be cancelled only from the loop's thread.
// Signals are process-wide: each signal belongs to at most one loop at a time, whichever
// thread the kernel delivers it to, and its callback runs in that loop's thread.
#pragma once

#include <batteries/asyncio/detail/ring.hpp>
#include <batteries/errors.hpp>
#include <batteries/selectors.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries::asyncio {

class EventLoop;
class ThreadPoolExecutor;
template <class T>
class Task;

namespace detail {

class TaskCore;

/// Something that holds descriptors on a loop and must let them go when the loop closes: an
/// open transport, a serving server. close() calls on_loop_close() on each (the newest
/// first), after it has dropped the callbacks; the object then closes its descriptors and
/// releases what it holds, without calling back into the loop.
class LoopResource {
 public:
  virtual void on_loop_close() noexcept = 0;

 protected:
  ~LoopResource() = default;

 private:
  friend class batteries::asyncio::EventLoop;
  LoopResource* m_prev_resource = nullptr;
  LoopResource* m_next_resource = nullptr;
};

/// The loop's default executor and its channel for other threads (asyncio/threads.hpp).
class LoopThreads;
/// close(): closes that channel and shuts the default executor down, joining its threads
/// (defined in threads.cpp).
void close_loop_threads(EventLoop& loop) noexcept;

/// Something the timer heap can hold. A heap entry is live while the node's `armed` equals
/// the entry's sequence number; cancelling a timer sets `armed` to 0 and leaves the entry to
/// be dropped lazily, as Python leaves cancelled TimerHandles in its heap.
struct TimerNode {
  /// Called once for each heap entry when it leaves the heap: `live` when it is due and
  /// still armed (the node queues its work), false when it was cancelled (the node releases
  /// what the entry held).
  void (*leave)(TimerNode* node, bool live) = nullptr;
  std::uint64_t armed = 0;
};

/// The shared state of a Handle: the callback and whether it was cancelled. Reference
/// counted, atomically, because call_soon_threadsafe() creates it on another thread.
struct HandleState : TimerNode {
  std::function<void()> callback;
  EventLoop* loop = nullptr;
  double when = 0;  // for timers
  std::atomic<std::uint32_t> refs{1};
  bool cancelled = false;

  HandleState(std::function<void()> cb, EventLoop* l, double w = 0) noexcept
      : callback(std::move(cb)), loop(l), when(w) {}
  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

class FutureCore;

/// One entry of the ready queue: a function and two arguments. Callbacks use a trampoline
/// over a HandleState; tasks and futures use their own, with no allocation.
/// When the entry holds a reference to a future (released after it runs, or when it is
/// dropped), that future is b, with its low bit set; run() receives it untagged.
struct Ready {
  void (*run)(void*, void*);
  void* a;
  std::uintptr_t b;

  [[nodiscard]] bool keeps() const noexcept { return (b & 1U) != 0; }
  [[nodiscard]] void* arg() const noexcept {
    return reinterpret_cast<void*>(b & ~std::uintptr_t{1});
  }
};

/// Drops a reference to a future (future.cpp).
void release_future(FutureCore* future) noexcept;
/// close(): frees what a ready-queue entry that will never run holds (future.cpp).
void drop_ready(const Ready& item) noexcept;

/// asyncio::run()'s Ctrl+C, as Python 3.11's asyncio.Runner (signals.cpp). On the main
/// thread, when SIGINT's disposition is SIG_DFL and no loop owns SIGINT, makes loop own it
/// until run_sigint_end(): the first SIGINT cancels main at the loop's next iteration; a
/// later one restores SIG_DFL at once (in the handler) and makes that iteration raise
/// KeyboardInterrupt. Returns whether it installed the handler.
bool run_sigint_begin(EventLoop& loop, TaskCore& main);
/// After a run_sigint_begin() that returned true: restores the disposition it replaced,
/// unless add_signal_handler(SIGINT) took the signal over since. Returns whether run() must
/// raise KeyboardInterrupt: a SIGINT came that the loop did not act on, or main ended
/// cancelled after a SIGINT and main.uncancel() == 0 (Runner.run's check).
bool run_sigint_end(EventLoop& loop, TaskCore& main) noexcept;

/// A coroutine function: a callable that returns a Task (add_signal_handler() refuses one at
/// compile time).
template <class T>
inline constexpr bool is_task_result_v = false;
template <class T>
inline constexpr bool is_task_result_v<Task<T>> = true;
template <class F>
concept coroutine_function =
    std::invocable<F&> && is_task_result_v<std::remove_cvref_t<std::invoke_result_t<F&>>>;

}  // namespace detail

/// Python's asyncio.Handle: a scheduled callback that can be cancelled before it runs.
class Handle {
 public:
  Handle() = default;
  Handle(const Handle& other) noexcept : m_state(other.m_state) {
    if (m_state) m_state->retain();
  }
  Handle(Handle&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
  Handle& operator=(Handle other) noexcept {
    std::swap(m_state, other.m_state);
    return *this;
  }
  ~Handle() {
    if (m_state) m_state->release();
  }

  /// Cancels the callback: it will not run. Cancelling twice, or after it ran, does nothing.
  void cancel();
  [[nodiscard]] bool cancelled() const noexcept { return m_state && m_state->cancelled; }
  [[nodiscard]] explicit operator bool() const noexcept { return m_state != nullptr; }
  friend bool operator==(const Handle& a, const Handle& b) noexcept {
    return a.m_state == b.m_state;
  }

 protected:
  friend class EventLoop;
  explicit Handle(detail::HandleState* adopted) noexcept : m_state(adopted) {}
  detail::HandleState* m_state = nullptr;
};

/// Python's asyncio.TimerHandle: a Handle with the loop time it is due at.
class TimerHandle : public Handle {
 public:
  TimerHandle() = default;
  /// The loop time (EventLoop::time()) the callback is scheduled for.
  [[nodiscard]] double when() const noexcept { return m_state ? m_state->when : 0.0; }

 private:
  friend class EventLoop;
  explicit TimerHandle(detail::HandleState* adopted) noexcept : Handle(adopted) {}
};

/// What call_exception_handler() receives: Python's context dict as a struct.
struct ExceptionContext {
  std::string message;
  std::exception_ptr exception;  ///< may be null
  std::optional<Handle> handle;  ///< the callback that raised, if any
  std::string future = {};       ///< repr() of the future or task involved, if any
};

class EventLoop {
 public:
  using Callback = std::function<void()>;
  using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

  /// A new loop over a DefaultSelector. It is not the running loop until run_forever().
  EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  /// Closes the loop if it is not closed. Destroying a running loop is a bug; it aborts.
  ~EventLoop();

  // ---- running --------------------------------------------------------------------------
  /// Runs until stop() is called. RuntimeError if the loop is closed, or if it or another
  /// loop is already running in this thread.
  void run_forever();
  /// Makes run_forever() return after the current iteration (the callbacks already queued
  /// still run). Before run_forever(), the next run stops after one iteration.
  void stop() noexcept;
  [[nodiscard]] bool is_running() const noexcept { return m_running; }
  [[nodiscard]] bool is_closed() const noexcept { return m_closed; }
  /// Drops every pending callback and closes the selector. RuntimeError while running.
  /// Closing twice does nothing.
  void close();

  // ---- scheduling -------------------------------------------------------------------------
  /// Runs callback soon, after the callbacks already queued (FIFO).
  Handle call_soon(Callback callback);
  /// Runs callback after delay seconds (at least; negative means now).
  TimerHandle call_later(double delay, Callback callback);
  template <class Rep, class Period>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, Callback callback) {
    return call_later(std::chrono::duration<double>(delay).count(), std::move(callback));
  }
  /// Runs callback at loop time `when` (see time()).
  TimerHandle call_at(double when, Callback callback);
  /// call_soon from any thread: wakes the loop. RuntimeError once the loop is closed.
  Handle call_soon_threadsafe(Callback callback);
  /// The loop's clock, in seconds: a monotonic clock (CLOCK_MONOTONIC), as Python's.
  [[nodiscard]] double time() const noexcept;

  // ---- file descriptors -------------------------------------------------------------------
  /// Calls callback each time fd is readable, until remove_reader(fd). Replaces an existing
  /// reader of fd.
  void add_reader(int fd, Callback callback);
  /// Stops watching fd for reading; returns whether it was watched.
  bool remove_reader(int fd);
  void add_writer(int fd, Callback callback);
  bool remove_writer(int fd);

  // ---- signals (signals.cpp) --------------------------------------------------------------
  // A signal that arrives sets a bit and wakes the loop that owns it through its eventfd
  // (the C-level handler does nothing else: it is async-signal-safe); the loop's next
  // iteration queues the callback, which then runs as any other callback, in the loop's
  // thread. Arrivals are coalesced, as POSIX coalesces a pending signal: however many times
  // a signal arrives between two iterations, its callback runs once; the guarantee is one
  // run after each arrival. Other system calls are not cut short: the handler is installed
  // with SA_RESTART, and the selector retries EINTR with the time left.

  /// Python's loop.add_signal_handler(sig, callback): runs callback in this loop each time sig
  /// arrives (a lambda carries Python's *args). Re-adding replaces the callback (a run
  /// already queued still happens). ValueError("invalid signal number 0") for a number
  /// outside signal.valid_signals() (1..64 on Linux but 32 and 33), RuntimeError("sig 9
  /// cannot be caught") for SIGKILL and SIGSTOP, RuntimeError("Event loop is closed"), and
  /// RuntimeError when another live loop owns sig (Python refuses every thread but the main
  /// one; here any thread may own signals, one loop per signal).
  void add_signal_handler(int sig, Callback callback);
  /// A coroutine function is refused at compile time (Python: TypeError("coroutines cannot
  /// be used with add_signal_handler()")); schedule a task from a plain callback instead.
  template <detail::coroutine_function F>
  void add_signal_handler(int sig, F&& coroutines_cannot_be_used_with_add_signal_handler) = delete;
  /// Python's loop.remove_signal_handler(sig): removes this loop's handler of sig and
  /// restores SIG_DFL (Python restores default_int_handler for SIGINT; C++ has none); returns
  /// false when this loop had no handler for sig. ValueError for an invalid number. close()
  /// removes every handler of the loop.
  bool remove_signal_handler(int sig);

  // ---- errors -----------------------------------------------------------------------------
  /// Reports an error that nothing else can: the handler set, or default_exception_handler.
  void call_exception_handler(const ExceptionContext& context) noexcept;
  /// Sets the handler; an empty function restores the default.
  void set_exception_handler(ExceptionHandler handler);
  [[nodiscard]] const ExceptionHandler& get_exception_handler() const noexcept {
    return m_exception_handler;
  }
  /// Writes the message, the exception's type and message to stderr, as Python logs them.
  void default_exception_handler(const ExceptionContext& context) noexcept {
    default_exception_handler_static(context);
  }
  /// The same, for reports that have no loop any more.
  static void default_exception_handler_static(const ExceptionContext& context) noexcept;

  // ---- executors (asyncio/threads.hpp) ----------------------------------------------------
  /// Python's loop.set_default_executor(executor): the pool that run_in_executor(loop,
  /// nullptr, ...) and to_thread() use. Python 3.11 takes only a ThreadPoolExecutor (else
  /// TypeError); here the type says so. A previous default executor is released (its
  /// destructor waits for its jobs if the loop owned it alone). Defined in threads.cpp.
  void set_default_executor(std::shared_ptr<ThreadPoolExecutor> executor);

  // ---- resources (transports, servers) ------------------------------------------------------
  /// Registers r to be told when the loop closes (see detail::LoopResource).
  void attach_resource(detail::LoopResource* r) noexcept;
  /// Unregisters r; it must be registered.
  void detach_resource(detail::LoopResource* r) noexcept;

  // ---- debug ------------------------------------------------------------------------------
  /// Debug mode: callbacks that run longer than slow_callback_duration seconds are reported
  /// through the exception handler ("Executing ... took 0.123 seconds").
  void set_debug(bool enabled) noexcept { m_debug = enabled; }
  [[nodiscard]] bool get_debug() const noexcept { return m_debug; }
  double slow_callback_duration = 0.1;

  // ---- internals for the rest of batteries::asyncio ---------------------------------------
  /// Queues run(a, b) to run soon, like call_soon but with no Handle and no allocation.
  /// With keep, the entry holds that reference until it has run; b must then be null or
  /// keep itself, and run() receives keep as b.
  void schedule(void (*run)(void*, void*), void* a, void* b = nullptr,
                detail::FutureCore* keep = nullptr) {
    const auto word = reinterpret_cast<std::uintptr_t>(keep != nullptr ? keep : b);
    m_ready.push_back({run, a, keep != nullptr ? (word | 1U) : word});
  }
  /// Puts node in the timer heap, due at loop time `when`; returns the entry's sequence
  /// number, which is also stored in node->armed. Cancel with disarm().
  std::uint64_t arm(detail::TimerNode* node, double when);
  /// Cancels node's live heap entry, if it has one; the entry leaves the heap later.
  void disarm(detail::TimerNode* node) noexcept;
  /// The task whose step is running now, or nullptr (see current_task()).
  [[nodiscard]] detail::TaskCore* current_task() const noexcept { return m_current_task; }
  /// The number of callbacks ready to run and of timers pending (for tests and debugging).
  [[nodiscard]] std::size_t ready_count() const noexcept { return m_ready.size(); }
  [[nodiscard]] std::size_t timer_count() const noexcept { return m_timers.size(); }
  /// The default executor and the thread channel (threads.cpp), created on first use.
  [[nodiscard]] std::shared_ptr<detail::LoopThreads>& threads_state() noexcept { return m_threads; }

 private:
  struct FdCallbacks;

  void check_closed() const;
  void run_once();
  void pop_timer() noexcept;
  void drop_cancelled_timers() noexcept;
  void run_callback(detail::HandleState* state);
  void update_fd(int fd, FdCallbacks* callbacks);
  void add_fd_callback(int fd, detail::HandleState* FdCallbacks::*which, Callback callback);
  bool remove_fd_callback(int fd, detail::HandleState* FdCallbacks::*which);
  void drain_threadsafe() noexcept;
  void drop_ready_queue() noexcept;
  void process_signals();
  void close_signals() noexcept;
  static void run_handle(void* state, void*);
  static void handle_left_heap(detail::TimerNode* node, bool live);

  selectors::DefaultSelector m_selector;
  std::vector<selectors::BaseSelector::ReadyRef> m_events;

  detail::Ring<detail::Ready> m_ready;  // the ready queue

  // Timers: a binary min-heap on (when, sequence), so that equal times keep their order.
  struct Timer {
    double when;
    std::uint64_t seq;
    detail::TimerNode* node;
    [[nodiscard]] bool live() const noexcept { return node->armed == seq; }
  };
  std::vector<Timer> m_timers;
  std::uint64_t m_timer_seq = 1;  // 0 means "not armed"
  std::size_t m_cancelled_timers = 0;

  std::vector<std::unique_ptr<FdCallbacks>> m_fds;  // indexed by fd

  // call_soon_threadsafe: a locked queue and an eventfd that wakes the selector.
  std::mutex m_threadsafe_mutex;
  std::vector<detail::HandleState*> m_threadsafe;
  std::atomic<bool> m_threadsafe_pending{false};  // m_threadsafe is not empty
  int m_wakeup_fd = -1;
  bool m_closed_for_threads = false;  // guarded by m_threadsafe_mutex
  std::size_t m_watched_fds = 0;      // descriptors in the selector besides the eventfd

  // Signals (signals.cpp): the callback of each signal this loop owns, indexed by number
  // (null for asyncio::run's SIGINT), and those signals as bits (bit sig - 1) that each
  // iteration checks.
  std::vector<detail::HandleState*> m_signal_handlers;
  std::uint64_t m_signal_mask = 0;

  ExceptionHandler m_exception_handler;
  std::shared_ptr<detail::LoopThreads> m_threads;  // loop thread only; see threads_state()
  // The task running now; the tasks not yet done, in an intrusive list (Python's
  // all_tasks() weak set); and the counter that names them "Task-<n>".
  detail::TaskCore* m_current_task = nullptr;
  detail::TaskCore* m_tasks = nullptr;
  detail::LoopResource* m_resources = nullptr;  // an intrusive list, newest first
  std::uint64_t m_task_counter = 0;
  // SystemExit or KeyboardInterrupt that ended a task: re-raised out of run_forever().
  std::exception_ptr m_exit_exception;
  bool m_running = false;
  bool m_stopping = false;
  bool m_closed = false;
  bool m_debug = false;

  friend class Handle;
  friend class detail::TaskCore;
  friend bool detail::run_sigint_begin(EventLoop& loop, detail::TaskCore& main);
  friend bool detail::run_sigint_end(EventLoop& loop, detail::TaskCore& main) noexcept;
};

/// The loop running in this thread. RuntimeError("no running event loop") otherwise.
EventLoop& get_running_loop();
/// The running loop of this thread, or nullptr.
EventLoop* running_loop() noexcept;
/// A new event loop (Python's asyncio.new_event_loop()); the caller owns it.
std::unique_ptr<EventLoop> new_event_loop();

namespace detail {
/// Whether loop is an EventLoop that has not been destroyed (for reports from futures that
/// outlive their loop, which then go to the default handler).
bool loop_is_alive(const EventLoop* loop) noexcept;
}  // namespace detail

}  // namespace batteries::asyncio
