// EventLoop: Python's BaseEventLoop._run_once over a selector, a ring buffer and a timer heap.
#include "batteries/asyncio/loop.hpp"

#include <batteries/asyncio/task.hpp>

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace batteries::asyncio {

namespace {

thread_local EventLoop* t_running = nullptr;

// Every EventLoop that exists, so that a future outliving its loop can tell.
std::mutex g_loops_mutex;
std::vector<const EventLoop*> g_loops;

// Python's _MIN_SCHEDULED_TIMER_HANDLES and _MIN_CANCELLED_TIMER_HANDLES_FRACTION: when
// more than half of over 100 timers are cancelled, the heap is rebuilt without them.
constexpr std::size_t kMinTimersToCompact = 100;
// Python's MAXIMUM_SELECT_TIMEOUT: a day.
constexpr double kMaxSelectTimeout = 24 * 3600;
// time.get_clock_info('monotonic').resolution on Linux.
constexpr double kClockResolution = 1e-9;

// The heap's order: std::*_heap keep the greatest on top, so "greater" means "due later".
// Equal times keep the order they were scheduled in.
template <class Timer>
bool due_later(const Timer& a, const Timer& b) noexcept {
  return a.when > b.when || (a.when == b.when && a.seq > b.seq);
}

}  // namespace

struct EventLoop::FdCallbacks {
  detail::HandleState* reader = nullptr;
  detail::HandleState* writer = nullptr;
};

void Handle::cancel() {
  if (m_state == nullptr || m_state->cancelled) return;
  m_state->cancelled = true;
  if (m_state->loop != nullptr) m_state->loop->disarm(m_state);
}

EventLoop::EventLoop() {
  m_wakeup_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wakeup_fd < 0) raise_errno();
  try {
    m_selector.register_(m_wakeup_fd, selectors::EVENT_READ);
    const std::lock_guard lock(g_loops_mutex);
    g_loops.push_back(this);
  } catch (...) {
    ::close(m_wakeup_fd);
    throw;
  }
}

EventLoop::~EventLoop() {
  if (m_running) {
    std::fputs("batteries::asyncio: an EventLoop was destroyed while running\n", stderr);
    std::abort();
  }
  close();
  detail::TaskCore::abandon_all(*this);
  drop_ready_queue();  // what the abandoned frames' destructors queued
  const std::lock_guard lock(g_loops_mutex);
  std::erase(g_loops, this);
}

bool detail::loop_is_alive(const EventLoop* loop) noexcept {
  const std::lock_guard lock(g_loops_mutex);
  return std::find(g_loops.begin(), g_loops.end(), loop) != g_loops.end();
}

void EventLoop::check_closed() const {
  if (m_closed) throw RuntimeError("Event loop is closed");
}

// ---- the ready queue ------------------------------------------------------------------------

void EventLoop::drop_ready_queue() noexcept {
  while (!m_ready.empty()) {
    const detail::Ready item = m_ready.pop_front();
    if (item.run == &EventLoop::run_handle) static_cast<detail::HandleState*>(item.a)->release();
    detail::drop_ready(item);
  }
}

void EventLoop::run_handle(void* p, void*) {
  auto* state = static_cast<detail::HandleState*>(p);
  struct Release {
    detail::HandleState* s;
    ~Release() { s->release(); }
  } release{state};
  if (!state->cancelled) state->loop->run_callback(state);
}

void EventLoop::run_callback(detail::HandleState* state) {
  const double start = m_debug ? time() : 0.0;
  try {
    state->callback();
  } catch (const SystemExit&) {
    throw;  // as Python's Handle._run lets SystemExit and KeyboardInterrupt through
  } catch (const KeyboardInterrupt&) {
    throw;
  } catch (...) {
    state->retain();
    call_exception_handler({"Exception in callback", std::current_exception(), Handle(state)});
  }
  if (m_debug) {
    const double took = time() - start;
    if (took >= slow_callback_duration) {
      state->retain();
      call_exception_handler(
          {fmt::format("Executing <Handle> took {:.3f} seconds", took), nullptr, Handle(state)});
    }
  }
}

// ---- scheduling ---------------------------------------------------------------------------

double EventLoop::time() const noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Handle EventLoop::call_soon(Callback callback) {
  check_closed();
  auto* state = new detail::HandleState{std::move(callback), this};
  state->refs.store(2, std::memory_order_relaxed);  // the queue's and the Handle's
  try {
    m_ready.push_back({&EventLoop::run_handle, state, 0});
  } catch (...) {
    delete state;
    throw;
  }
  return Handle(state);
}

