// ConcurrentFuture's state, ThreadPoolExecutor, and each loop's default executor and link.
#include "batteries/asyncio/threads.hpp"

#include <cxxabi.h>
#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <system_error>
#include <thread>

namespace batteries::asyncio {

namespace detail {

namespace {

// Python's _STATE_TO_DESCRIPTION_MAP, and the state names its InvalidStateError prints.
std::string_view description(ConcurrentCore::State state) noexcept {
  switch (state) {
    case ConcurrentCore::State::PENDING:
      return "pending";
    case ConcurrentCore::State::RUNNING:
      return "running";
    case ConcurrentCore::State::CANCELLED:
    case ConcurrentCore::State::CANCELLED_AND_NOTIFIED:
      return "cancelled";
    case ConcurrentCore::State::FINISHED:
      break;
  }
  return "finished";
}

std::string_view state_name(ConcurrentCore::State state) noexcept {
  switch (state) {
    case ConcurrentCore::State::PENDING:
      return "PENDING";
    case ConcurrentCore::State::RUNNING:
      return "RUNNING";
    case ConcurrentCore::State::CANCELLED:
      return "CANCELLED";
    case ConcurrentCore::State::CANCELLED_AND_NOTIFIED:
      return "CANCELLED_AND_NOTIFIED";
    case ConcurrentCore::State::FINISHED:
      break;
  }
  return "FINISHED";
}

std::string exception_type_name(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseException& ex) {
    return std::string(ex.type_name());
  } catch (const std::exception& ex) {
    return type_name(typeid(ex));
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type != nullptr ? type_name(*type) : "unknown";
  }
}

// Timeouts longer than this wait for ever (Python raises OverflowError past ~292 years).
constexpr double kForever = 100.0 * 365 * 24 * 3600;

}  // namespace

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

// ---- ConcurrentCore -------------------------------------------------------------------------

bool ConcurrentCore::done_locked() const noexcept {
  return m_state == State::CANCELLED || m_state == State::CANCELLED_AND_NOTIFIED ||
         m_state == State::FINISHED;
}

bool ConcurrentCore::cancelled() const {
  const std::lock_guard lock(m_mutex);
  return m_state == State::CANCELLED || m_state == State::CANCELLED_AND_NOTIFIED;
}

bool ConcurrentCore::running() const {
  const std::lock_guard lock(m_mutex);
  return m_state == State::RUNNING;
}

bool ConcurrentCore::done() const {
  const std::lock_guard lock(m_mutex);
  return done_locked();
}

std::vector<ConcurrentCore::Callback> ConcurrentCore::complete_locked(State state) noexcept {
  m_state = state;
  m_done.notify_all();
  return std::exchange(m_callbacks, {});
}

void ConcurrentCore::run_callbacks(std::vector<Callback>& callbacks) noexcept {
  for (Callback& fn : callbacks) {
    try {
      fn(*this);
    } catch (...) {
      try {
        EventLoop::default_exception_handler_static(
            {fmt::format("exception calling callback for {}", repr()), std::current_exception(),
             std::nullopt});
      } catch (...) {
      }
    }
  }
  callbacks.clear();  // what they hold goes now, in this thread
}

bool ConcurrentCore::cancel() {
  std::vector<Callback> callbacks;
  {
    const std::lock_guard lock(m_mutex);
    if (m_state == State::RUNNING || m_state == State::FINISHED) return false;
    if (m_state == State::CANCELLED || m_state == State::CANCELLED_AND_NOTIFIED) return true;
    callbacks = complete_locked(State::CANCELLED);
  }
  run_callbacks(callbacks);
  return true;
}

bool ConcurrentCore::set_running_or_notify_cancel() {
  const std::lock_guard lock(m_mutex);
  if (m_state == State::CANCELLED) {
    m_state = State::CANCELLED_AND_NOTIFIED;
    return false;
  }
  if (m_state == State::PENDING) {
    m_state = State::RUNNING;
    return true;
  }
  throw RuntimeError("Future in unexpected state");
}

std::unique_lock<std::mutex> ConcurrentCore::begin_set_result() {
  std::unique_lock lock(m_mutex);
  if (done_locked()) {
    throw InvalidStateError(fmt::format("{}: {}", state_name(m_state), repr_locked()));
  }
  return lock;
}

void ConcurrentCore::finish_result(std::unique_lock<std::mutex> lock) noexcept {
  std::vector<Callback> callbacks = complete_locked(State::FINISHED);
  lock.unlock();
  run_callbacks(callbacks);
}

void ConcurrentCore::set_exception(std::exception_ptr e) {
  if (!e) throw TypeError("set_exception() needs an exception, got a null exception_ptr");
  std::unique_lock lock = begin_set_result();
  m_exception = std::move(e);
  finish_result(std::move(lock));
}

void ConcurrentCore::wait_done(std::unique_lock<std::mutex>& lock, std::optional<double> timeout) {
  auto is_done = [this] { return done_locked(); };
  if (!timeout || *timeout > kForever) {
    m_done.wait(lock, is_done);
    return;
  }
  if (std::isnan(*timeout)) throw ValueError("Invalid value NaN (not a number)");
  if (*timeout <= 0) return;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(*timeout));
  m_done.wait_until(lock, deadline, is_done);
}

