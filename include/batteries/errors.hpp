// Python's built-in exception hierarchy for C++: the errors every batteries module throws.
//
// The classes carry Python's names and bases (ValueError is an Exception, KeyError a
// LookupError, FileNotFoundError an OSError, ...), so `catch (const batteries::LookupError&)`
// works the way `except LookupError:` does. what() returns the message, which is what
// Python's str(exc) prints; repr() gives Python's repr, `ValueError('bad value')`.
//
// Every concrete exception is also a std::exception, exactly once, so
// `catch (const std::exception&)` catches all of them. OSError is additionally a
// std::system_error carrying the errno in code(). Because one object cannot have two
// std::exception bases without making that catch ambiguous, the roots BaseException and
// Exception are interfaces that do not themselves derive from std::exception; the concrete
// classes below add it. Use `as_std_exception()` to go from one to the other.
//
// Thread-safety: exception objects are immutable after construction and may be read from
// any number of threads.
#pragma once

#include <cerrno>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries {

/// The root of Python's hierarchy (KeyboardInterrupt, SystemExit, and asyncio's
/// CancelledError derive from it directly; everything else from Exception).
class BaseException {
 public:
  virtual ~BaseException() = default;

  /// The message: what Python's str(exc) prints.
  [[nodiscard]] virtual const char* what() const noexcept = 0;
  /// The Python class name: "ValueError", "FileNotFoundError", ...
  [[nodiscard]] virtual std::string_view type_name() const noexcept = 0;

  /// str(exc): the message.
  [[nodiscard]] std::string str() const { return what(); }
  /// repr(exc): `ValueError('message')`.
  [[nodiscard]] virtual std::string repr() const;
  /// The same object seen as a std::exception (every concrete batteries exception is one).
  [[nodiscard]] const std::exception& as_std_exception() const;

 protected:
  BaseException() = default;
  BaseException(const BaseException&) = default;
  BaseException& operator=(const BaseException&) = default;
};

/// Python's Exception: the base of all the non-exiting errors.
class Exception : public BaseException {
 protected:
  Exception() = default;
};

namespace detail {

/// Gives a Python exception class its single std::exception base and stores the message.
template <class PyBase>
class StdError : public PyBase, public std::exception {
 public:
  StdError() = default;
  explicit StdError(std::string message) : m_message(std::move(message)) {}
  [[nodiscard]] const char* what() const noexcept override { return m_message.c_str(); }

 private:
  std::string m_message;
};

using BaseExceptionImpl = StdError<BaseException>;
using ExceptionImpl = StdError<Exception>;

}  // namespace detail

}  // namespace batteries

