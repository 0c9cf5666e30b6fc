// asyncio queues: Queue, PriorityQueue and LifoQueue (Python 3.11's asyncio.queues).
//
// A queue hands items from producer tasks to consumer tasks. With maxsize > 0, put() waits
// while the queue is full (backpressure); get() waits while it is empty. task_done() and
// join() count the items still being processed. As in Python, a getter or putter that is
// cancelled after it was woken hands its wake-up on to the next one, so that no item and no
// free slot is lost; and a woken task that finds its item taken by someone quicker waits
// again, without resuming.
//
// Items are moved in and out (T may be move-only); get()/put()/get_nowait()/put_nowait()
// allocate nothing when they do not wait (the storage grows by doubling and keeps its
// capacity). A get() or put() that waits allocates its waiter future, as Python does.
//
// Spelling: `await q.get()` is `co_await q.get()`; the awaitables convert to Task<T> for the
// combinators (`wait_for(Task<int>(q.get()), 1.0)`). The three queues share BasicQueue<T,
// Storage>; unlike Python's, PriorityQueue and LifoQueue are not subclasses of Queue<T>.
//
// Thread-safety: none; a queue belongs to the thread of its loop, and is bound to that loop at
// the first get() or put() that waits (RuntimeError from another loop). A queue cannot be
// copied or moved, and must outlive the tasks that wait on it.
#pragma once