void ConcurrentCore::wait_result(std::optional<double> timeout) {
  std::unique_lock lock(m_mutex);
  wait_done(lock, timeout);
  if (m_state == State::CANCELLED || m_state == State::CANCELLED_AND_NOTIFIED) {
    throw CancelledError();
  }
  if (m_state != State::FINISHED) throw TimeoutError(std::string());
  if (m_exception) std::rethrow_exception(m_exception);
}

std::exception_ptr ConcurrentCore::wait_exception(std::optional<double> timeout) {
  std::unique_lock lock(m_mutex);
  wait_done(lock, timeout);
  if (m_state == State::CANCELLED || m_state == State::CANCELLED_AND_NOTIFIED) {
    throw CancelledError();
  }
  if (m_state != State::FINISHED) throw TimeoutError(std::string());
  return m_exception;
}

std::exception_ptr ConcurrentCore::take_exception() noexcept {
  const std::lock_guard lock(m_mutex);
  return std::exchange(m_exception, {});
}

void ConcurrentCore::add_done_callback(Callback fn) {
  {
    const std::lock_guard lock(m_mutex);
    if (!done_locked()) {
      m_callbacks.push_back(std::move(fn));
      return;
    }
  }
  std::vector<Callback> now;
  now.push_back(std::move(fn));
  run_callbacks(now);
}

std::string ConcurrentCore::repr_locked() const {
  const auto address = reinterpret_cast<std::uintptr_t>(this);
  if (m_state == State::FINISHED) {
    if (m_exception) {
      return fmt::format("<Future at {:#x} state=finished raised {}>", address,
                         exception_type_name(m_exception));
    }
    return fmt::format("<Future at {:#x} state=finished returned {}>", address, result_type_name());
  }
  return fmt::format("<Future at {:#x} state={}>", address, description(m_state));
}

std::string ConcurrentCore::repr() const {
  const std::lock_guard lock(m_mutex);
  return repr_locked();
}

// ---- the thread pool ------------------------------------------------------------------------

/// The pool's shared state: the executor and every worker hold it, so a worker that
/// outlives the executor (it destroyed the executor itself) still has it.
class PoolState {
 public:
  std::mutex mutex;
  std::condition_variable work;  // workers wait here for items or for shutdown
  std::deque<std::unique_ptr<WorkItem>> queue;
  std::vector<std::thread> threads;
  std::mutex join_mutex;  // one shutdown(wait=true) joins at a time; the others wait for it
  std::string prefix;
  std::function<void()> initializer;
  std::optional<std::string> broken;
  int max_workers = 1;
  int idle = 0;  // Python's _idle_semaphore
  bool shutdown = false;
};

