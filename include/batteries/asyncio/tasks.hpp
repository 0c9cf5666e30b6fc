// Combinators over tasks and futures: gather, wait, wait_for, timeout, shield, as_completed.
//
// Each follows Python 3.11's asyncio.tasks / asyncio.timeouts, spelled for C++:
//   await gather(a, b)                     co_await gather(a(), b())         -> std::tuple
//   await gather(*tasks)                   co_await gather(tasks)            -> std::vector
//   gather(..., return_exceptions=True)    gather(return_exceptions, ...)    -> Outcome<T>s
//   done, pending = await wait(fs, ...)    auto [done, pending] = co_await wait(fs, ...)
//   await wait_for(aw, 1.5)                co_await wait_for(aw(), 1.5)
//   async with timeout(1.5): ...           co_await timeout(1.5).run(body())
//   await shield(aw)                       co_await shield(aw())
//   for f in as_completed(fs): await f     for (auto& f : as_completed(fs)) co_await f;
// Tasks that have not started (a plain call of a coroutine function) are scheduled with
// create_task, as Python wraps coroutines in tasks. A void task contributes None.
//
// Thread-safety: like tasks, these belong to the running loop's thread.
#pragma once

#include <batteries/asyncio/queues.hpp>
#include <batteries/asyncio/task.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace batteries::asyncio {

namespace detail {

template <class F>
struct awaitable_traits {
  static constexpr bool value = false;
};
template <class T>
struct awaitable_traits<Task<T>> {
  static constexpr bool value = true;
  using result = T;
};
template <class T>
struct awaitable_traits<Future<T>> {
  static constexpr bool value = true;
  using result = T;
};

}  // namespace detail

/// A Task<T> or a Future<T>: what the combinators take.
template <class F>
concept Awaitable = detail::awaitable_traits<std::remove_cvref_t<F>>::value;

/// T of a Task<T> or Future<T>.
template <Awaitable F>
using awaitable_result_t = typename detail::awaitable_traits<std::remove_cvref_t<F>>::result;

/// A range of tasks or futures.
template <class R>
concept AwaitableRange = std::ranges::input_range<R> && Awaitable<std::ranges::range_value_t<R>>;

/// The tag for Python's return_exceptions=True: gather(return_exceptions, a, b).
struct ReturnExceptions {
  explicit ReturnExceptions() = default;
};
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

/// Schedules an unstarted task; a started task or a future is returned as it is.
template <Awaitable F>
std::remove_cvref_t<F> started(F&& f) {
  if (!f) throw TypeError("An asyncio.Future, a coroutine or an awaitable is required");
  return ensure_future(std::remove_cvref_t<F>(std::forward<F>(f)));
}

/// True for a future, or a task already started: something others may hold too.
template <class F>
bool already_started(const F& f) noexcept {
  auto* core = f.core_ptr();
  return core != nullptr && (!core->is_task() || static_cast<const TaskCore*>(core)->started());
}

/// The result of a finished task or future as a value (None for void): moved out, or
/// copied when others may hold the same future (and T can be copied).
template <class F>
value_or_none<awaitable_result_t<F>> take_result(F& f, bool shared) {
  using T = awaitable_result_t<F>;
  if constexpr (std::is_void_v<T>) {
    f.result();
    return None{};
  } else if constexpr (std::is_copy_constructible_v<T>) {
    if (shared) return f.result();
    return std::move(f).result();
  } else {
    return std::move(f).result();
  }
}

/// Its outcome: the value, or the exception (a CancelledError for a cancelled one).
template <class F>
Outcome<awaitable_result_t<F>> take_outcome(F& f, bool shared) {
  if (f.cancelled()) return Outcome<awaitable_result_t<F>>(f.core_ptr()->make_cancelled_error());
  if (std::exception_ptr e = f.exception()) return Outcome<awaitable_result_t<F>>(e);
  return Outcome<awaitable_result_t<F>>(take_result(f, shared));
}

/// The untyped half of gather's future: counting, the early exit on an error, cancel().
class GatherCore {
 public:
  GatherCore(FutureCore* self, bool return_exceptions) noexcept
      : m_self(self), m_return_exceptions(return_exceptions) {}
  /// Python's _done_callback: true when every child is done and the result is due.
  bool child_done(FutureCore& child);

  std::size_t m_total = 0;
  bool m_cancel_requested = false;