#include <batteries/asyncio/exceptions.hpp>
#include <batteries/asyncio/locks.hpp>
#include <batteries/asyncio/task.hpp>

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batteries::asyncio {

namespace detail {

/// Python's Queue._format(), without the items: <Name at 0x... maxsize=0 _getters[1] tasks=2>
/// (self == nullptr leaves out the address, for str()).
std::string format_queue(std::string_view name, const void* self, std::int64_t maxsize,
                         std::size_t getters, std::size_t putters, std::size_t tasks);

/// Queue's storage: first in, first out (Python's deque with append / popleft).
template <class T>
struct FifoStorage {
  static constexpr std::string_view name = "Queue";
  Ring<T> items;
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
  void put(T&& item) { items.push_back(std::move(item)); }
  T get() { return items.pop_front(); }
};

/// LifoQueue's storage: last in, first out (Python's list with append / pop).
template <class T>
struct LifoStorage {
  static constexpr std::string_view name = "LifoQueue";
  std::vector<T> items;
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
  void put(T&& item) { items.push_back(std::move(item)); }
  T get() {
    T out(std::move(items.back()));
    items.pop_back();
    return out;
  }
};

/// PriorityQueue's storage: a binary min-heap under Compare (Python's heapq on a list).
template <class T, class Compare>
struct HeapStorage {
  static constexpr std::string_view name = "PriorityQueue";
  std::vector<T> items;
  [[no_unique_address]] Compare compare;
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
  // std's heap algorithms keep the largest first; swapping the arguments keeps the smallest.
  [[nodiscard]] auto greater() {
    return [this](const T& a, const T& b) { return compare(b, a); };
  }
  void put(T&& item) {
    items.push_back(std::move(item));
    std::push_heap(items.begin(), items.end(), greater());
  }
  T get() {
    std::pop_heap(items.begin(), items.end(), greater());
    T out(std::move(items.back()));
    items.pop_back();
    return out;
  }
};

}  // namespace detail

/// The queue machinery shared by Queue, LifoQueue and PriorityQueue: Python's Queue class,
/// with Storage in place of the overridable _init / _put / _get.
template <class T, class Storage>
class BasicQueue {
 public:
  using value_type = T;

  /// The awaitable of get(): the next item, once there is one.
  class [[nodiscard]] GetAwaiter : public detail::PrimitiveWait {
   public:
    explicit GetAwaiter(BasicQueue& queue) noexcept : m_queue(&queue) {}
    [[nodiscard]] bool await_ready() const noexcept { return !m_queue->empty(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::TaskCore* task = task_of(h);
      wait_in(m_queue->m_getters, m_queue->get_loop(task), task, h);
    }
    T await_resume() {
      if (suspended()) {
        try {
          resume_checks();
        } catch (...) {
          m_future.cancel();  // in case it is not done yet
          detail::remove_waiter(m_queue->m_getters, m_future);
          // Woken by put_nowait() but unable to take the item: wake the next getter.
          if (!m_queue->empty() && !m_future.cancelled()) m_queue->wakeup_next(m_queue->m_getters);
          throw;
        }
      }
      return m_queue->get_nowait();
    }
    /// As a task, for the combinators.
    operator Task<T>() && { return BasicQueue::get_task(*m_queue); }  // NOLINT

   private:
    // Python's `while self.empty(): await getter`: woken, but the item went to a task that
    // came first; wait again at the back of the line.
    bool retry() override {
      if (!m_queue->empty()) return false;
      arm(m_queue->m_getters, *m_queue->m_loop);
      return true;
    }

    BasicQueue* m_queue;
  };

  /// The awaitable of put(item): puts the item, once there is room.
  class [[nodiscard]] PutAwaiter : public detail::PrimitiveWait {
   public:
    PutAwaiter(BasicQueue& queue, T item) : m_queue(&queue), m_item(std::move(item)) {}
    [[nodiscard]] bool await_ready() const noexcept { return !m_queue->full(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::TaskCore* task = task_of(h);
      wait_in(m_queue->m_putters, m_queue->get_loop(task), task, h);
    }
    void await_resume() {
      if (suspended()) {
        try {
          resume_checks();
        } catch (...) {
          m_future.cancel();  // in case it is not done yet
          detail::remove_waiter(m_queue->m_putters, m_future);
          // Woken by get_nowait() but unable to use the slot: wake the next putter.
          if (!m_queue->full() && !m_future.cancelled()) m_queue->wakeup_next(m_queue->m_putters);
          throw;
        }
      }
      m_queue->put_nowait(std::move(m_item));
    }
    /// As a task, for the combinators.
    operator Task<void>() && {  // NOLINT
      return BasicQueue::put_task(*m_queue, std::move(m_item));
    }

   private:
    bool retry() override {
      if (!m_queue->full()) return false;
      arm(m_queue->m_putters, *m_queue->m_loop);
      return true;
    }

    BasicQueue* m_queue;
    T m_item;
  };

  /// A queue of at most maxsize items; maxsize <= 0 means no limit.
  explicit BasicQueue(std::int64_t maxsize = 0) : m_maxsize(maxsize) { m_finished.set(); }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// The number of items in the queue.
  [[nodiscard]] std::size_t qsize() const noexcept { return m_storage.size(); }
  /// The number of items allowed in the queue (<= 0: no limit). Python's property.
  [[nodiscard]] std::int64_t maxsize() const noexcept { return m_maxsize; }
  [[nodiscard]] bool empty() const noexcept { return m_storage.size() == 0; }
  /// Whether there are maxsize items; never true when maxsize <= 0.
  [[nodiscard]] bool full() const noexcept {
    return m_maxsize > 0 && m_storage.size() >= static_cast<std::size_t>(m_maxsize);
  }

  /// Puts item, waiting while the queue is full: `co_await q.put(item)`. The item is moved
  /// into the awaitable; if the awaitable is destroyed without completing, the item is too.
  PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
  /// Puts item now; QueueFull when the queue is full.
  void put_nowait(T&& item) {
    if (full()) throw QueueFull(std::string());
    m_storage.put(std::move(item));
    ++m_unfinished_tasks;
    m_finished.clear();
    wakeup_next(m_getters);
  }
  void put_nowait(const T& item) { put_nowait(T(item)); }

  /// Removes and returns an item, waiting while the queue is empty: `co_await q.get()`.
  GetAwaiter get() noexcept { return GetAwaiter(*this); }
  /// Removes and returns an item now; QueueEmpty when the queue is empty.
  T get_nowait() {
    if (empty()) throw QueueEmpty(std::string());
    T item = m_storage.get();
    wakeup_next(m_putters);
    return item;
  }

  /// Tells the queue that an item taken with get() has been processed.
  /// ValueError("task_done() called too many times") when more calls than items were put.
  void task_done() {
    if (m_unfinished_tasks == 0) throw ValueError("task_done() called too many times");
    if (--m_unfinished_tasks == 0) m_finished.set();
  }
  /// Waits until every item put has been taken and marked with task_done():
  /// `co_await q.join()`.
  Event::WaitAwaiter join() noexcept { return m_finished.wait(); }

  /// Python's repr(): <Queue at 0x... maxsize=0 _getters[1] tasks=2> (the items left out).
  [[nodiscard]] std::string repr() const { return format(this); }
  /// Python's str(): <Queue maxsize=0 tasks=2>.
  [[nodiscard]] std::string str() const { return format(nullptr); }

 protected:
  BasicQueue(std::int64_t maxsize, Storage storage)
      : m_storage(std::move(storage)), m_maxsize(maxsize) {
    m_finished.set();
  }

 private:
  // Python's _wakeup_next: wakes the first waiter that is not done (cancelled), dropping the
  // ones before it.
  static void wakeup_next(detail::Waiters& waiters) {
    while (!waiters.empty()) {
      Future<void> waiter = waiters.pop_front();
      if (!waiter.done()) {
        waiter.set_result();
        return;
      }
    }
  }
  EventLoop& get_loop(detail::TaskCore* task) {
    return detail::bind_loop(m_loop, task->loop(), *this);
  }
  [[nodiscard]] std::string format(const void* self) const {
    return detail::format_queue(Storage::name, self, m_maxsize, m_getters.size(), m_putters.size(),
                                m_unfinished_tasks);
  }
  static Task<T> get_task(BasicQueue& queue) { co_return co_await queue.get(); }
  static Task<void> put_task(BasicQueue& queue, T item) { co_await queue.put(std::move(item)); }

  Storage m_storage;
  detail::Waiters m_getters;
  detail::Waiters m_putters;
  Event m_finished;
  EventLoop* m_loop = nullptr;
  std::int64_t m_maxsize;
  std::size_t m_unfinished_tasks = 0;
};

/// Python's asyncio.Queue: first in, first out.
template <class T>
class Queue : public BasicQueue<T, detail::FifoStorage<T>> {
 public:
  using BasicQueue<T, detail::FifoStorage<T>>::BasicQueue;
};

/// Python's asyncio.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoStorage<T>> {
 public:
  using BasicQueue<T, detail::LifoStorage<T>>::BasicQueue;
};

/// Python's asyncio.PriorityQueue: the smallest item under Compare first (heapq's order with
/// the default std::less). Python's `(priority, data)` entries are std::pair or std::tuple.
/// Items that compare equal come out in no particular order, as with heapq.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::HeapStorage<T, Compare>> {
  using Base = BasicQueue<T, detail::HeapStorage<T, Compare>>;

 public:
  explicit PriorityQueue(std::int64_t maxsize = 0, Compare compare = Compare())
      : Base(maxsize, detail::HeapStorage<T, Compare>{{}, std::move(compare)}) {}
};

}  // namespace batteries::asyncio
