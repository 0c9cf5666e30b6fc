// OSError's message and the errno -> subclass mapping that Python's OSError.__new__ does.
#include <batteries/errors.hpp>

#include <fmt/format.h>

#include <cstring>
#include <typeinfo>

namespace batteries {

std::string BaseException::repr() const {
  return fmt::format("{}({})", type_name(),
                     std::string_view(what()).empty() ? "" : py_repr(what()));
}

const std::exception& BaseException::as_std_exception() const {
  // Every concrete class adds exactly one std::exception base, so this cannot fail for
  // objects of batteries' classes; a foreign subclass without one gets std::bad_cast.
  return dynamic_cast<const std::exception&>(*this);
}

namespace {

std::string os_strerror(int errnum) {
  char buffer[256];
  // GNU strerror_r may return a static string instead of filling the buffer.
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return ::strerror_r(errnum, buffer, sizeof buffer);
#else
  if (::strerror_r(errnum, buffer, sizeof buffer) != 0) {
    return fmt::format("Unknown error {}", errnum);
  }
  return buffer;
#endif
}

std::string os_error_message(int errnum, const std::string& strerror,
                             const std::optional<std::string>& filename,
                             const std::optional<std::string>& filename2) {
  std::string message = fmt::format("[Errno {}] {}", errnum, strerror);
  if (filename) {
    message += ": " + py_repr(*filename);
    if (filename2) {
      message += " -> " + py_repr(*filename2);
    }
  }
  return message;
}

}  // namespace

OSError::OSError(int errnum, std::string strerror, std::optional<std::string> filename,
                 std::optional<std::string> filename2)
    : std::system_error(  // NOLINT(bugprone-throw-keyword-missing): a base, not a throw
          std::error_code(errnum, std::generic_category())),
      m_errno(errnum),
      m_strerror(strerror.empty() ? os_strerror(errnum) : std::move(strerror)),
      m_filename(std::move(filename)),
      m_filename2(std::move(filename2)),
      m_what(os_error_message(errnum, *m_strerror, m_filename, m_filename2)) {}

OSError::OSError(std::string message)
    : std::system_error(std::error_code()),  // NOLINT(bugprone-throw-keyword-missing)
      m_what(std::move(message)) {}

std::string OSError::repr() const {
  if (m_errno) {
    return fmt::format("{}({}, {})", type_name(), *m_errno, py_repr(*m_strerror));
  }
  return BaseException::repr();
}

namespace {

template <class E>
std::exception_ptr make(int errnum, std::optional<std::string>& filename,
                        std::optional<std::string>& filename2) {
  return std::make_exception_ptr(
      E(errnum, os_strerror(errnum), std::move(filename), std::move(filename2)));
}

// One table drives both the name lookup and the construction, so they cannot disagree.
template <class Visitor>
auto visit_os_error_type(int errnum, Visitor&& visit) {
  switch (errnum) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EALREADY:
    case EINPROGRESS:
      return visit.template operator()<BlockingIOError>("BlockingIOError");
    case ECHILD:
      return visit.template operator()<ChildProcessError>("ChildProcessError");
    case EPIPE:
    case ESHUTDOWN:
      return visit.template operator()<BrokenPipeError>("BrokenPipeError");
    case ECONNABORTED:
      return visit.template operator()<ConnectionAbortedError>("ConnectionAbortedError");
    case ECONNREFUSED:
      return visit.template operator()<ConnectionRefusedError>("ConnectionRefusedError");
    case ECONNRESET:
      return visit.template operator()<ConnectionResetError>("ConnectionResetError");
    case EEXIST:
      return visit.template operator()<FileExistsError>("FileExistsError");
    case ENOENT:
      return visit.template operator()<FileNotFoundError>("FileNotFoundError");
    case EINTR:
      return visit.template operator()<InterruptedError>("InterruptedError");
    case EISDIR:
      return visit.template operator()<IsADirectoryError>("IsADirectoryError");
    case ENOTDIR:
      return visit.template operator()<NotADirectoryError>("NotADirectoryError");
    case EACCES:
    case EPERM:
      return visit.template operator()<PermissionError>("PermissionError");
    case ESRCH:
      return visit.template operator()<ProcessLookupError>("ProcessLookupError");
    case ETIMEDOUT:
      return visit.template operator()<TimeoutError>("TimeoutError");
    default:
      return visit.template operator()<OSError>("OSError");
  }
}

}  // namespace

std::string_view os_error_type_name(int errnum) noexcept {
  return visit_os_error_type(errnum, []<class E>(std::string_view name) { return name; });
}

std::exception_ptr make_os_error(int errnum, std::optional<std::string> filename,
                                 std::optional<std::string> filename2) {
  return visit_os_error_type(
      errnum, [&]<class E>(std::string_view) { return make<E>(errnum, filename, filename2); });
}

void raise_os_error(int errnum, std::optional<std::string> filename,
                    std::optional<std::string> filename2) {
  std::rethrow_exception(make_os_error(errnum, std::move(filename), std::move(filename2)));
}

}  // namespace batteries