 private:
  FutureCore* m_self;
  std::size_t m_finished = 0;
  bool m_return_exceptions;
};

/// gather's future: a FutureState<R> that also owns the children and fills in R.
template <class R, class Children, bool Outcomes>
class GatherState final : public FutureState<R> {
 public:
  GatherState(EventLoop* loop, Children children, bool shared)
      : FutureState<R>(loop),
        m_gather(this, Outcomes),
        m_children(std::move(children)),
        m_shared(shared) {}

  /// Watches every child (all started already): the pack's way.
  void watch() {
    for_each_child([&](auto& c) { watch_one(c); });
    finish_if_empty();
  }
  /// Starts the adopted vector's children where they are and watches each in the same pass,
  /// as Python's gather does one ensure_future and add_done_callback per child: each frame is
  /// touched once, not once to start and again to watch.
  void start_and_watch() {
    try {
      for (auto& c : m_children) {
        m_shared = m_shared || already_started(c);
        c = started(std::move(c));
        watch_one(c);
      }
    } catch (...) {
      // The caller gets the error and no future; the children started so far run on, and
      // this state, which nobody can await, must never read the ones after them.
      m_gather.m_total = std::numeric_limits<std::size_t>::max();
      throw;
    }
    finish_if_empty();
  }
  /// Adds and watches one more child, already started (for ranges read once).
  template <class F>
  void add_started(F child, bool shared) {
    m_shared = m_shared || shared;
    m_children.push_back(std::move(child));
    watch_one(m_children.back());
  }
  void finish_if_empty() {
    if constexpr (std::is_default_constructible_v<R>) {
      if (m_gather.m_total == 0) {
        this->put(R{});
        this->finish();
      }
    }
  }
  Children& children() noexcept { return m_children; }
  /// Python's _GatheringFuture.cancel: cancels every child; true if any was cancelled.
  bool cancel(std::string_view msg) override {
    if (this->done()) return false;
    bool any = false;
    for_each_child([&](auto& c) { any = c.cancel(msg) || any; });
    if (any) m_gather.m_cancel_requested = true;
    return any;
  }

 private:
  // Each callback keeps this state alive until it has run, even if the caller drops the
  // future first (Python's closures do the same).
  template <class F>
  void watch_one(F& child) {
    this->retain();
    try {
      child.core_ptr()->add_callback({&GatherState::on_child, this});
    } catch (...) {
      this->release();
      throw;
    }
    ++m_gather.m_total;
  }
  template <class Fn>
  void for_each_child(Fn&& fn) {
    if constexpr (requires { m_children.begin(); }) {
      for (auto& c : m_children) fn(c);
    } else {
      std::apply([&](auto&... c) { (fn(c), ...); }, m_children);
    }
  }

  static void on_child(void* self, void* child) {
    auto* s = static_cast<GatherState*>(self);
    struct Release {
      GatherState* s;
      ~Release() { s->release(); }
    } release{s};
    if (!s->m_gather.child_done(*static_cast<FutureCore*>(child))) return;
    try {
      s->put(s->collect());
      s->finish();
    } catch (...) {
      s->set_exception(std::current_exception());
    }
  }

  R collect() {
    if constexpr (requires { m_children.begin(); }) {
      R out;
      out.reserve(m_children.size());
      for (auto& c : m_children) {
        out.push_back(one(c));
        [[maybe_unused]] const auto dropped = std::move(c);  // freed while its frame is hot
      }
      return out;
    } else {
      return std::apply([&](auto&... c) { return R(one(c)...); }, m_children);
    }
  }
  template <class F>
  auto one(F& f) {
    if constexpr (Outcomes) {
      return take_outcome(f, m_shared);
    } else {
      return take_result(f, m_shared);
    }
  }

  GatherCore m_gather;
  Children m_children;
  bool m_shared;
};

template <bool Outcomes, class F>
using gather_item_t = std::conditional_t<Outcomes, Outcome<awaitable_result_t<F>>,
                                         value_or_none<awaitable_result_t<F>>>;