TimerHandle EventLoop::call_later(double delay, Callback callback) {
  if (std::isnan(delay)) throw ValueError("delay must not be NaN");
  return call_at(time() + delay, std::move(callback));
}

TimerHandle EventLoop::call_at(double when, Callback callback) {
  check_closed();
  if (std::isnan(when)) throw ValueError("when must not be NaN");
  auto* state = new detail::HandleState{std::move(callback), this, when};
  state->leave = &EventLoop::handle_left_heap;
  state->refs.store(2, std::memory_order_relaxed);  // the heap's and the TimerHandle's
  try {
    arm(state, when);
  } catch (...) {
    delete state;
    throw;
  }
  return TimerHandle(state);
}

void EventLoop::handle_left_heap(detail::TimerNode* node, bool live) {
  auto* state = static_cast<detail::HandleState*>(node);
  if (live) {
    // The heap's reference moves to the queue. Out of memory is reported, not lost.
    try {
      state->loop->m_ready.push_back({&EventLoop::run_handle, state, 0});
      return;
    } catch (...) {
      state->loop->call_exception_handler(
          {"Dropped a timer callback", std::current_exception(), std::nullopt});
    }
  }
  state->release();
}

std::uint64_t EventLoop::arm(detail::TimerNode* node, double when) {
  const std::uint64_t seq = m_timer_seq++;
  m_timers.push_back({when, seq, node});
  std::push_heap(m_timers.begin(), m_timers.end(), due_later<Timer>);
  node->armed = seq;
  return seq;
}

void EventLoop::disarm(detail::TimerNode* node) noexcept {
  if (node->armed == 0) return;
  node->armed = 0;
  ++m_cancelled_timers;
}

void EventLoop::pop_timer() noexcept {
  std::pop_heap(m_timers.begin(), m_timers.end(), due_later<Timer>);
  m_timers.pop_back();
}

Handle EventLoop::call_soon_threadsafe(Callback callback) {
  auto* state = new detail::HandleState{std::move(callback), this};
  state->refs.store(2, std::memory_order_relaxed);
  bool wake = false;
  {
    const std::lock_guard lock(m_threadsafe_mutex);
    if (m_closed_for_threads) {
      delete state;
      throw RuntimeError("Event loop is closed");
    }
    wake = m_threadsafe.empty();
    m_threadsafe.push_back(state);
    m_threadsafe_pending.store(true, std::memory_order_release);
    if (wake) {
      // Under the lock, so that close() cannot close the eventfd in between.
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(m_wakeup_fd, &one, sizeof one);
    }
  }
  return Handle(state);
}

void EventLoop::drain_threadsafe() noexcept {
  std::uint64_t count;
  [[maybe_unused]] const auto n = ::read(m_wakeup_fd, &count, sizeof count);
  std::vector<detail::HandleState*> batch;
  {
    const std::lock_guard lock(m_threadsafe_mutex);
    batch.swap(m_threadsafe);
    m_threadsafe_pending.store(false, std::memory_order_relaxed);
  }
  for (detail::HandleState* state : batch) {
    try {
      m_ready.push_back({&EventLoop::run_handle, state, 0});
    } catch (...) {
      state->release();  // out of memory: the callback is dropped, and reported
      call_exception_handler(
          {"Dropped a call_soon_threadsafe callback", std::current_exception(), std::nullopt});
    }
  }
}

// ---- file descriptors ------------------------------------------------------------------

void EventLoop::update_fd(int fd, FdCallbacks* callbacks) {
  selectors::Events events{};
  if (callbacks->reader != nullptr) events |= selectors::EVENT_READ;
  if (callbacks->writer != nullptr) events |= selectors::EVENT_WRITE;
  const bool registered = m_selector.get_map().contains(fd);
  if (events == selectors::Events{}) {
    if (registered) {
      m_selector.unregister(fd);
      --m_watched_fds;
    }
  } else if (registered) {
    m_selector.modify(fd, events);
  } else {
    m_selector.register_(fd, events);
    ++m_watched_fds;
  }
}

void EventLoop::add_fd_callback(int fd, detail::HandleState* FdCallbacks::*which,
                                Callback callback) {
  check_closed();
  if (fd < 0) throw ValueError(fmt::format("Invalid file descriptor: {}", fd));
  if (fd == m_wakeup_fd) throw ValueError("cannot watch the loop's own wakeup descriptor");
  if (static_cast<std::size_t>(fd) >= m_fds.size()) m_fds.resize(static_cast<std::size_t>(fd) + 1);
  auto& slot = m_fds[static_cast<std::size_t>(fd)];
  if (!slot) slot = std::make_unique<FdCallbacks>();
  auto* state = new detail::HandleState{std::move(callback), this};
  detail::HandleState* old = std::exchange((*slot).*which, state);
  try {
    update_fd(fd, slot.get());
  } catch (...) {
    (*slot).*which = old;
    state->release();
    throw;
  }
  if (old != nullptr) {
    old->cancelled = true;
    old->release();
  }
}

