// A power-of-two ring buffer: the loop's ready queue, and the waiters and items of the locks
// and queues.
//
// Thread-safety: none; each ring belongs to one loop's thread.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace batteries::asyncio::detail {

/// A double-ended FIFO in one power-of-two ring buffer: Python's collections.deque for the
/// ready queue, waiters and queue items, without std::deque's allocation of a block every 512 bytes
/// of traffic. It grows by doubling and never shrinks. T may be move-only.
template <class T>
class Ring {
 public:
  Ring() noexcept = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    clear();
    release(m_data, m_capacity);
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return m_data[slot(i)]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return m_data[slot(i)]; }
  [[nodiscard]] T& front() noexcept { return m_data[m_head]; }
  [[nodiscard]] T& back() noexcept { return m_data[slot(m_size - 1)]; }

  /// Appends value (which must not be an element of this ring).
  void push_back(T value) {
    if (m_size == m_capacity) grow();
    std::construct_at(m_data + slot(m_size), std::move(value));
    ++m_size;
  }
  /// Removes and returns the first element; the ring must not be empty.
  T pop_front() {
    T& first = m_data[m_head];
    T out(std::move(first));
    std::destroy_at(&first);
    m_head = (m_head + 1) & (m_capacity - 1);
    --m_size;
    return out;
  }
  /// Removes and returns the last element; the ring must not be empty.
  T pop_back() {
    T& last = back();
    T out(std::move(last));
    std::destroy_at(&last);
    --m_size;
    return out;
  }
  /// Removes the element at index i, keeping the order of the others.
  void erase(std::size_t i) {
    if (i == 0) {
      std::destroy_at(&front());
      m_head = (m_head + 1) & (m_capacity - 1);
      --m_size;
      return;
    }
    for (; i + 1 < m_size; ++i) (*this)[i] = std::move((*this)[i + 1]);
    std::destroy_at(&back());
    --m_size;
  }
  void clear() noexcept {
    while (m_size > 0) {
      std::destroy_at(&back());
      --m_size;
    }
    m_head = 0;
  }

 private:
  [[nodiscard]] std::size_t slot(std::size_t i) const noexcept {
    return (m_head + i) & (m_capacity - 1);
  }
  // Plain data (the ready queue's entries) lives in malloc's memory, so that growing is a
  // realloc: glibc moves a large buffer's pages with mremap instead of copying them into
  // fresh ones, and a queue of a million entries takes half the page faults.
  static constexpr bool kRealloc =
      std::is_trivially_copyable_v<T> && alignof(T) <= alignof(std::max_align_t);

  static void release(T* data, std::size_t capacity) noexcept {
    if (data == nullptr) return;
    if constexpr (kRealloc) {
      std::free(data);
    } else {
      std::allocator<T>().deallocate(data, capacity);
    }
  }
  void grow() {
    const std::size_t capacity = m_capacity == 0 ? 8 : m_capacity * 2;
    if constexpr (kRealloc) {
      void* data = std::realloc(m_data, capacity * sizeof(T));
      if (data == nullptr) throw std::bad_alloc();
      m_data = static_cast<T*>(data);
      // The ring is full: elements [head, old capacity) then [0, head). Moving the second run
      // after the first makes them contiguous from head again.
      if (m_head != 0) std::memcpy(m_data + m_capacity, m_data, m_head * sizeof(T));
      m_capacity = capacity;
      return;
    }
    T* data = std::allocator<T>().allocate(capacity);
    std::size_t moved = 0;
    try {
      for (; moved < m_size; ++moved) {
        std::construct_at(data + moved, std::move_if_noexcept((*this)[moved]));
      }
    } catch (...) {
      std::destroy(data, data + moved);
      std::allocator<T>().deallocate(data, capacity);
      throw;
    }
    const std::size_t size = m_size;
    clear();
    release(m_data, m_capacity);
    m_data = data;
    m_capacity = capacity;
    m_size = size;
  }

  T* m_data = nullptr;
  std::size_t m_capacity = 0;  // zero or a power of two
  std::size_t m_head = 0;
  std::size_t m_size = 0;
};

}  // namespace batteries::asyncio::detail