template <bool Outcomes, class... F>
auto gather_pack(F&&... aws) {
  using R = std::tuple<gather_item_t<Outcomes, F>...>;
  using Children = std::tuple<std::remove_cvref_t<F>...>;
  const bool shared = (already_started(aws) || ...);
  Children children{started(std::forward<F>(aws))...};  // braces: left to right
  EventLoop* loop = nullptr;
  if constexpr (sizeof...(F) > 0) {
    loop = std::get<0>(children).core_ptr()->loop();
  } else {
    loop = &get_running_loop();
  }
  auto* state = new GatherState<R, Children, Outcomes>(loop, std::move(children), shared);
  Future<R> outer(state);
  state->watch();
  return outer;
}

template <bool Outcomes, class Range>
auto gather_range(Range&& aws) {
  using F = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
  using R = std::vector<gather_item_t<Outcomes, F>>;
  using Children = std::vector<F>;
  using State = GatherState<R, Children, Outcomes>;
  if constexpr (std::is_same_v<std::remove_cvref_t<Range>, Children> &&
                !std::is_lvalue_reference_v<Range>) {
    // A vector handed over: adopt it, and start its tasks where they are. The loop is the
    // first child's (an unstarted task will run on the running loop).
    Children children = std::move(aws);
    EventLoop* loop = !children.empty() && already_started(children.front())
                          ? children.front().core_ptr()->loop()
                          : &get_running_loop();
    auto* state = new State(loop, std::move(children), false);
    Future<R> outer(state);
    state->start_and_watch();
    return outer;
  } else {
    // Read once, in order: each child is started and watched as it comes.
    State* state = nullptr;
    Future<R> outer(nullptr);
    for (auto&& a : aws) {
      const bool shared = already_started(a);
      F child = started(std::forward<decltype(a)>(a));
      if (state == nullptr) {
        state = new State(child.core_ptr()->loop(), Children(), false);
        outer = Future<R>(state);
        if constexpr (std::ranges::sized_range<Range>) {
          state->children().reserve(std::ranges::size(aws));
        }
      }
      state->add_started(std::move(child), shared);
    }
    if (state == nullptr) {
      state = new State(&get_running_loop(), Children(), false);
      outer = Future<R>(state);
    }
    state->finish_if_empty();
    return outer;
  }
}

}  // namespace detail

/// Python's asyncio.gather(*aws): runs them concurrently; the future gives a tuple of their
/// results in order. The first exception is raised at once (the others keep running).
/// Cancelling the returned future cancels every child.
template <Awaitable... F>
auto gather(F&&... aws) {
  return detail::gather_pack<false>(std::forward<F>(aws)...);
}
/// gather(*aws, return_exceptions=True): a tuple of Outcome<T>, value or exception.
template <Awaitable... F>
auto gather(ReturnExceptions, F&&... aws) {
  return detail::gather_pack<true>(std::forward<F>(aws)...);
}
/// gather(*range): a std::vector of the results, in the range's order.
template <AwaitableRange R>
auto gather(R&& aws) {
  return detail::gather_range<false>(std::forward<R>(aws));
}
/// gather(*range, return_exceptions=True): a std::vector of Outcome<T>.
template <AwaitableRange R>
auto gather(ReturnExceptions, R&& aws) {
  return detail::gather_range<true>(std::forward<R>(aws));
}

// ---- wait ---------------------------------------------------------------------------------

/// Python's FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// wait()'s (done, pending): vectors in the order given (Python returns two sets).
template <class F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
};

namespace detail {
/// The shared part of wait(): waits on the cores until return_when is met or the timeout.
Task<void> wait_cores(std::vector<FutureCore*> cores, std::optional<double> timeout,
                      ReturnWhen return_when);
}  // namespace detail

namespace detail {
template <class F>
Task<WaitResult<F>> wait_and_split(std::vector<F> fs, std::vector<FutureCore*> cores,
                                   std::optional<double> timeout, ReturnWhen return_when) {
  co_await wait_cores(std::move(cores), timeout, return_when);
  WaitResult<F> out;
  for (F& f : fs) (f.done() ? out.done : out.pending).push_back(std::move(f));
  co_return out;
}
}  // namespace detail

