// The combinators' untyped parts: gather's bookkeeping, wait, wait_for, Timeout, TaskGroup.
#include <fmt/format.h>
#include <batteries/asyncio/taskgroups.hpp>
#include <batteries/asyncio/tasks.hpp>

#include <cmath>
#include <memory>

namespace batteries::asyncio {

namespace detail {

bool GatherCore::child_done(FutureCore& child) {
  ++m_finished;
  if (m_self->done()) {
    if (!child.cancelled()) child.clear_log();  // its exception counts as retrieved
    return false;
  }
  if (!m_return_exceptions) {
    if (child.cancelled()) {
      m_self->set_exception(child.make_cancelled_error());
      return false;
    }
    if (std::exception_ptr e = child.exception()) {
      m_self->set_exception(e);
      return false;
    }
  }
  if (m_finished < m_total) return false;
  if (m_cancel_requested) {
    // A gather being cancelled raises CancelledError whatever return_exceptions says.
    m_self->set_exception(child.make_cancelled_error());
    return false;
  }
  return true;
}

namespace {

// Sets a Future<void> waiter's result unless it is done: Python's _release_waiter.
void release_waiter(Future<void>& waiter) {
  if (!waiter.done()) waiter.set_result();
}

}  // namespace

Task<void> wait_cores(std::vector<FutureCore*> cores, std::optional<double> timeout,
                      ReturnWhen return_when) {
  if (return_when != FIRST_COMPLETED && return_when != FIRST_EXCEPTION &&
      return_when != ALL_COMPLETED) {
    throw ValueError(fmt::format("Invalid return_when value: {}", static_cast<int>(return_when)));
  }
  EventLoop& loop = get_running_loop();
  struct State {
    Future<void> waiter;
    std::size_t counter;
    ReturnWhen return_when;
    Handle timeout;
  };
  auto state = std::make_shared<State>(State{Future<void>(loop), cores.size(), return_when, {}});
  if (timeout) {
    state->timeout = loop.call_later(*timeout, [state] { release_waiter(state->waiter); });
  }
  std::vector<std::uint64_t> ids;
  ids.reserve(cores.size());
  for (FutureCore* core : cores) {
    ids.push_back(core->add_user_callback([state](FutureCore& f) {
      --state->counter;
      if (state->counter == 0 || state->return_when == FIRST_COMPLETED ||
          (state->return_when == FIRST_EXCEPTION && !f.cancelled() && f.exception())) {
        state->timeout.cancel();
        release_waiter(state->waiter);
      }
    }));
  }
  std::exception_ptr error;
  try {
    co_await state->waiter;
  } catch (...) {
    error = std::current_exception();
  }
  state->timeout.cancel();
  state->timeout = Handle();  // its callback holds the state: break the cycle
  for (std::size_t i = 0; i < cores.size(); ++i) cores[i]->remove_user_callback(ids[i]);
  if (error) std::rethrow_exception(error);
}

Task<void> cancel_and_wait(AnyFuture f) {
  Future<void> waiter(f.get_loop());
  const auto id = f.add_done_callback([waiter](AnyFuture) mutable { release_waiter(waiter); });
  f.cancel();
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  f.remove_done_callback(id);
  if (error) std::rethrow_exception(error);
}

Task<bool> wait_until_done(AnyFuture f, double timeout) {
  EventLoop& loop = get_running_loop();
  Future<void> waiter(loop);
  Handle timer = loop.call_later(timeout, [waiter]() mutable { release_waiter(waiter); });
  const auto id = f.add_done_callback([waiter](AnyFuture) mutable { release_waiter(waiter); });
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  timer.cancel();
  if (f.done()) co_return true;  // even when cancelled meanwhile, as Python 3.11 does
  f.remove_done_callback(id);
  if (error) {
    co_await cancel_and_wait(f);
    std::rethrow_exception(error);
  }
  co_return false;
}

}  // namespace detail

// ---- Timeout ------------------------------------------------------------------------------

void Timeout::enter() {
  if (m_state != State::CREATED) throw RuntimeError("Timeout has already been entered");
  AnyTask task = current_task();
  if (!task) throw RuntimeError("Timeout should be used inside a task");
  m_state = State::ENTERED;
  m_task = std::move(task);
  m_cancelling = m_task.cancelling();
  reschedule(m_when);
}

void Timeout::reschedule(std::optional<double> when) {
  if (m_state != State::ENTERED) {
    if (m_state == State::CREATED) throw RuntimeError("Timeout has not been entered");
    throw RuntimeError(fmt::format("Cannot change state of {} Timeout",
                                   m_state == State::EXITED ? "finished" : "expired"));
  }
  if (when && std::isnan(*when)) throw ValueError("when must not be NaN");
  m_when = when;
  m_handler.cancel();
  m_handler = Handle();
  if (!when) return;
  EventLoop& loop = get_running_loop();
  if (*when <= loop.time()) {
    m_handler = loop.call_soon([this] { on_timeout(); });
  } else {
    m_handler = loop.call_at(*when, [this] { on_timeout(); });
  }
}

void Timeout::on_timeout() {
  m_task.cancel();
  m_state = State::EXPIRING;
  m_handler = Handle();
}

bool Timeout::exit(const std::exception_ptr& error) {
  m_handler.cancel();
  m_handler = Handle();
  if (m_state == State::EXPIRING) {
    m_state = State::EXPIRED;
    return m_task.uncancel() <= m_cancelling && detail::is_cancelled_error(error);
  }
  if (m_state == State::ENTERED) m_state = State::EXITED;
  return false;
}

std::string Timeout::repr() const {
  std::string_view state;
  switch (m_state) {
    case State::CREATED:
      state = "created";
      break;
    case State::ENTERED:
      state = "active";
      break;
    case State::EXPIRING:
      state = "expiring";
      break;
    case State::EXPIRED:
      state = "expired";
      break;
    case State::EXITED:
      state = "finished";
      break;
  }
  if (m_state == State::ENTERED) {
    return fmt::format("<Timeout [{}] when={}>", state,
                       m_when ? fmt::format("{:.3f}", *m_when) : std::string("None"));
  }
  return fmt::format("<Timeout [{}]>", state);
}

Timeout timeout(std::optional<double> delay) {
  if (!delay) return Timeout(std::nullopt);
  if (std::isnan(*delay)) throw ValueError("delay must not be NaN");
  return Timeout(get_running_loop().time() + *delay);
}

Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

// ---- TaskGroup ----------------------------------------------------------------------------

TaskGroup::~TaskGroup() {
  // Normally empty: exit() waits for every task. A frame destroyed early (its loop torn
  // down) must not leave callbacks pointing here.
  for (Entry& entry : m_tasks) entry.task.remove_done_callback(entry.callback);
}

std::string TaskGroup::repr() const {
  std::string info;
  if (!m_tasks.empty()) info += fmt::format(" tasks={}", m_tasks.size());
  if (!m_errors.empty()) info += fmt::format(" errors={}", m_errors.size());
  if (m_aborting) info += " cancelling";
  if (m_entered) info += " entered";
  return fmt::format("<TaskGroup{}>", info);
}

void TaskGroup::enter() {
  if (m_entered) throw RuntimeError(fmt::format("TaskGroup {} has been already entered", repr()));
  m_loop = &get_running_loop();
  m_parent = current_task();
  if (!m_parent)
    throw RuntimeError(fmt::format("TaskGroup {} cannot determine the parent task", repr()));
  m_entered = true;
}

void TaskGroup::check_can_create() const {
  if (!m_entered) throw RuntimeError(fmt::format("TaskGroup {} has not been entered", repr()));
  if (m_exiting && m_tasks.empty()) {
    throw RuntimeError(fmt::format("TaskGroup {} is finished", repr()));
  }
  if (m_aborting) throw RuntimeError(fmt::format("TaskGroup {} is shutting down", repr()));
}

void TaskGroup::track(const AnyTask& task) {
  const auto id = const_cast<AnyTask&>(task).add_done_callback([this](AnyFuture f) {
    on_task_done(AnyTask::borrow(static_cast<detail::TaskCore*>(f.core_ptr())));
  });
  m_tasks.push_back({task, id});
  m_index.emplace(task.core_ptr(), std::prev(m_tasks.end()));
}

void TaskGroup::abort() {
  m_aborting = true;
  for (Entry& entry : m_tasks) {
    if (!entry.task.done()) entry.task.cancel();
  }
}

void TaskGroup::on_task_done(AnyTask task) {
  if (auto it = m_index.find(task.core_ptr()); it != m_index.end()) {
    m_tasks.erase(it->second);
    m_index.erase(it);
  }
  if (m_on_completed && m_tasks.empty() && !m_on_completed.done()) m_on_completed.set_result();
  if (task.cancelled()) return;
  std::exception_ptr e = task.exception();
  if (!e) return;
  m_errors.push_back(e);
  if (detail::is_exit_exception(e) && !m_base_error) m_base_error = e;
  if (m_parent.done()) {
    m_loop->call_exception_handler(
        {fmt::format("Task {} has errored out but its parent task {} is already completed",
                     task.repr(), m_parent.repr()),
         e, std::nullopt, task.repr()});
    return;
  }
  if (!m_aborting && !m_parent_cancel_requested) {
    abort();
    m_parent_cancel_requested = true;
    m_parent.cancel();
  }
}

Task<void> TaskGroup::exit(std::exception_ptr error) {
  m_exiting = true;
  if (error && detail::is_exit_exception(error) && !m_base_error) m_base_error = error;
  const bool error_is_cancel = error && detail::is_cancelled_error(error);
  std::exception_ptr propagate_cancellation = error_is_cancel ? error : nullptr;
  if (m_parent_cancel_requested && m_parent.uncancel() == 0) propagate_cancellation = nullptr;
  if (error && !m_aborting) abort();

  while (!m_tasks.empty()) {
    if (!m_on_completed) m_on_completed = Future<void>(*m_loop);
    std::exception_ptr cancelled;
    try {
      co_await m_on_completed;
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled && !m_aborting) {
      propagate_cancellation = cancelled;
      abort();
    }
    m_on_completed = Future<void>(nullptr);
  }

  if (m_base_error) std::rethrow_exception(m_base_error);
  if (propagate_cancellation && m_errors.empty()) std::rethrow_exception(propagate_cancellation);
  if (error && !error_is_cancel) m_errors.push_back(error);
  if (!m_errors.empty()) {
    std::vector<std::exception_ptr> errors = std::move(m_errors);
    m_errors.clear();
    std::rethrow_exception(
        make_exception_group("unhandled errors in a TaskGroup", std::move(errors)));
  }
}

}  // namespace batteries::asyncio