namespace {

std::atomic<unsigned> g_pool_counter{0};

void fail_queued(PoolState& pool, const std::string& why) {
  std::deque<std::unique_ptr<WorkItem>> items;
  {
    const std::lock_guard lock(pool.mutex);
    pool.broken = why;
    items.swap(pool.queue);
  }
  for (auto& item : items) item->fail(std::make_exception_ptr(BrokenThreadPool(why)));
}

void worker(const std::shared_ptr<PoolState>& pool, const std::string& name) {
#if defined(__linux__)
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
#endif
  if (pool->initializer) {
    try {
      pool->initializer();
    } catch (...) {
      EventLoop::default_exception_handler_static(
          {"Exception in initializer:", std::current_exception(), std::nullopt});
      fail_queued(*pool, "A thread initializer failed, the thread pool is not usable anymore");
      return;
    }
  }
  std::unique_lock lock(pool->mutex);
  while (true) {
    pool->work.wait(lock, [&] { return !pool->queue.empty() || pool->shutdown; });
    if (pool->queue.empty()) return;  // shut down, and nothing left to run
    std::unique_ptr<WorkItem> item = std::move(pool->queue.front());
    pool->queue.pop_front();
    lock.unlock();
    item->run();
    item.reset();  // the call's arguments go outside the lock
    lock.lock();
    ++pool->idle;
  }
}

void join_workers(PoolState& pool) {
  const std::lock_guard join_lock(pool.join_mutex);
  std::vector<std::thread> threads;
  {
    const std::lock_guard lock(pool.mutex);
    threads.swap(pool.threads);
  }
  std::vector<std::thread> self;  // a worker that shuts its own pool down cannot join itself
  for (std::thread& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      self.push_back(std::move(t));
    } else {
      t.join();
    }
  }
  if (!self.empty()) {
    const std::lock_guard lock(pool.mutex);
    for (std::thread& t : self) pool.threads.push_back(std::move(t));
  }
}

}  // namespace

}  // namespace detail

// ---- WorkItem -------------------------------------------------------------------------------

WorkItem::~WorkItem() { cancel(); }

void WorkItem::cancel() noexcept {
  if (m_future) m_future->cancel();
}

void WorkItem::fail(std::exception_ptr error) noexcept {
  try {
    if (m_future->set_running_or_notify_cancel()) m_future->set_exception(std::move(error));
  } catch (...) {
    // already running or finished: its own result stands
  }
}

// ---- ThreadPoolExecutor ----------------------------------------------------------------------