/// Python's asyncio.wait(aws, timeout=None, return_when=ALL_COMPLETED): waits for the tasks
/// or futures (never cancels them) and returns those done and those still pending.
/// ValueError for an empty range; TypeError for a task not yet started (Python 3.11 forbids
/// coroutines here: pass create_task(...) results). The range is read at the call.
template <AwaitableRange R>
Task<WaitResult<std::remove_cvref_t<std::ranges::range_value_t<R>>>> wait(
    R&& aws, std::optional<double> timeout = std::nullopt, ReturnWhen return_when = ALL_COMPLETED) {
  using F = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  std::vector<F> fs;
  std::vector<detail::FutureCore*> cores;
  for (auto&& a : aws) {
    F f(a);
    if (!f) throw TypeError("wait() needs tasks or futures, got an empty handle");
    auto* core = f.core_ptr();
    if (core->is_task() && !static_cast<detail::TaskCore*>(core)->started()) {
      throw TypeError("Passing coroutines is forbidden, use tasks explicitly.");
    }
    cores.push_back(core);
    fs.push_back(std::move(f));
  }
  if (fs.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  return detail::wait_and_split(std::move(fs), std::move(cores), timeout, return_when);
}

// ---- wait_for, shield ---------------------------------------------------------------------

namespace detail {
/// Python's _cancel_and_wait: cancels f and waits until it is done (whatever it ends with).
Task<void> cancel_and_wait(AnyFuture f);
/// wait_for's wait: true when f finished in time; false on the timeout. Raises
/// CancelledError (after cancelling f and waiting for it) if the caller is cancelled.
Task<bool> wait_until_done(AnyFuture f, double timeout);
}  // namespace detail

/// Python's asyncio.wait_for(aw, timeout): aw's result, or TimeoutError after timeout
/// seconds, in which case aw is cancelled and waited for first. A task that swallows that
/// cancellation and returns a value makes wait_for return the value, as in Python 3.11.
/// No timeout (nullopt) waits as long as it takes.
template <Awaitable F>
Task<awaitable_result_t<F>> wait_for(F aw, std::optional<double> timeout) {
  if (!timeout) co_return co_await std::move(aw);
  auto fut = detail::started(std::move(aw));
  if (*timeout <= 0) {
    if (!fut.done()) co_await detail::cancel_and_wait(fut);
  } else if (!co_await detail::wait_until_done(fut, *timeout)) {
    co_await detail::cancel_and_wait(fut);
  } else {
    co_return std::move(fut).result();
  }
  if (fut.cancelled()) throw TimeoutError(std::string());
  co_return std::move(fut).result();
}
template <Awaitable F, class Rep, class Period>
Task<awaitable_result_t<F>> wait_for(F aw, std::chrono::duration<Rep, Period> timeout) {
  return wait_for(std::move(aw), std::chrono::duration<double>(timeout).count());
}

/// Python's asyncio.shield(aw): a future with aw's outcome, which can be cancelled without
/// cancelling aw. Cancelling the task that awaits the shield raises CancelledError there,
/// while aw runs on.
template <Awaitable F>
Future<awaitable_result_t<F>> shield(F&& aw) {
  using T = awaitable_result_t<F>;
  auto inner = detail::started(std::forward<F>(aw));
  Future<T> outer(*inner.core_ptr()->loop());
  auto copy = [](Future<T>& out, auto& in) {
    if (in.cancelled()) {
      out.cancel();
    } else if (std::exception_ptr e = in.exception()) {
      out.set_exception(e);
    } else if constexpr (std::is_void_v<T>) {
      out.set_result();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      out.set_result(in.result());
    } else {
      out.set_result(std::move(in).result());
    }
  };
  if (inner.done()) {
    copy(outer, inner);
    return outer;
  }
  const auto id = inner.add_done_callback([outer, copy](auto& in) mutable {
    if (outer.cancelled()) {
      if (!in.cancelled()) (void)in.exception();  // mark it retrieved
      return;
    }
    copy(outer, in);
  });
  outer.add_done_callback([inner, id](Future<T>&) mutable {
    if (!inner.done()) inner.remove_done_callback(id);
  });
  return outer;
}

// ---- timeout ------------------------------------------------------------------------------

/// Python 3.11's asyncio.Timeout: cancels the task running a block when the deadline
/// passes, and turns that cancellation into TimeoutError when the block ends.
/// `async with timeout(d) as cm: body` is `co_await cm.run(body())` in C++, where body runs
/// in place, in the current task. The Timeout must outlive run() (a named variable, or a
/// temporary in the same full-expression as the co_await).
class Timeout {
 public:
  /// A timeout due at loop time `when`; nullopt never fires.
  explicit Timeout(std::optional<double> when) noexcept : m_when(when) {}
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() { m_handler.cancel(); }

  /// The deadline, in loop time (nullopt: none).
  [[nodiscard]] std::optional<double> when() const noexcept { return m_when; }
  /// Moves the deadline. RuntimeError unless inside run().
  void reschedule(std::optional<double> when);
  /// True once the deadline has passed during run().
  [[nodiscard]] bool expired() const noexcept {
    return m_state == State::EXPIRING || m_state == State::EXPIRED;
  }
  [[nodiscard]] std::string repr() const;

  /// Runs body in place under this timeout: its result, or TimeoutError if the deadline
  /// cancelled it. RuntimeError if the timeout was entered already.
  template <class T>
  Task<T> run(Task<T> body) {
    enter();
    std::exception_ptr error;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        exit(nullptr);
        co_return;
      } else {
        T value = co_await std::move(body);
        exit(nullptr);
        co_return value;
      }
    } catch (...) {
      error = std::current_exception();
    }
    if (exit(error)) throw TimeoutError(std::string());
    std::rethrow_exception(error);
  }

 private:
  enum class State { CREATED, ENTERED, EXPIRING, EXPIRED, EXITED };
  void enter();
  /// __aexit__: true when the CancelledError `error` is the deadline's, to become a
  /// TimeoutError.
  bool exit(const std::exception_ptr& error);
  void on_timeout();

  std::optional<double> m_when;
  State m_state = State::CREATED;
  Handle m_handler;
  AnyTask m_task;
  std::uint32_t m_cancelling = 0;
};

