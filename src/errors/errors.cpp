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

// ---- exception groups ------------------------------------------------------------------

namespace detail {

ExceptionGroupData::ExceptionGroupData(std::string message,
                                       std::vector<std::exception_ptr> exceptions)
    : m_message(std::move(message)), m_exceptions(std::move(exceptions)) {
  if (m_exceptions.empty()) {
    throw ValueError("second argument (exceptions) must be a non-empty sequence");
  }
  for (std::size_t i = 0; i < m_exceptions.size(); ++i) {
    if (!m_exceptions[i]) {
      throw ValueError(
          fmt::format("Item {} of second argument (exceptions) is not an exception", i));
    }
  }
}

std::string ExceptionGroupData::describe() const {
  const std::size_t n = m_exceptions.size();
  return fmt::format("{} ({} sub-exception{})", m_message, n, n == 1 ? "" : "s");
}

namespace {

std::string group_repr(std::string_view type, const ExceptionGroupData& group) {
  std::string out = fmt::format("{}({}, [", type, py_repr(group.message()));
  bool first = true;
  for (const auto& e : group.exceptions()) {
    if (!first) out += ", ";
    first = false;
    try {
      std::rethrow_exception(e);
    } catch (const BaseException& b) {
      out += b.repr();
    } catch (const std::exception& s) {
      out += fmt::format("std::exception({})", py_repr(s.what()));
    } catch (...) {
      out += "<unknown exception>";
    }
  }
  return out + "])";
}

}  // namespace

}  // namespace detail

std::string BaseExceptionGroup::repr() const { return detail::group_repr(type_name(), *this); }

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
    : ExceptionGroupData(std::move(message), std::move(exceptions)),
      detail::ExceptionImpl(describe()) {
  for (const auto& e : this->exceptions()) {
    if (!is_exception(e)) {
      throw TypeError("Cannot nest BaseExceptions in an ExceptionGroup");
    }
  }
}

std::string ExceptionGroup::repr() const { return detail::group_repr(type_name(), *this); }

bool is_exception(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const Exception&) {
    return true;
  } catch (const BaseException&) {
    return false;
  } catch (...) {
    return true;
  }
}

std::exception_ptr make_exception_group(std::string message,
                                        std::vector<std::exception_ptr> exceptions) {
  bool all = true;
  for (const auto& e : exceptions) all = all && (!e || is_exception(e));
  if (all)
    return std::make_exception_ptr(ExceptionGroup(std::move(message), std::move(exceptions)));
  return std::make_exception_ptr(BaseExceptionGroup(std::move(message), std::move(exceptions)));
}

}  // namespace batteries
