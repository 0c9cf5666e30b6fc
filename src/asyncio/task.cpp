// Tasks: the step that resumes a coroutine, cancellation, sleep, and asyncio.run.
#include <fmt/format.h>
#include <batteries/asyncio/task.hpp>
#include <batteries/asyncio/threads.hpp>

namespace batteries::asyncio {

namespace detail {

namespace {

// The waiter of a task scheduled and not yet stepped. It takes no cancellation, so cancel()
// sets must_cancel, and the first step delivers it without entering the body.
struct FirstStep final : Waiter {
  bool cancel_wait(std::string_view /*msg*/) override { return false; }
};
FirstStep g_first_step;

}  // namespace

void TaskCore::start(EventLoop& loop, std::optional<std::string> name) {
  if (m_owner == this) throw TypeError(fmt::format("a coroutine was expected, got {}", repr()));
  if (m_owner != nullptr) throw RuntimeError("cannot reuse already awaited coroutine");
  if (loop.is_closed()) throw RuntimeError("Event loop is closed");
  loop.schedule(&TaskCore::step, this);
  m_loop = &loop;
  m_owner = this;
  m_waiter = &g_first_step;
  m_id = static_cast<std::uint32_t>(++loop.m_task_counter);
  if (name) set_name(std::move(*name));
  m_next = loop.m_tasks;
  if (m_next != nullptr) m_next->m_prev = this;
  loop.m_tasks = this;
  retain();  // a task keeps itself alive until it is done
}

std::coroutine_handle<> TaskCore::run_inline(TaskCore* owner, std::coroutine_handle<> parent) {
  if (owner == nullptr) throw RuntimeError("a coroutine can only be awaited from a task");
  m_owner = owner;
  m_loop = owner->m_loop;
  const std::coroutine_handle<> self = m_link;
  m_link = parent;
  owner->m_link = self;  // the task resumes this frame, until it finishes
  return self;
}

std::coroutine_handle<> TaskCore::finish_frame() noexcept {
  if (m_exception) {
    if (is_cancelled_error(m_exception)) {
      m_state = State::CANCELLED;
    } else {
      m_state = State::FINISHED;
      if (is_exit_exception(m_exception)) {
        if (is_root()) m_loop->m_exit_exception = m_exception;
      } else {
        m_log_traceback = is_root();  // in place, the awaiting frame receives it at once
      }
    }
  } else {
    m_state = State::FINISHED;
  }
  m_waiter = nullptr;
  schedule_callbacks();
  if (!is_root()) {
    m_owner->m_link = m_link;  // back to the awaiting frame
    return m_link;
  }
  // Unlink from the loop's pending tasks and drop the task's reference to itself, which
  // may free this frame: nothing here may touch it afterwards.
  if (m_prev != nullptr) {
    m_prev->m_next = m_next;
  } else {
    m_loop->m_tasks = m_next;
  }
  if (m_next != nullptr) m_next->m_prev = m_prev;
  m_prev = m_next = nullptr;
  release();
  return std::noop_coroutine();
}

void TaskCore::step(void* p, void*) {
  auto* task = static_cast<TaskCore*>(p);
  if (task->done()) return;
  EventLoop* loop = task->m_loop;
  if (std::exchange(task->m_waiter, nullptr) == &g_first_step && task->m_must_cancel) {
    // Cancelled before it ran: CancelledError at once, as if raised where the body begins
    // (the frame is suspended there, so finishing it here is the same).
    task->m_must_cancel = false;
    task->store_exception(task->make_cancelled_error());
    task->finish_frame();  // may free the task
    return;
  }
  loop->m_current_task = task;
  struct Leave {
    EventLoop* loop;
    ~Leave() { loop->m_current_task = nullptr; }
  } leave{loop};
  task->m_link.resume();  // the task may be gone after this
  if (loop->m_exit_exception) std::rethrow_exception(std::exchange(loop->m_exit_exception, {}));
}

void TaskCore::schedule_step() { m_loop->schedule(&TaskCore::step, this); }

bool TaskCore::cancel(std::string_view msg) {
  if (!is_root()) return FutureCore::cancel(msg);  // not started: cancelled like a future
  m_log_traceback = false;
  if (done()) return false;
  ++m_num_cancels_requested;
  // A waiter that takes the cancellation wakes the task itself. A task it waits for may
  // catch and ignore it; the waiter stays, so a later cancel() tries again.
  if (m_waiter != nullptr && m_waiter->cancel_wait(msg)) return true;
  m_must_cancel = true;
  set_cancel_message(msg);
  return true;
}

void TaskCore::throw_if_must_cancel() {
  if (!m_must_cancel) return;
  m_must_cancel = false;
  std::rethrow_exception(make_cancelled_error());
}

void TaskCore::begin_sleep(Waiter* waiter, std::coroutine_handle<> h, double delay) {
  leave = &TaskCore::sleep_left_heap;
  m_loop->arm(this, m_loop->time() + delay);
  retain();  // the heap entry's reference
  suspend_on(waiter, h);
}

bool TaskCore::cancel_sleep() {
  if (armed == 0) return false;  // already due: the step is queued
  m_loop->disarm(this);
  schedule_step();
  return true;
}

void TaskCore::sleep_left_heap(TimerNode* node, bool live) {
  auto* task = static_cast<TaskCore*>(node);
  if (live) {
    try {
      task->m_loop->schedule(&TaskCore::step, task, nullptr, task);  // the entry's reference
      return;
    } catch (...) {
      task->m_loop->call_exception_handler(
          {"Could not wake a sleeping task", std::current_exception(), std::nullopt, task->repr()});
    }
  }
  task->release();
}

std::string TaskCore::get_name() const {
  if (m_extra && m_extra->has_name) return m_extra->name;
  return fmt::format("Task-{}", m_id);
}

void TaskCore::set_name(std::string name) {
  FutureExtra& e = extra();
  e.name = std::move(name);
  e.has_name = true;
}

std::string TaskCore::repr() const {
  std::string_view state = state_name();
  if (m_state == State::PENDING && m_must_cancel) state = "cancelling";
  std::string out = fmt::format("<Task {} name={} coro=<{}() {}>",
                                state == "PENDING"     ? "pending"
                                : state == "CANCELLED" ? "cancelled"
                                : state == "FINISHED"  ? "finished"
                                                       : state,
                                py_repr(get_name()), m_function, done() ? "done" : "running");
  if (m_state == State::FINISHED && m_exception) out += " exception=" + exception_repr(m_exception);
  return out + ">";
}

void TaskCore::report_never_awaited() noexcept {
  if (m_owner != nullptr) return;
  EventLoop* loop = running_loop();
  if (loop == nullptr || !loop->get_debug()) return;
  loop->call_exception_handler(
      {fmt::format("coroutine '{}' was never awaited", m_function), nullptr, std::nullopt, {}});
}

std::vector<TaskCore*> TaskCore::pending(EventLoop& loop) {
  std::vector<TaskCore*> out;
  for (TaskCore* t = loop.m_tasks; t != nullptr; t = t->m_next) {
    if (!t->done()) out.push_back(t);
  }
  return out;
}

void TaskCore::abandon_all(EventLoop& loop) noexcept {
  while (TaskCore* task = loop.m_tasks) {
    loop.m_tasks = task->m_next;
    if (loop.m_tasks != nullptr) loop.m_tasks->m_prev = nullptr;
    task->m_prev = task->m_next = nullptr;
    loop.call_exception_handler(
        {"Task was destroyed but it is pending!", nullptr, std::nullopt, task->repr()});
    task->release();  // the task's reference to itself
  }
}

// ---- running -------------------------------------------------------------------------------

namespace {

void stop_loop(void* loop, void*) { static_cast<EventLoop*>(loop)->stop(); }

}  // namespace

void run_until_done(EventLoop& loop, FutureCore& f) {
  if (loop.is_closed()) throw RuntimeError("Event loop is closed");
  if (f.loop() != &loop) {
    throw ValueError(
        "The future belongs to a different loop than the one specified as the loop argument");
  }
  f.retain();
  struct Unhook {
    FutureCore& f;
    EventLoop& loop;
    ~Unhook() {
      f.remove_callback({&stop_loop, &loop});
      f.release();
    }
  } unhook{f, loop};
  f.add_callback({&stop_loop, &loop});
  loop.run_forever();
  if (!f.done()) throw RuntimeError("Event loop stopped before Future completed.");
}

void cancel_all_tasks(EventLoop& loop) {
  std::vector<AnyTask> tasks = all_tasks(loop);
  if (tasks.empty()) return;
  for (AnyTask& t : tasks) t.cancel();
  // Wait for all of them, as run_until_complete(gather(*tasks, return_exceptions=True)).
  for (AnyTask& t : tasks) {
    if (!t.done()) run_until_done(loop, *t.core_ptr());
  }
  for (AnyTask& t : tasks) {
    if (t.cancelled()) continue;
    if (std::exception_ptr e = t.exception()) {
      loop.call_exception_handler(
          {"unhandled exception during asyncio.run() shutdown", e, std::nullopt, t.repr()});
    }
  }
}

void run_main(TaskCore& main, std::optional<bool> debug) {
  if (running_loop() != nullptr) {
    throw RuntimeError("asyncio.run() cannot be called from a running event loop");
  }
  EventLoop loop;
  if (debug) loop.set_debug(*debug);
  // Signals hook (signals.cpp): Ctrl+C cancels main while it runs, as asyncio.Runner does.
  // The handler goes before the cleanup, as Runner.run restores SIGINT before Runner.close.
  bool sigint = false;
  bool interrupted = false;
  try {
    main.start(loop, std::nullopt);
    sigint = run_sigint_begin(loop, main);
    run_until_done(loop, main);
    if (sigint) interrupted = run_sigint_end(loop, main);
  } catch (...) {
    if (sigint) run_sigint_end(loop, main);
    try {
      cancel_all_tasks(loop);
    } catch (...) {
    }
    try {
      run_shutdown_default_executor(loop);  // Python's loop.shutdown_default_executor()
    } catch (...) {
    }
    loop.close();
    throw;
  }
  cancel_all_tasks(loop);
  run_shutdown_default_executor(loop);  // Python's loop.shutdown_default_executor()
  loop.close();
  if (interrupted) throw KeyboardInterrupt();
}

}  // namespace detail

AnyTask current_task(EventLoop& loop) {
  detail::TaskCore* task = loop.current_task();
  return task == nullptr ? AnyTask() : AnyTask::borrow(task);
}

AnyTask current_task() { return current_task(get_running_loop()); }

std::vector<AnyTask> all_tasks(EventLoop& loop) {
  std::vector<AnyTask> out;
  for (detail::TaskCore* t : detail::TaskCore::pending(loop)) out.push_back(AnyTask::borrow(t));
  return out;
}

std::vector<AnyTask> all_tasks() { return all_tasks(get_running_loop()); }

}  // namespace batteries::asyncio