/// Python's asyncio.timeout(delay): a Timeout due delay seconds from now (nullopt: never).
Timeout timeout(std::optional<double> delay);
template <class Rep, class Period>
Timeout timeout(std::chrono::duration<Rep, Period> delay) {
  return timeout(std::chrono::duration<double>(delay).count());
}
/// Python's asyncio.timeout_at(when): a Timeout due at loop time `when`.
Timeout timeout_at(std::optional<double> when);

// ---- as_completed -------------------------------------------------------------------------

namespace detail {

/// as_completed's shared state: the futures in the order they finished, in a Queue as
/// Python's as_completed keeps them (nullopt stands for the timeout), and how many are to come.
template <class F>
struct Completions {
  Queue<std::optional<F>> done;
  std::size_t todo = 0;
  Handle timeout;
};

template <class F>
Task<awaitable_result_t<F>> next_completed(std::shared_ptr<Completions<F>> state) {
  std::optional<F> f = co_await state->done.get();
  if (!f) throw TimeoutError(std::string());
  co_return std::move(*f).result();
}

}  // namespace detail

/// Python's asyncio.as_completed(aws, timeout=None): one awaitable per task, to be awaited in
/// turn; the first gives the result of the task that finishes first, and so on. Each raises
/// that task's exception if it failed, or TimeoutError once the timeout has passed.
template <AwaitableRange R>
auto as_completed(R&& aws, std::optional<double> timeout = std::nullopt) {
  using F = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  using T = awaitable_result_t<F>;
  std::vector<F> fs;
  for (auto&& a : aws) fs.push_back(detail::started(std::forward<decltype(a)>(a)));
  EventLoop& loop = get_running_loop();
  auto state = std::make_shared<detail::Completions<F>>();
  state->todo = fs.size();
  std::vector<std::uint64_t> ids;
  for (F& f : fs) {
    ids.push_back(f.add_done_callback([state](F& done) {
      if (state->todo == 0) return;  // the timeout came first
      if (--state->todo == 0) state->timeout.cancel();
      state->done.put_nowait(std::optional<F>(done));
    }));
  }
  if (timeout && !fs.empty()) {
    // A weak reference: the state holds this timer, which must not hold the state.
    std::weak_ptr<detail::Completions<F>> weak = state;
    state->timeout = loop.call_later(*timeout, [weak, fs, ids]() mutable {
      auto s = weak.lock();
      if (!s) return;
      for (std::size_t i = 0; i < fs.size(); ++i) {
        if (fs[i].remove_done_callback(ids[i]) > 0) s->done.put_nowait(std::nullopt);
      }
      s->todo = 0;
    });
  }
  std::vector<Task<T>> out;
  out.reserve(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) out.push_back(detail::next_completed(state));
  return out;
}

}  // namespace batteries::asyncio