bool EventLoop::remove_fd_callback(int fd, detail::HandleState* FdCallbacks::*which) {
  if (m_closed || fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size()) return false;
  auto& slot = m_fds[static_cast<std::size_t>(fd)];
  if (!slot || (*slot).*which == nullptr) return false;
  detail::HandleState* old = std::exchange((*slot).*which, nullptr);
  old->cancelled = true;
  old->release();
  update_fd(fd, slot.get());
  return true;
}

void EventLoop::add_reader(int fd, Callback callback) {
  add_fd_callback(fd, &FdCallbacks::reader, std::move(callback));
}

void EventLoop::add_writer(int fd, Callback callback) {
  add_fd_callback(fd, &FdCallbacks::writer, std::move(callback));
}

bool EventLoop::remove_reader(int fd) { return remove_fd_callback(fd, &FdCallbacks::reader); }

bool EventLoop::remove_writer(int fd) { return remove_fd_callback(fd, &FdCallbacks::writer); }

// ---- running ------------------------------------------------------------------------------

void EventLoop::drop_cancelled_timers() noexcept {
  // All of them when they are most of a large heap, else those on top.
  if (m_timers.size() > kMinTimersToCompact && m_cancelled_timers * 2 > m_timers.size()) {
    std::erase_if(m_timers, [&](const Timer& t) {
      if (t.live()) return false;
      t.node->leave(t.node, false);
      return true;
    });
    std::make_heap(m_timers.begin(), m_timers.end(), due_later<Timer>);
    m_cancelled_timers = 0;
  } else {
    while (!m_timers.empty() && !m_timers.front().live()) {
      detail::TimerNode* node = m_timers.front().node;
      pop_timer();
      --m_cancelled_timers;
      node->leave(node, false);
    }
  }
}

void EventLoop::run_once() {
  drop_cancelled_timers();

  selectors::BaseSelector::Timeout timeout;
  if (!m_ready.empty() || m_stopping) {
    timeout = std::chrono::nanoseconds(0);
  } else if (!m_timers.empty()) {
    const double wait = std::clamp(m_timers.front().when - time(), 0.0, kMaxSelectTimeout);
    timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(wait * 1e9)));
  }
  if (timeout == selectors::BaseSelector::Timeout(std::chrono::nanoseconds(0)) &&
      m_watched_fds == 0) {
    // Callbacks are ready and no descriptor but the eventfd is watched: a poll of the
    // selector could only report call_soon_threadsafe() work, which the flag shows.
    m_events.clear();
    if (m_threadsafe_pending.load(std::memory_order_acquire)) drain_threadsafe();
  } else {
    m_selector.select(m_events, timeout);
  }
  for (const auto& [key, mask] : m_events) {
    if (key->fd == m_wakeup_fd) {
      drain_threadsafe();
      continue;
    }
    FdCallbacks* callbacks = m_fds[static_cast<std::size_t>(key->fd)].get();
    for (detail::HandleState* state :
         {(mask & selectors::EVENT_READ) != 0 ? callbacks->reader : nullptr,
          (mask & selectors::EVENT_WRITE) != 0 ? callbacks->writer : nullptr}) {
      if (state == nullptr) continue;
      state->retain();
      m_ready.push_back({&EventLoop::run_handle, state, 0});
    }
  }
  // Signals hook (signals.cpp): queue the callbacks of the signals that arrived.
  if (m_signal_mask != 0) process_signals();

  const double end = time() + kClockResolution;
  while (!m_timers.empty() && m_timers.front().when < end) {
    const Timer top = m_timers.front();
    pop_timer();
    const bool live = top.live();
    if (live) {
      top.node->armed = 0;
    } else {
      --m_cancelled_timers;
    }
    top.node->leave(top.node, live);
  }

  // Only what was ready when the iteration started: callbacks queued by these run next time.
  for (std::size_t n = m_ready.size(); n > 0; --n) {
    const detail::Ready item = m_ready.pop_front();
    if (!item.keeps()) {
      item.run(item.a, item.arg());
    } else {
      struct Release {
        void* f;
        ~Release() { detail::release_future(static_cast<detail::FutureCore*>(f)); }
      } release{item.arg()};
      item.run(item.a, item.arg());
    }
  }
}

