// BaseSelector: Python's selectors.BaseSelector, the interface every backend implements.
//
// A selector maps file descriptors to SelectorKeys and waits until some of them are ready.
// The public methods are Python's, with Python's errors: ValueError for a bad descriptor or
// event mask, KeyError for a file that is already or not registered, RuntimeError once the
// selector is closed. Backends (epoll, poll, select, kqueue) implement the protected hooks.
//
// Invariant: a descriptor is in the map exactly when the backend watches it. A backend that
// refuses a registration (epoll refuses regular files) leaves the map as it was.
//
// Thread-safety: a selector is not thread-safe; calls on one selector need external
// synchronization. Distinct selectors may be used from different threads at once.
//
// Lifetime: a selector owns its kernel object (the epoll or kqueue descriptor), closes it
// in its destructor, and can be neither copied nor moved, since get_map() hands out a view
// that points back at it; hold it in a std::unique_ptr to pass it around.
#pragma once

#include <batteries/errors.hpp>
#include <batteries/selectors/key.hpp>

#include <any>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace batteries::selectors {

class BaseSelector;

/// The read-only mapping of file objects to keys that get_map() returns, as Python's
/// Mapping: size(), contains(), operator[] (KeyError on a miss), get(), and iteration over
/// the keys' SelectorKey values. It is a view: it follows the selector as it changes.
class SelectorMapping {
  using Map = std::unordered_map<int, SelectorKey>;

 public:
  /// Iterates over the registered SelectorKeys, in no particular order.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = SelectorKey;
    using difference_type = std::ptrdiff_t;
    using pointer = const SelectorKey*;
    using reference = const SelectorKey&;

    iterator() = default;
    reference operator*() const { return m_it->second; }
    pointer operator->() const { return &m_it->second; }
    iterator& operator++() {
      ++m_it;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++m_it;
      return old;
    }
    friend bool operator==(const iterator&, const iterator&) = default;

   private:
    friend class SelectorMapping;
    explicit iterator(Map::const_iterator it) : m_it(it) {}
    Map::const_iterator m_it;
  };

  [[nodiscard]] std::size_t size() const noexcept { return map().size(); }
  [[nodiscard]] bool empty() const noexcept { return map().empty(); }
  [[nodiscard]] bool contains(const FileObject& fileobj) const;
  /// mapping[fileobj]: throws KeyError when it is not registered.
  [[nodiscard]] const SelectorKey& operator[](const FileObject& fileobj) const;
  /// mapping.get(fileobj): nullopt when it is not registered.
  [[nodiscard]] std::optional<SelectorKey> get(const FileObject& fileobj) const;
  [[nodiscard]] iterator begin() const noexcept { return iterator(map().begin()); }
  [[nodiscard]] iterator end() const noexcept { return iterator(map().end()); }

 private:
  friend class BaseSelector;
  explicit SelectorMapping(const BaseSelector& selector) : m_selector(&selector) {}
  [[nodiscard]] const Map& map() const noexcept;
  const BaseSelector* m_selector;
};

/// The interface of all selectors, with the bookkeeping they share.
class BaseSelector {
 public:
  /// One ready file: its key and the events that are ready (always a subset of key.events).
  using Ready = std::pair<SelectorKey, Events>;
  /// The allocation-free form of Ready: the key stays owned by the selector.
  using ReadyRef = std::pair<const SelectorKey*, Events>;
  using Timeout = std::optional<std::chrono::nanoseconds>;

  BaseSelector(const BaseSelector&) = delete;
  BaseSelector& operator=(const BaseSelector&) = delete;
  virtual ~BaseSelector() = default;

  /// Starts watching fileobj for events, with data attached; returns the new key.
  /// ValueError: events is empty or has bits other than EVENT_READ|EVENT_WRITE, or the
  /// descriptor is invalid. KeyError: it is already registered. OSError: the backend refused
  /// it (epoll refuses regular files with PermissionError).
  SelectorKey register_(FileObject fileobj, Events events, std::any data = {});

  /// Stops watching fileobj and returns its key. KeyError when it is not registered. Works
  /// on a file that was closed since it was registered, as Python's does.
  SelectorKey unregister(const FileObject& fileobj);

