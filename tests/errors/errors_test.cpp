// Tests for <batteries/errors.hpp>: the hierarchy, OSError's fields and message, and the
// errno -> subclass mapping, checked against CPython.
#include <batteries/errors.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

namespace batteries {
namespace {

template <class E, class Base>
constexpr bool is_a = std::is_base_of_v<Base, E>;

TEST(Hierarchy, FollowsPython) {
  static_assert(is_a<Exception, BaseException>);
  static_assert(is_a<SystemExit, BaseException> && !is_a<SystemExit, Exception>);
  static_assert(is_a<KeyboardInterrupt, BaseException> && !is_a<KeyboardInterrupt, Exception>);
  static_assert(is_a<ValueError, Exception>);
  static_assert(is_a<KeyError, LookupError> && is_a<IndexError, LookupError>);
  static_assert(is_a<ZeroDivisionError, ArithmeticError> && is_a<OverflowError, ArithmeticError>);
  static_assert(is_a<NotImplementedError, RuntimeError>);
  static_assert(is_a<UnicodeDecodeError, UnicodeError> && is_a<UnicodeError, ValueError>);
  static_assert(is_a<ModuleNotFoundError, ImportError>);
  static_assert(is_a<OSError, Exception> && is_a<OSError, std::system_error>);
  static_assert(is_a<FileNotFoundError, OSError> && is_a<TimeoutError, OSError>);
  static_assert(is_a<BrokenPipeError, ConnectionError> && is_a<ConnectionError, OSError>);
  static_assert(is_a<ConnectionResetError, ConnectionError>);
  static_assert(std::is_same_v<IOError, OSError> && std::is_same_v<EnvironmentError, OSError>);
}

TEST(Hierarchy, EveryConcreteClassIsOneStdException) {
  // catch (const std::exception&) must catch them; an ambiguous base would make it miss.
  auto caught_as_std = [](auto thrower) {
    try {
      thrower();
    } catch (const std::exception&) {
      return true;
    } catch (...) {
    }
    return false;
  };
  EXPECT_TRUE(caught_as_std([] { throw ValueError("v"); }));
  EXPECT_TRUE(caught_as_std([] { throw KeyboardInterrupt(); }));
  EXPECT_TRUE(caught_as_std([] { throw OSError(ENOENT, ""); }));
  EXPECT_TRUE(caught_as_std([] { throw ConnectionResetError(ECONNRESET, ""); }));
  EXPECT_TRUE(caught_as_std([] { raise_os_error(EACCES); }));
}

TEST(Hierarchy, CatchByPythonBase) {
  EXPECT_RAISES(throw KeyError("k"), LookupError);
  EXPECT_RAISES(throw ZeroDivisionError("division by zero"), ArithmeticError);
  EXPECT_RAISES(raise_os_error(ENOENT), Exception);
  EXPECT_RAISES(raise_os_error(EPIPE), ConnectionError);
  EXPECT_RAISES(raise_os_error(EPIPE), std::system_error);
  try {
    throw TypeError("bad operand");
  } catch (const Exception& e) {
    EXPECT_STREQ(e.what(), "bad operand");
    EXPECT_EQ(e.type_name(), "TypeError");
    EXPECT_STREQ(e.as_std_exception().what(), "bad operand");
  }
}

TEST(Message, StrAndRepr) {
  const ValueError e("math domain error");
  EXPECT_EQ(e.str(), "math domain error");
  EXPECT_EQ(e.repr(), "ValueError('math domain error')");
  EXPECT_EQ(KeyError().repr(), "KeyError()");
  EXPECT_EQ(RuntimeError("it's").repr(), "RuntimeError(\"it's\")");
}

TEST(OSErrorTest, FieldsAndMessage) {
  const OSError e(ENOENT, "No such file or directory", "x");
  EXPECT_EQ(e.errno_(), ENOENT);
  EXPECT_EQ(e.strerror(), "No such file or directory");
  EXPECT_EQ(e.filename(), "x");
  EXPECT_EQ(e.filename2(), std::nullopt);
  EXPECT_STREQ(e.what(), "[Errno 2] No such file or directory: 'x'");
  EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(e.repr(), "OSError(2, 'No such file or directory')");

  const OSError two(EXDEV, "Invalid cross-device link", "a", "b");
  EXPECT_STREQ(two.what(), "[Errno 18] Invalid cross-device link: 'a' -> 'b'");

  const OSError bare("socket is closed");
  EXPECT_EQ(bare.errno_(), std::nullopt);
  EXPECT_EQ(bare.strerror(), std::nullopt);
  EXPECT_STREQ(bare.what(), "socket is closed");
  EXPECT_EQ(bare.repr(), "OSError('socket is closed')");
}

TEST(OSErrorTest, EmptyStrerrorComesFromTheCLibrary) {
  const OSError e(EACCES, "");
  EXPECT_EQ(e.strerror(), std::string(std::strerror(EACCES)));
}

TEST(OSErrorTest, FilenameIsQuotedLikePython) {
  const OSError e(ENOENT, "No such file or directory", "it's\n");
  EXPECT_STREQ(e.what(), "[Errno 2] No such file or directory: \"it's\\n\"");
}

template <class Expected>
void expect_mapping(int errnum, std::string_view name) {
  SCOPED_TRACE(name);
  EXPECT_EQ(os_error_type_name(errnum), name);
  try {
    raise_os_error(errnum, "f");
    ADD_FAILURE() << "raise_os_error did not throw";
  } catch (const Expected& e) {
    EXPECT_EQ(e.type_name(), name);
    EXPECT_EQ(e.errno_(), errnum);
    EXPECT_EQ(e.filename(), "f");
  } catch (...) {
    ADD_FAILURE() << "wrong type for errno " << errnum;
  }
  try {
    std::rethrow_exception(make_os_error(errnum));
  } catch (const Expected& e) {
    EXPECT_EQ(e.type_name(), name);
  } catch (...) {
    ADD_FAILURE() << "make_os_error: wrong type for errno " << errnum;
  }
}

TEST(Mapping, EachErrnoToItsSubclass) {
  expect_mapping<FileNotFoundError>(ENOENT, "FileNotFoundError");
  expect_mapping<FileExistsError>(EEXIST, "FileExistsError");
  expect_mapping<PermissionError>(EACCES, "PermissionError");
  expect_mapping<PermissionError>(EPERM, "PermissionError");
  expect_mapping<IsADirectoryError>(EISDIR, "IsADirectoryError");
  expect_mapping<NotADirectoryError>(ENOTDIR, "NotADirectoryError");
  expect_mapping<InterruptedError>(EINTR, "InterruptedError");
  expect_mapping<BlockingIOError>(EAGAIN, "BlockingIOError");
  expect_mapping<BlockingIOError>(EWOULDBLOCK, "BlockingIOError");
  expect_mapping<BlockingIOError>(EALREADY, "BlockingIOError");
  expect_mapping<BlockingIOError>(EINPROGRESS, "BlockingIOError");
  expect_mapping<ChildProcessError>(ECHILD, "ChildProcessError");
  expect_mapping<BrokenPipeError>(EPIPE, "BrokenPipeError");
  expect_mapping<BrokenPipeError>(ESHUTDOWN, "BrokenPipeError");
  expect_mapping<ConnectionAbortedError>(ECONNABORTED, "ConnectionAbortedError");
  expect_mapping<ConnectionRefusedError>(ECONNREFUSED, "ConnectionRefusedError");
  expect_mapping<ConnectionResetError>(ECONNRESET, "ConnectionResetError");
  expect_mapping<ProcessLookupError>(ESRCH, "ProcessLookupError");
  expect_mapping<TimeoutError>(ETIMEDOUT, "TimeoutError");
  expect_mapping<OSError>(EIO, "OSError");
  expect_mapping<OSError>(EXDEV, "OSError");
}

// Differential: for every errno the C library knows, Python and batteries pick the same
// class and print the same message.
TEST(Mapping, AgreesWithCPython) {
  const auto python = testing::run_python(
      "import errno, os\n"
      "for n in sorted(errno.errorcode):\n"
      "    e = OSError(n, os.strerror(n), 'f')\n"
      "    print(n, type(e).__name__, str(e), sep='\\t')\n");
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  std::string line;
  int compared = 0;
  while (std::getline(lines, line)) {
    const auto tab1 = line.find('\t');
    const auto tab2 = line.find('\t', tab1 + 1);
    const int errnum = std::stoi(line.substr(0, tab1));
    const std::string name = line.substr(tab1 + 1, tab2 - tab1 - 1);
    const std::string message = line.substr(tab2 + 1);
    EXPECT_EQ(os_error_type_name(errnum), name) << "errno " << errnum;
    try {
      raise_os_error(errnum, "f");
    } catch (const OSError& e) {
      EXPECT_EQ(e.what(), message) << "errno " << errnum;
    }
    ++compared;
  }
  EXPECT_GT(compared, 100);
}

TEST(ExceptionGroup, CarriesEveryExceptionAndDescribesItselfAsPythonDoes) {
  std::vector<std::exception_ptr> errors{std::make_exception_ptr(ValueError("a")),
                                         std::make_exception_ptr(TypeError("b"))};
  const ExceptionGroup eg("unhandled errors in a TaskGroup", errors);
  EXPECT_STREQ(eg.what(), "unhandled errors in a TaskGroup (2 sub-exceptions)");
  EXPECT_EQ(eg.message(), "unhandled errors in a TaskGroup");
  EXPECT_EQ(eg.exceptions().size(), 2u);
  EXPECT_EQ(eg.repr(),
            "ExceptionGroup('unhandled errors in a TaskGroup', [ValueError('a'), "
            "TypeError('b')])");
  const ExceptionGroup one("m", {std::make_exception_ptr(ValueError("x"))});
  EXPECT_STREQ(one.what(), "m (1 sub-exception)");
  // An ExceptionGroup is an Exception and a std::exception.
  EXPECT_TRUE((std::is_base_of_v<Exception, ExceptionGroup>));
  EXPECT_TRUE((std::is_base_of_v<std::exception, ExceptionGroup>));
  EXPECT_FALSE((std::is_base_of_v<Exception, BaseExceptionGroup>));
}

TEST(ExceptionGroup, RejectsWhatPythonRejects) {
  EXPECT_RAISES_MSG(ExceptionGroup("m", {}), ValueError,
                    "second argument (exceptions) must be a non-empty sequence");
  EXPECT_RAISES_MSG(ExceptionGroup("m", {std::make_exception_ptr(ValueError("x")), nullptr}),
                    ValueError, "Item 1 of second argument (exceptions) is not an exception");
  EXPECT_RAISES_MSG(ExceptionGroup("m", {std::make_exception_ptr(KeyboardInterrupt("k"))}),
                    TypeError, "Cannot nest BaseExceptions in an ExceptionGroup");
}

TEST(ExceptionGroup, MakeExceptionGroupPicksTheClassAsPythonsConstructorDoes) {
  auto plain = make_exception_group("m", {std::make_exception_ptr(ValueError("x")),
                                          std::make_exception_ptr(std::runtime_error("y"))});
  EXPECT_RAISES(std::rethrow_exception(plain), ExceptionGroup);
  auto base = make_exception_group(
      "m", {std::make_exception_ptr(ValueError("x")), std::make_exception_ptr(SystemExit("bye"))});
  try {
    std::rethrow_exception(base);
  } catch (const BaseExceptionGroup& g) {
    EXPECT_STREQ(g.what(), "m (2 sub-exceptions)");
    EXPECT_EQ(g.type_name(), "BaseExceptionGroup");
  } catch (...) {
    ADD_FAILURE() << "not a BaseExceptionGroup";
  }
  EXPECT_TRUE(is_exception(std::make_exception_ptr(ValueError("x"))));
  EXPECT_FALSE(is_exception(std::make_exception_ptr(KeyboardInterrupt("x"))));
  EXPECT_FALSE(is_exception(nullptr));
}

}  // namespace
}  // namespace batteries
