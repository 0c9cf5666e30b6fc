// TaskGroup: Python 3.11's structured concurrency, where the first failure cancels the rest.
//
//   async with asyncio.TaskGroup() as tg:        co_await asyncio::task_group(
//       tg.create_task(a())                          [&](asyncio::TaskGroup& tg) -> Task<void> {
//       tg.create_task(b())                            tg.create_task(a());
//                                                      tg.create_task(b());
//                                                      co_return;
//                                                    });
// task_group() runs the body in place, then waits for every task of the group. When a task
// fails, the others and the body are cancelled; at the end, all the errors are raised
// together as an ExceptionGroup ("unhandled errors in a TaskGroup (2 sub-exceptions)").
// SystemExit and KeyboardInterrupt are raised as they are. The result is the body's.
//
// Thread-safety: a TaskGroup belongs to the running loop's thread.
#pragma once

#include <batteries/asyncio/task.hpp>

#include <cstdint>
#include <exception>
#include <list>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace batteries::asyncio {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  /// Python's TaskGroup.create_task(coro, name=None). RuntimeError before the group is
  /// entered, once it has finished, or while it is shutting down after a failure.
  template <class T>
  Task<T> create_task(Task<T> coro, std::optional<std::string> name = std::nullopt) {
    check_can_create();
    Task<T> task = asyncio::create_task(std::move(coro), std::move(name));
    track(task);
    return task;
  }

  [[nodiscard]] std::string repr() const;

  // __aenter__ / __aexit__: task_group() calls them; exposed for other adapters.
  void enter();
  Task<void> exit(std::exception_ptr error);

 private:
  void check_can_create() const;
  void track(const AnyTask& task);
  void on_task_done(AnyTask task);
  void abort();

  EventLoop* m_loop = nullptr;
  AnyTask m_parent;
  // The tasks in creation order (abort() cancels them in that order), and where each is.
  struct Entry {
    AnyTask task;
    std::uint64_t callback;
  };
  std::list<Entry> m_tasks;
  std::unordered_map<detail::FutureCore*, std::list<Entry>::iterator> m_index;
  std::vector<std::exception_ptr> m_errors;
  std::exception_ptr m_base_error;
  Future<void> m_on_completed{nullptr};
  bool m_entered = false;
  bool m_exiting = false;
  bool m_aborting = false;
  bool m_parent_cancel_requested = false;
};

/// `async with TaskGroup() as tg: body`: runs body(tg) in place, then waits for the group's
/// tasks; returns body's result or raises as described at the top of this file.
template <class F>
requires std::invocable<F&, TaskGroup&>
auto task_group(F body) -> std::invoke_result_t<F&, TaskGroup&> {
  using T = decltype(std::declval<std::invoke_result_t<F&, TaskGroup&>>().result());
  TaskGroup group;
  group.enter();
  std::exception_ptr error;
  std::optional<detail::value_or_none<std::remove_cvref_t<T>>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body(group);
      value.emplace();
    } else {
      value.emplace(co_await body(group));
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_await group.exit(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace batteries::asyncio
