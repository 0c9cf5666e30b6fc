// The values a selector hands out: event masks, registered file objects and SelectorKey.
//
// Events is Python's EVENT_READ / EVENT_WRITE bit mask as an IntFlag enum: combine with |,
// test with `(mask & EVENT_READ) != 0`. FileObject is what register_() accepts: a plain file
// descriptor (an int) or a reference to any object with a fileno() method, kept without
// owning it. SelectorKey is Python's namedtuple: fileobj, fd, events and data, where data is
// a std::any holding whatever the caller chose; std::any_cast reads it back type-safely.
//
// Thread-safety: these are plain values; distinct objects may be used from any thread.
#pragma once

#include <batteries/enum.hpp>
#include <batteries/errors.hpp>

#include <fmt/format.h>

#include <any>
#include <concepts>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>

namespace batteries::selectors {

/// A set of I/O events: EVENT_READ, EVENT_WRITE, or both. An IntFlag (batteries::enums):
/// combine with |, test with `(mask & EVENT_READ) != 0` or `enums::contains(mask, EVENT_READ)`
/// (Python's `EVENT_READ in mask`), print as the integer Python prints ("1", "3"), and get
/// names from enums::name(). Any bit pattern can be made, `Events(4)`; register_() and
/// modify() reject the invalid ones with ValueError, as Python does.
BATTERIES_INT_FLAG(Events, unsigned, (EVENT_READ, 1), (EVENT_WRITE, 2));

/// Readable: data to read, a connection to accept, or end of file.
inline constexpr Events EVENT_READ = Events::EVENT_READ;
/// Writable: room in the send buffer, or a connect() that finished.
inline constexpr Events EVENT_WRITE = Events::EVENT_WRITE;

/// Anything with an `int fileno()` method: sockets, pipes, files of the caller's own types.
template <class T>
concept HasFileno = requires(T& object) {
  { object.fileno() } -> std::convertible_to<int>;
};

class FileObject;

/// A caller's object with fileno(). FileObject has a fileno() too, and is excluded so that
/// copying one uses the copy constructor instead of wrapping it.
template <class T>
concept ForeignFileno = HasFileno<T> && !std::same_as<std::remove_cvref_t<T>, FileObject>;

/// An rvalue with fileno(): refused, since a selector must not keep a reference to it.
template <class T>
concept TemporaryWithFileno = ForeignFileno<T> && !std::is_lvalue_reference_v<T>;

/// A file object as register_() takes it: a file descriptor, or a non-owning reference to
/// an object with fileno(). The object must outlive its registration; the selector calls
/// fileno() on it when it is registered and when it is looked up again.
class FileObject {
 public:
  /// A plain file descriptor, as passing an int in Python.
  FileObject(int fd) noexcept : m_fd(fd) {}  // NOLINT(google-explicit-constructor)

  /// An object with fileno(), referred to, not copied.
  template <ForeignFileno T>
  FileObject(T& object) noexcept  // NOLINT(google-explicit-constructor)
      : m_object(std::addressof(object)),
        m_type(&typeid(T)),
        m_const(std::is_const_v<T>),
        m_fileno(&call_fileno<T>),
        m_repr(&call_repr<T>) {}
  /// A temporary would be gone before the selector uses it.
  template <TemporaryWithFileno T>
  FileObject(T&&) = delete;  // NOLINT(bugprone-forwarding-reference-overload): deleted

  /// The descriptor now: the int itself, or object.fileno(). Throws ValueError, as Python's
  /// selectors do, when it is negative or fileno() fails with a ValueError or TypeError.
  [[nodiscard]] int fileno() const;

  /// True when this is a plain descriptor rather than an object.
  [[nodiscard]] bool is_fd() const noexcept { return m_object == nullptr; }

  /// The registered object when it is a T, else nullptr: the type-safe way back from a key.
  template <class T>
  [[nodiscard]] T* get() const noexcept {
    if (m_object == nullptr || *m_type != typeid(T) || (m_const && !std::is_const_v<T>)) {
      return nullptr;
    }
    return static_cast<T*>(const_cast<void*>(m_object));
  }

  /// Python's repr(fileobj): the int, the object's own repr() when it has one, or
  /// `<object at 0x...>`.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }

  /// Identity, as Python's `is`: the same descriptor number, or the same object.
  friend bool operator==(const FileObject& a, const FileObject& b) noexcept {
    return a.m_object == nullptr ? b.m_object == nullptr && a.m_fd == b.m_fd
                                 : a.m_object == b.m_object;
  }

 private:
  template <class T>
  static int call_fileno(const void* object) {
    return static_cast<int>(static_cast<T*>(const_cast<void*>(object))->fileno());
  }
  template <class T>
  static std::string call_repr(const void* object) {
    if constexpr (requires(T & o) {
                    { o.repr() } -> std::convertible_to<std::string>;
                  }) {
      return static_cast<T*>(const_cast<void*>(object))->repr();
    } else {
      return fmt::format("<object at {}>", object);
    }
  }

  int m_fd = -1;
  const void* m_object = nullptr;
  const std::type_info* m_type = nullptr;
  bool m_const = false;
  int (*m_fileno)(const void*) = nullptr;
  std::string (*m_repr)(const void*) = nullptr;
};

inline std::ostream& operator<<(std::ostream& out, const FileObject& fileobj) {
  return out << fileobj.str();
}

/// What a selector knows about one registration, as Python's SelectorKey namedtuple.
struct SelectorKey {
  FileObject fileobj;  ///< what was registered
  int fd;              ///< its descriptor at registration
  Events events{};     ///< the events waited for
  std::any data;       ///< the caller's data; std::any_cast<T>(key.data) reads it

  /// `SelectorKey(fileobj=5, fd=5, events=1, data=<int>)`; data shows its type only, since
  /// std::any cannot print what it holds.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
};

inline std::ostream& operator<<(std::ostream& out, const SelectorKey& key) {
  return out << key.str();
}

}  // namespace batteries::selectors

template <>
struct fmt::formatter<batteries::selectors::FileObject> : fmt::formatter<std::string> {
  auto format(const batteries::selectors::FileObject& fileobj, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(fileobj.str(), ctx);
  }
};
template <>
struct fmt::formatter<batteries::selectors::SelectorKey> : fmt::formatter<std::string> {
  auto format(const batteries::selectors::SelectorKey& key, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(key.str(), ctx);
  }
};