void EventLoop::run_forever() {
  check_closed();
  if (m_running) throw RuntimeError("This event loop is already running");
  if (t_running != nullptr) {
    throw RuntimeError("Cannot run the event loop while another loop is running");
  }
  m_running = true;
  t_running = this;
  struct Reset {
    EventLoop* loop;
    ~Reset() {
      loop->m_running = false;
      loop->m_stopping = false;
      t_running = nullptr;
    }
  } reset{this};
  while (true) {
    run_once();
    if (m_stopping) break;
  }
}

void EventLoop::stop() noexcept { m_stopping = true; }

void EventLoop::close() {
  if (m_running) throw RuntimeError("Cannot close a running event loop");
  if (m_closed) return;
  m_closed = true;
  close_signals();  // signals hook (signals.cpp): while the eventfd the handlers write to is open
  drop_ready_queue();
  std::vector<Timer> timers;
  timers.swap(m_timers);
  for (const Timer& t : timers) {
    if (t.live()) t.node->armed = 0;
    t.node->leave(t.node, false);
  }
  m_cancelled_timers = 0;
  for (auto& slot : m_fds) {
    if (!slot) continue;
    for (detail::HandleState* state : {slot->reader, slot->writer}) {
      if (state != nullptr) state->release();
    }
  }
  m_fds.clear();
  // Open transports and servers close their descriptors and let go of themselves.
  while (m_resources != nullptr) {
    detail::LoopResource* r = m_resources;
    detach_resource(r);
    r->on_loop_close();
  }
  {
    const std::lock_guard lock(m_threadsafe_mutex);
    m_closed_for_threads = true;
    for (detail::HandleState* state : m_threadsafe) state->release();
    m_threadsafe.clear();
    m_selector.close();
    ::close(m_wakeup_fd);
    m_wakeup_fd = -1;
  }
  // Last, so that the callbacks dropped above have released what they held: the default
  // executor is shut down and its threads joined (asyncio/threads.hpp).
  if (m_threads) detail::close_loop_threads(*this);
}

// ---- resources ----------------------------------------------------------------------------

void EventLoop::attach_resource(detail::LoopResource* r) noexcept {
  r->m_prev_resource = nullptr;
  r->m_next_resource = m_resources;
  if (m_resources != nullptr) m_resources->m_prev_resource = r;
  m_resources = r;
}

void EventLoop::detach_resource(detail::LoopResource* r) noexcept {
  if (r->m_prev_resource != nullptr) {
    r->m_prev_resource->m_next_resource = r->m_next_resource;
  } else if (m_resources == r) {
    m_resources = r->m_next_resource;
  }
  if (r->m_next_resource != nullptr) r->m_next_resource->m_prev_resource = r->m_prev_resource;
  r->m_prev_resource = nullptr;
  r->m_next_resource = nullptr;
}

// ---- errors ---------------------------------------------------------------------------------

void EventLoop::set_exception_handler(ExceptionHandler handler) {
  m_exception_handler = std::move(handler);
}

void EventLoop::default_exception_handler_static(const ExceptionContext& context) noexcept {
  try {
    std::string text =
        context.message.empty() ? "Unhandled exception in event loop" : context.message;
    if (!context.future.empty()) text += "\nfuture: " + context.future;
    if (context.exception) {
      try {
        std::rethrow_exception(context.exception);
      } catch (const BaseException& e) {
        text += fmt::format("\n{}: {}", e.type_name(), e.what());
      } catch (const std::exception& e) {
        text += fmt::format("\nexception: {}", e.what());
      } catch (...) {
        text += "\nan exception of unknown type";
      }
    }
    std::fprintf(stderr, "%s\n", text.c_str());
  } catch (...) {
    std::fputs("batteries::asyncio: the default exception handler failed\n", stderr);
  }
}

void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
  if (!m_exception_handler) {
    default_exception_handler(context);
    return;
  }
  try {
    m_exception_handler(*this, context);
  } catch (...) {
    // As Python does: report the handler's own failure, and the original error, by default.
    default_exception_handler(
        {"Unhandled error in exception handler", std::current_exception(), context.handle});
    default_exception_handler(context);
  }
}

// ---- the running loop ---------------------------------------------------------------------

EventLoop* running_loop() noexcept { return t_running; }

EventLoop& get_running_loop() {
  if (t_running == nullptr) throw RuntimeError("no running event loop");
  return *t_running;
}

std::unique_ptr<EventLoop> new_event_loop() { return std::make_unique<EventLoop>(); }

}  // namespace batteries::asyncio