/// Declares `class NAME : public BASE` with BASE's constructors and Python's class name.
/// Modules use it for their own exceptions: BATTERIES_EXCEPTION(StatisticsError, ValueError);
#define BATTERIES_EXCEPTION(NAME, BASE)                                                  \
  class NAME : public BASE {                                                             \
    using base_type = BASE;                                                              \
                                                                                         \
   public:                                                                               \
    using base_type::base_type;                                                          \
    [[nodiscard]] std::string_view type_name() const noexcept override { return #NAME; } \
  }

namespace batteries {

// The exits: derive from BaseException, not Exception, as in Python.
BATTERIES_EXCEPTION(SystemExit, detail::BaseExceptionImpl);
BATTERIES_EXCEPTION(KeyboardInterrupt, detail::BaseExceptionImpl);
BATTERIES_EXCEPTION(GeneratorExit, detail::BaseExceptionImpl);

BATTERIES_EXCEPTION(StopIteration, detail::ExceptionImpl);
BATTERIES_EXCEPTION(StopAsyncIteration, detail::ExceptionImpl);
BATTERIES_EXCEPTION(ArithmeticError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(FloatingPointError, ArithmeticError);
BATTERIES_EXCEPTION(OverflowError, ArithmeticError);
BATTERIES_EXCEPTION(ZeroDivisionError, ArithmeticError);
BATTERIES_EXCEPTION(AssertionError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(AttributeError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(BufferError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(EOFError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(ImportError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(ModuleNotFoundError, ImportError);
BATTERIES_EXCEPTION(LookupError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(IndexError, LookupError);
BATTERIES_EXCEPTION(KeyError, LookupError);
BATTERIES_EXCEPTION(MemoryError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(RuntimeError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(NotImplementedError, RuntimeError);
BATTERIES_EXCEPTION(RecursionError, RuntimeError);
BATTERIES_EXCEPTION(SystemError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(TypeError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(ValueError, detail::ExceptionImpl);
BATTERIES_EXCEPTION(UnicodeError, ValueError);
BATTERIES_EXCEPTION(UnicodeDecodeError, UnicodeError);
BATTERIES_EXCEPTION(UnicodeEncodeError, UnicodeError);
BATTERIES_EXCEPTION(UnicodeTranslateError, UnicodeError);

/// Python's OSError: an errno, its strerror text and up to two filenames.
///
/// what() reads as Python's str(): `[Errno 2] No such file or directory: 'x'`, with
/// `: 'a' -> 'b'` when there are two filenames, or just the message when there is no errno.
/// code() is the errno in std::generic_category(), so code() == std::errc::... works.
/// Throw through raise_os_error()/make_os_error() to get the subclass Python would pick.
class OSError : public Exception, public std::system_error {
 public:
  /// OSError(errno, strerror[, filename[, filename2]]). An empty strerror is filled in
  /// from the C library, as os.strerror(errno) would.
  OSError(int errnum, std::string strerror, std::optional<std::string> filename = std::nullopt,
          std::optional<std::string> filename2 = std::nullopt);
  /// OSError(message): no errno, as Python's OSError('message').
  explicit OSError(std::string message);

  [[nodiscard]] const char* what() const noexcept override { return m_what.c_str(); }
  [[nodiscard]] std::string_view type_name() const noexcept override { return "OSError"; }
  [[nodiscard]] std::string repr() const override;

  /// exc.errno (a trailing underscore because errno is a C macro); nullopt when not set.
  [[nodiscard]] std::optional<int> errno_() const noexcept { return m_errno; }
  /// exc.strerror; nullopt when there is no errno.
  [[nodiscard]] const std::optional<std::string>& strerror() const noexcept { return m_strerror; }
  [[nodiscard]] const std::optional<std::string>& filename() const noexcept { return m_filename; }
  [[nodiscard]] const std::optional<std::string>& filename2() const noexcept { return m_filename2; }

 private:
  std::optional<int> m_errno;
  std::optional<std::string> m_strerror;
  std::optional<std::string> m_filename;
  std::optional<std::string> m_filename2;
  std::string m_what;
};

/// Python's old names for OSError.
using IOError = OSError;
using EnvironmentError = OSError;

BATTERIES_EXCEPTION(BlockingIOError, OSError);
BATTERIES_EXCEPTION(ChildProcessError, OSError);
BATTERIES_EXCEPTION(ConnectionError, OSError);
BATTERIES_EXCEPTION(BrokenPipeError, ConnectionError);
BATTERIES_EXCEPTION(ConnectionAbortedError, ConnectionError);
BATTERIES_EXCEPTION(ConnectionRefusedError, ConnectionError);
BATTERIES_EXCEPTION(ConnectionResetError, ConnectionError);
BATTERIES_EXCEPTION(FileExistsError, OSError);
BATTERIES_EXCEPTION(FileNotFoundError, OSError);
BATTERIES_EXCEPTION(InterruptedError, OSError);
BATTERIES_EXCEPTION(IsADirectoryError, OSError);
BATTERIES_EXCEPTION(NotADirectoryError, OSError);
BATTERIES_EXCEPTION(PermissionError, OSError);
BATTERIES_EXCEPTION(ProcessLookupError, OSError);
BATTERIES_EXCEPTION(TimeoutError, OSError);

/// The name of the OSError subclass Python picks for an errno: "FileNotFoundError" for
/// ENOENT, "OSError" for an errno with no subclass of its own.
[[nodiscard]] std::string_view os_error_type_name(int errnum) noexcept;

/// Builds the OSError subclass Python picks for errnum (ENOENT -> FileNotFoundError, ...),
/// with strerror from the C library, as an exception_ptr (for futures and callbacks).
[[nodiscard]] std::exception_ptr make_os_error(int errnum,
                                               std::optional<std::string> filename = std::nullopt,
                                               std::optional<std::string> filename2 = std::nullopt);

/// Throws the OSError subclass Python picks for errnum.
[[noreturn]] void raise_os_error(int errnum, std::optional<std::string> filename = std::nullopt,
                                 std::optional<std::string> filename2 = std::nullopt);

/// Throws the OSError subclass for the current value of errno.
[[noreturn]] inline void raise_errno(std::optional<std::string> filename = std::nullopt,
                                     std::optional<std::string> filename2 = std::nullopt) {
  raise_os_error(errno, std::move(filename), std::move(filename2));
}

/// Python's repr() of a str: quoted with ' (or " when that avoids escapes), with Python's
/// escapes for quotes, backslashes, controls and other non-printable code points (\xNN,
/// \uNNNN, \UNNNNNNNN). A byte that is not valid UTF-8 is shown as \udcNN, the lone
/// surrogate Python's surrogateescape gives it in a file name or other OS string.
[[nodiscard]] std::string py_repr(std::string_view text);

/// Python's repr() of a float: the shortest digits that read back as the same double, in
/// fixed notation when the decimal exponent is in -4..15 (`0.0001`, `1000000000000000.0`,
/// with `.0` on integral values) and in exponent notation otherwise (`1e-05`, `1e+16`,
/// `1.5e+300`); `inf`, `-inf`, `nan` and `-0.0` as Python writes them.
[[nodiscard]] std::string py_repr(double x);
/// An integer or a character is not a float: py_repr(42) would print "42.0".
template <class T>
requires std::is_integral_v<T> std::string py_repr(T)
= delete;

namespace detail {

/// What BaseExceptionGroup and ExceptionGroup share: the message and the exceptions.
class ExceptionGroupData {
 public:
  /// The message given to the constructor (Python's eg.message).
  [[nodiscard]] const std::string& message() const noexcept { return m_message; }
  /// The exceptions it carries, in order (Python's eg.exceptions).
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return m_exceptions;
  }

 protected:
  ExceptionGroupData(std::string message, std::vector<std::exception_ptr> exceptions);
  /// Python's str(eg): "message (2 sub-exceptions)".
  [[nodiscard]] std::string describe() const;

 private:
  std::string m_message;
  std::vector<std::exception_ptr> m_exceptions;
};

}  // namespace detail

/// Python 3.11's BaseExceptionGroup: several exceptions raised together, some of which may be
/// BaseExceptions (KeyboardInterrupt, CancelledError). ValueError if `exceptions` is empty or
/// holds a null exception_ptr. Use make_exception_group() to get an ExceptionGroup when every
/// exception is an Exception, as Python's constructor does.
class BaseExceptionGroup : public detail::ExceptionGroupData, public detail::BaseExceptionImpl {
 public:
  BaseExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
      : ExceptionGroupData(std::move(message), std::move(exceptions)),
        detail::BaseExceptionImpl(describe()) {}
  [[nodiscard]] std::string_view type_name() const noexcept override {
    return "BaseExceptionGroup";
  }
  [[nodiscard]] std::string repr() const override;
};

/// Python 3.11's ExceptionGroup: a group of Exceptions, itself an Exception.
/// (In Python it is also a BaseExceptionGroup; in C++ catch ExceptionGroup, or the shared
/// detail::ExceptionGroupData, to handle both.)
class ExceptionGroup : public detail::ExceptionGroupData, public detail::ExceptionImpl {
 public:
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions);
  [[nodiscard]] std::string_view type_name() const noexcept override { return "ExceptionGroup"; }
  [[nodiscard]] std::string repr() const override;
};

/// True when `e` is an Exception (a batteries::Exception, or any other C++ exception), and
/// false for the BaseExceptions that are not (SystemExit, KeyboardInterrupt, CancelledError).
[[nodiscard]] bool is_exception(const std::exception_ptr& e) noexcept;

/// Python's BaseExceptionGroup(message, exceptions) constructor: an ExceptionGroup when
/// every exception is an Exception, else a BaseExceptionGroup.
[[nodiscard]] std::exception_ptr make_exception_group(std::string message,
                                                      std::vector<std::exception_ptr> exceptions);

}  // namespace batteries
