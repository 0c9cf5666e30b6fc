// Future: states, done callbacks through the ready queue, and unretrieved-exception reports.
#include <fmt/format.h>
#include <batteries/asyncio/task.hpp>

#include <algorithm>
#include <atomic>

namespace batteries::asyncio {

namespace detail {

void release_future(FutureCore* future) noexcept { future->release(); }

bool is_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_exit_exception(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const SystemExit&) {
    return true;
  } catch (const KeyboardInterrupt&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string exception_repr(const std::exception_ptr& e) {
  if (!e) return "None";
  try {
    std::rethrow_exception(e);
  } catch (const BaseException& b) {
    return b.repr();
  } catch (const std::exception& s) {
    return fmt::format("std::exception({})", py_repr(s.what()));
  } catch (...) {
    return "<unknown exception>";
  }
}

namespace {

// A user's done callback: a function of the future, and the id remove_done_callback takes.
struct UserCallback {
  std::function<void(FutureCore&)> fn;
  std::uint64_t id;
};

std::atomic<std::uint64_t> g_callback_ids{0};

void run_user_callback(void* arg, void* future) {
  std::unique_ptr<UserCallback> callback(static_cast<UserCallback*>(arg));
  callback->fn(*static_cast<FutureCore*>(future));
}

bool is_user(const DoneCallback& cb) noexcept { return cb.fn == &run_user_callback; }

}  // namespace

void drop_ready(const Ready& item) noexcept {
  if (item.run == &run_user_callback) delete static_cast<UserCallback*>(item.a);
  if (item.keeps()) static_cast<FutureCore*>(item.arg())->release();
}

namespace {

std::exception_ptr invalid_state(const FutureCore& f) {
  return std::make_exception_ptr(
      InvalidStateError(fmt::format("{}: {}", f.state_name(), f.repr())));
}

}  // namespace

FutureCore::~FutureCore() {
  // Callbacks never scheduled: user ones are ours to free.
  if (is_user(m_callback)) delete static_cast<UserCallback*>(m_callback.arg);
  if (m_extra) {
    for (const DoneCallback& cb : m_extra->more_callbacks) {
      if (is_user(cb)) delete static_cast<UserCallback*>(cb.arg);
    }
  }
}

void FutureCore::last_release() noexcept {
  if (m_is_task) static_cast<TaskCore*>(this)->report_never_awaited();
  if (m_log_traceback) {
    m_log_traceback = false;
    ExceptionContext context{
        m_is_task ? "Task exception was never retrieved" : "Future exception was never retrieved",
        m_exception, std::nullopt, repr()};
    if (m_loop != nullptr && loop_is_alive(m_loop)) {
      m_loop->call_exception_handler(context);
    } else {
      EventLoop::default_exception_handler_static(context);
    }
  }
  destroy();
}

std::string_view FutureCore::state_name() const noexcept {
  switch (m_state) {
    case State::PENDING:
      return "PENDING";
    case State::CANCELLED:
      return "CANCELLED";
    case State::FINISHED:
      break;
  }
  return "FINISHED";
}

std::string FutureCore::repr() const {
  std::string out = "<Future ";
  switch (m_state) {
    case State::PENDING:
      out += "pending";
      break;
    case State::CANCELLED:
      out += "cancelled";
      break;
    case State::FINISHED:
      out += "finished";
      if (m_exception) out += " exception=" + exception_repr(m_exception);
      break;
  }
  return out + ">";
}

void FutureCore::set_cancel_message(std::string_view msg) {
  if (msg.empty()) {
    if (m_extra) m_extra->cancel_message.clear();
  } else {
    extra().cancel_message = msg;
  }
}

std::exception_ptr FutureCore::make_cancelled_error() const {
  return std::make_exception_ptr(CancelledError(cancel_message()));
}

bool FutureCore::cancel(std::string_view msg) {
  m_log_traceback = false;
  if (m_state != State::PENDING) return false;
  m_state = State::CANCELLED;
  set_cancel_message(msg);
  schedule_callbacks();
  return true;
}

std::exception_ptr FutureCore::exception() {
  if (m_state == State::CANCELLED) std::rethrow_exception(make_cancelled_error());
  if (m_state != State::FINISHED) throw InvalidStateError("Exception is not set.");
  m_log_traceback = false;
  return m_exception;
}

void FutureCore::check_result_slow() {
  if (m_state == State::CANCELLED) {
    // A task that ended by raising CancelledError re-raises that one, message and all.
    std::rethrow_exception(m_exception ? m_exception : make_cancelled_error());
  }
  if (m_state != State::FINISHED) throw InvalidStateError("Result is not set.");
  m_log_traceback = false;
  if (m_exception) std::rethrow_exception(m_exception);
}

void FutureCore::check_pending() const {
  if (m_state != State::PENDING) std::rethrow_exception(invalid_state(*this));
}

void FutureCore::set_exception(std::exception_ptr e) {
  check_pending();
  if (!e) throw TypeError("set_exception() needs an exception, got a null exception_ptr");
  try {
    std::rethrow_exception(e);
  } catch (const StopIteration&) {
    throw TypeError(
        "StopIteration interacts badly with generators and cannot be raised into a Future");
  } catch (...) {
  }
  m_exception = std::move(e);
  m_state = State::FINISHED;
  m_log_traceback = true;
  schedule_callbacks();
}

void FutureCore::add_callback_slow(DoneCallback cb) {
  if (done()) {
    retain();
    try {
      m_loop->schedule(cb.fn, cb.arg, this, this);
    } catch (...) {
      release();
      throw;
    }
    return;
  }
  if (m_callback.fn == nullptr) {
    m_callback = cb;
    return;
  }
  extra().more_callbacks.push_back(cb);
}

std::size_t FutureCore::remove_callback(DoneCallback cb) noexcept {
  std::size_t removed = 0;
  if (m_extra) removed += std::erase(m_extra->more_callbacks, cb);
  if (m_callback == cb) {
    ++removed;
    m_callback = {};
    // Keep the order: the first of the rest moves into the inline slot.
    if (has_more_callbacks()) {
      m_callback = m_extra->more_callbacks.front();
      m_extra->more_callbacks.erase(m_extra->more_callbacks.begin());
    }
  }
  return removed;
}

std::uint64_t FutureCore::add_user_callback(std::function<void(FutureCore&)> fn) {
  const std::uint64_t id = ++g_callback_ids;
  auto callback = std::make_unique<UserCallback>(UserCallback{std::move(fn), id});
  add_callback({&run_user_callback, callback.get()});
  callback.release();
  return id;
}

std::size_t FutureCore::remove_user_callback(std::uint64_t id) noexcept {
  auto matches = [id](const DoneCallback& cb) {
    return is_user(cb) && static_cast<UserCallback*>(cb.arg)->id == id;
  };
  std::size_t removed = 0;
  if (m_extra) {
    removed += std::erase_if(m_extra->more_callbacks, [&](const DoneCallback& cb) {
      if (!matches(cb)) return false;
      delete static_cast<UserCallback*>(cb.arg);
      return true;
    });
  }
  if (matches(m_callback)) {
    delete static_cast<UserCallback*>(m_callback.arg);
    removed += remove_callback(m_callback);  // compares the pointer only
  }
  return removed;
}

void FutureCore::schedule_callbacks_slow() noexcept {
  // Each queued callback holds a reference to the future until it has run.
  auto queue = [this](const DoneCallback& cb) {
    retain();
    try {
      m_loop->schedule(cb.fn, cb.arg, this, this);
    } catch (...) {
      release();
      if (is_user(cb)) delete static_cast<UserCallback*>(cb.arg);
      m_loop->call_exception_handler(
          {"Dropped a done callback", std::current_exception(), std::nullopt, repr()});
    }
  };
  const DoneCallback first = std::exchange(m_callback, {});
  if (first.fn != nullptr) queue(first);
  if (has_more_callbacks()) {
    std::vector<DoneCallback> rest = std::move(m_extra->more_callbacks);
    m_extra->more_callbacks.clear();
    for (const DoneCallback& cb : rest) queue(cb);
  }
}

// ---- awaiting ------------------------------------------------------------------------------

FutureWait::~FutureWait() {
  // A frame destroyed while waiting (its loop is being torn down) unhooks itself.
  if (m_task != nullptr && !m_core->done()) m_core->remove_callback({&TaskCore::wakeup, m_task});
}

void FutureWait::suspend(TaskCore* task, std::coroutine_handle<> h) {
  if (task == nullptr) throw RuntimeError("a future can only be awaited from a running task");
  if (task == m_core)
    throw RuntimeError(fmt::format("Task cannot await on itself: {}", task->repr()));
  if (task->loop() != m_core->loop()) {
    throw RuntimeError(fmt::format("Task {} got Future {} attached to a different loop",
                                   task->repr(), m_core->repr()));
  }
  m_core->add_callback({&TaskCore::wakeup, task});
  m_task = task;
  task->suspend_on(this, h);
}

void FutureWait::resume_checks() {
  if (TaskCore* task = std::exchange(m_task, nullptr)) task->resume_from(*m_core);
}

}  // namespace detail

std::uint64_t AnyFuture::add_done_callback(std::function<void(AnyFuture)> fn) {
  return core().add_user_callback(
      [fn = std::move(fn)](detail::FutureCore& c) { fn(AnyFuture::borrow(&c)); });
}

}  // namespace batteries::asyncio