  /// Changes the events and the data of a registered file (data is replaced, with an empty
  /// std::any when not given, as Python's data=None). KeyError when it is not registered.
  /// When the backend fails the file is unregistered and the OSError propagates, as in
  /// Python.
  SelectorKey modify(const FileObject& fileobj, Events events, std::any data = {});

  /// Waits until some registered files are ready, or the timeout expires. No timeout
  /// blocks; a timeout of zero or less polls. A signal does not cut the wait short: it is
  /// resumed with the time that is left (PEP 475). Returns (key, ready events) pairs.
  /// ValueError for a NaN timeout, OverflowError for one too large for the backend.
  [[nodiscard]] std::vector<Ready> select(std::optional<double> timeout = std::nullopt);
  template <class Rep, class Period>
  [[nodiscard]] std::vector<Ready> select(std::chrono::duration<Rep, Period> timeout) {
    return select_keys(to_timeout(timeout));
  }

  /// The hot-path form of select(): clears ready and fills it with pointers to the
  /// selector's own keys, which stay valid until the next register_, unregister, modify or
  /// close. Allocates nothing once ready has room. Returns ready.size().
  std::size_t select(std::vector<ReadyRef>& ready, Timeout timeout);

  /// Closes the selector and drops every key; the files themselves stay open. Calling it
  /// again does nothing. Destroying the selector closes it.
  void close() noexcept;
  [[nodiscard]] bool closed() const noexcept { return m_closed; }

  /// The key of a registered file. KeyError when it is not registered.
  [[nodiscard]] SelectorKey get_key(const FileObject& fileobj) const;

  /// A read-only view of every registration.
  [[nodiscard]] const SelectorMapping& get_map() const;

 protected:
  BaseSelector() : m_mapping(*this) {}

  /// The backend's share of register_(): watch fd for events. Throws OSError or ValueError
  /// to refuse; the key is added only after it returns.
  virtual void backend_register(int fd, Events events) = 0;
  /// Stop watching fd. Failures (the fd was closed meanwhile) are ignored, as Python does.
  virtual void backend_unregister(int fd, Events events) noexcept = 0;
  /// Watch fd for new_events instead of old_events.
  virtual void backend_modify(int fd, Events old_events, Events new_events) = 0;
  /// Waits up to timeout (nullopt: forever; zero: poll) and appends each ready (fd, events)
  /// to ready. Returns false when a signal interrupted the wait, so that the caller retries
  /// with the time left; throws OSError for any other failure.
  virtual bool backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) = 0;
  /// Releases the backend's own descriptors.
  virtual void backend_close() noexcept = 0;

  /// The largest wait, in milliseconds, that the backends can express.
  static constexpr std::chrono::milliseconds max_timeout{INT32_MAX};

  /// Milliseconds for poll(2)/epoll_wait(2): -1 for no timeout, rounded up so that the wait
  /// lasts at least the timeout, as Python rounds.
  static int timeout_ms(Timeout timeout) noexcept;

 private:
  friend class SelectorMapping;

  template <class Rep, class Period>
  static Timeout to_timeout(std::chrono::duration<Rep, Period> timeout) {
    if constexpr (std::is_floating_point_v<Rep>) {
      return to_timeout(std::chrono::duration<double>(timeout).count());
    } else {
      if (timeout > max_timeout) {
        throw OverflowError("timeout is too large");
      }
      return std::chrono::duration_cast<std::chrono::nanoseconds>(timeout);
    }
  }
  static Timeout to_timeout(std::optional<double> seconds);

  [[nodiscard]] std::vector<Ready> select_keys(Timeout timeout);
  void wait(Timeout timeout);
  void check_open() const;
  [[nodiscard]] int lookup_fd(const FileObject& fileobj) const;
  [[nodiscard]] const SelectorKey* find(const FileObject& fileobj) const;
  [[noreturn]] static void not_registered(const FileObject& fileobj);

  std::unordered_map<int, SelectorKey> m_keys;
  std::vector<std::pair<int, Events>> m_ready_fds;
  SelectorMapping m_mapping;
  bool m_closed = false;
};

inline const SelectorMapping::Map& SelectorMapping::map() const noexcept {
  return m_selector->m_keys;
}

}  // namespace batteries::selectors