ThreadPoolExecutor::ThreadPoolExecutor(std::optional<int> max_workers,
                                       std::string thread_name_prefix,
                                       std::function<void()> initializer)
    : m_pool(std::make_shared<detail::PoolState>()) {
  if (!max_workers) {
    // Python: min(32, (os.cpu_count() or 1) + 4), for I/O-bound work.
    const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
    max_workers = static_cast<int>(std::min(32U, cpus + 4));
  }
  if (*max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  m_pool->max_workers = *max_workers;
  m_pool->prefix = thread_name_prefix.empty()
                       ? fmt::format("ThreadPoolExecutor-{}", detail::g_pool_counter++)
                       : std::move(thread_name_prefix);
  m_pool->initializer = std::move(initializer);
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  try {
    do_shutdown(true, {});
  } catch (...) {
  }
  // Only a worker that destroys its own pool is left: it exits after its call.
  const std::lock_guard lock(m_pool->mutex);
  for (std::thread& t : m_pool->threads) t.detach();
  m_pool->threads.clear();
}

int ThreadPoolExecutor::max_workers() const noexcept { return m_pool->max_workers; }

std::size_t ThreadPoolExecutor::thread_count() const {
  const std::lock_guard lock(m_pool->mutex);
  return m_pool->threads.size();
}

void ThreadPoolExecutor::submit_work(std::unique_ptr<WorkItem> item) {
  if (!item) throw TypeError("submit_work() needs a work item, got null");
  detail::PoolState& pool = *m_pool;
  const std::lock_guard lock(pool.mutex);
  if (pool.broken) throw BrokenThreadPool(*pool.broken);
  if (pool.shutdown) throw RuntimeError("cannot schedule new futures after shutdown");
  pool.queue.push_back(std::move(item));
  pool.work.notify_one();
  // Python's _adjust_thread_count: an idle thread takes it, else a new one if allowed.
  if (pool.idle > 0) {
    --pool.idle;
    return;
  }
  if (pool.threads.size() >= static_cast<std::size_t>(pool.max_workers)) return;
  try {
    pool.threads.emplace_back(detail::worker, m_pool,
                              fmt::format("{}_{}", pool.prefix, pool.threads.size()));
  } catch (const std::system_error&) {
    if (!pool.threads.empty()) return;  // the running threads will take it
    pool.queue.pop_back();              // nobody would: the item goes, its future is cancelled
    throw RuntimeError("can't start new thread");
  }
}

void ThreadPoolExecutor::do_shutdown(bool wait, ShutdownOptions options) {
  std::deque<std::unique_ptr<WorkItem>> cancelled;
  {
    const std::lock_guard lock(m_pool->mutex);
    m_pool->shutdown = true;
    if (options.cancel_futures) cancelled.swap(m_pool->queue);
  }
  m_pool->work.notify_all();
  for (auto& item : cancelled) item->cancel();
  cancelled.clear();
  if (wait) detail::join_workers(*m_pool);
}

// ---- the loop's side --------------------------------------------------------------------------

namespace detail {

/// What a loop keeps for threads: its link, and its default executor.
class LoopThreads {
 public:
  explicit LoopThreads(EventLoop& loop)
      : link(std::make_shared<LoopLink>(loop.is_closed() ? nullptr : &loop)) {}

  std::shared_ptr<LoopLink> link;
  std::shared_ptr<ThreadPoolExecutor> default_executor;
  bool executor_shutdown_called = false;
};

namespace {

LoopThreads& threads_of(EventLoop& loop) {
  std::shared_ptr<LoopThreads>& state = loop.threads_state();
  if (!state) state = std::make_shared<LoopThreads>(loop);
  return *state;
}

/// Joins a thread when the coroutine frame that owns it goes (Python's `finally: join()`).
struct JoinOnExit {
  explicit JoinOnExit(std::thread t) noexcept : thread(std::move(t)) {}
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;
  ~JoinOnExit() {
    if (thread.joinable()) thread.join();
  }
  std::thread thread;
};

}  // namespace

bool LoopLink::post(EventLoop::Callback fn) {
  const std::lock_guard lock(m_mutex);
  if (m_loop == nullptr) return false;
  try {
    m_loop->call_soon_threadsafe(std::move(fn));
  } catch (const RuntimeError&) {
    return false;  // closed, and close() has not reached us yet
  }
  return true;
}

void LoopLink::close() noexcept {
  const std::lock_guard lock(m_mutex);
  m_loop = nullptr;
}

LocalGuard::~LocalGuard() {
  m_ref->core = nullptr;
  if (m_remote) m_remote->cancel();
}

std::shared_ptr<LoopLink> loop_link(EventLoop& loop) { return threads_of(loop).link; }

Executor& default_executor(EventLoop& loop) {
  LoopThreads& threads = threads_of(loop);
  if (threads.executor_shutdown_called) throw RuntimeError("Executor shutdown has been called");
  if (!threads.default_executor) {
    threads.default_executor = std::make_shared<ThreadPoolExecutor>(std::nullopt, "asyncio");
  }
  return *threads.default_executor;
}

void run_shutdown_default_executor(EventLoop& loop) {
  const std::shared_ptr<LoopThreads>& state = loop.threads_state();
  if (!state || !state->default_executor) {
    if (state) state->executor_shutdown_called = true;
    return;
  }
  run_until_complete(loop, shutdown_default_executor(loop));
}

void close_loop_threads(EventLoop& loop) noexcept {
  const std::shared_ptr<LoopThreads>& state = loop.threads_state();
  if (!state) return;
  state->link->close();
  // Python: shutdown(wait=False). Then the loop's reference goes; if it was the last one,
  // the executor's destructor joins the threads, so none is left behind.
  if (std::shared_ptr<ThreadPoolExecutor> executor = std::move(state->default_executor)) {
    try {
      executor->shutdown(false);
    } catch (...) {
    }
  }
}

}  // namespace detail

void EventLoop::set_default_executor(std::shared_ptr<ThreadPoolExecutor> executor) {
  if (!executor) throw TypeError("executor must be ThreadPoolExecutor");
  // The old one is released after the swap, outside the state: its destructor may wait.
  std::shared_ptr<ThreadPoolExecutor> old =
      std::exchange(detail::threads_of(*this).default_executor, std::move(executor));
}

Task<void> shutdown_default_executor(EventLoop& loop) {
  detail::LoopThreads& threads = detail::threads_of(loop);
  threads.executor_shutdown_called = true;
  std::shared_ptr<ThreadPoolExecutor> executor = threads.default_executor;
  if (!executor) co_return;
  ConcurrentFuture<void> done;
  // Python's _do_shutdown: the join happens in a helper thread while the loop runs on.
  const detail::JoinOnExit helper{std::thread([executor, done]() mutable {
    try {
      executor->shutdown(true);
      done.set_result();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  })};
  co_await wrap_future(done, loop);
}

}  // namespace batteries::asyncio
