// Tests of File, Path.open()'s file object: each mode, buffering, encoding and newline setting
// checked against CPython 3.11's open(), plus what only C++ has (moves, the destructor, ranges).
//
// Each test runs in a fresh temporary directory, also the current one. The oracle tests describe
// scenarios: a file to start from, open()'s arguments, and a list of calls. CPython runs every
// scenario first; then batteries runs them again from the same starting files, and the outcome
// of each call (a value, or the exception's type, message and filename), of the final close()
// and the file's final contents must be the same, in order.
#include <batteries/pathlib/path.hpp>

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "python.hpp"
#include "raises.hpp"

namespace batteries::pathlib {
namespace {

using testing::check;
using testing::from_hex;
using testing::make_temp_dir;
using testing::printable;
using testing::read_file;
using testing::remove_tree;
using testing::ScopedEnv;
using testing::to_hex;
using testing::write_file;

static_assert(std::ranges::input_range<File>);
static_assert(std::same_as<std::ranges::range_value_t<File>, std::string>);
static_assert(!std::is_copy_constructible_v<File>);
static_assert(std::is_nothrow_move_constructible_v<File>);
static_assert(std::is_base_of_v<OSError, UnsupportedOperation>);

// ---- the file system through the C library, independent of batteries ----

/// The file's bytes, or nullopt when there is no regular file there.
std::optional<std::string> file_contents(const std::string& path) {
  struct stat st {};
  if (path.find('\0') != std::string::npos || ::stat(path.c_str(), &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  return read_file(path);
}

/// What the scenarios peek at: the file "f" as another reader sees it now.
std::string peek() { return file_contents("f").value_or(""); }

// ---- outcomes, formatted as the Python prelude below formats them ----

template <class T>
std::string show(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "True" : "False";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
    return value ? *value : "None";
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    std::string out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ',';
      out += to_hex(value[i]);
    }
    return out + "]";
  } else {
    static_assert(std::is_convertible_v<const T&, std::string_view>);
    return std::string(std::string_view(value));
  }
}

/// "= value", or "! Type message", with " | filename" for an OSError.
template <class F>
std::string outcome(F&& function) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      function();
      return "= None";
    } else {
      return "= " + show(function());
    }
  } catch (const OSError& e) {
    return "! " + std::string(e.type_name()) + " " + e.what() + " | " + e.filename().value_or("-");
  } catch (const BaseException& e) {
    return "! " + std::string(e.type_name()) + " " + e.what();
  } catch (const std::exception& e) {
    return "! <C++ " + std::string(typeid(e).name()) + "> " + e.what();
  }
}

/// len(text): the code points of valid UTF-8.
std::size_t characters(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

/// next(iter(f)): the first line through the range interface (begin() is iter(f)).
std::string first_line(File& f) {
  File::iterator it = f.begin();
  if (it == f.end()) throw StopIteration("");
  return *it;
}

/// One call on the open file: Python source (on `f`), and its C++ twin.
struct Step {
  std::string python;
  std::function<std::string(File&)> cpp;
};

/// Python source, and the C++ expression.
#define STEP(python, ...)                          \
  Step {                                           \
    python, [](File& f) {                          \
      (void)f;                                     \
      return outcome([&] { return __VA_ARGS__; }); \
    }                                              \
  }
/// The same expression in both languages.
#define SAME(...) STEP(#__VA_ARGS__, __VA_ARGS__)

enum class Start { file, absent, directory, keep };

struct Scenario {
  std::string mode = "r";
  OpenOptions options = {};
  std::string data = "hello\nworld\n";  // the file's contents, for Start::file
  Start setup = Start::file;
  std::string path = "f";
  std::vector<Step> steps = {};
};

constexpr std::string_view k_prelude = R"PY(
import os, sys
def S(h): return bytes.fromhex(h).decode('utf-8', 'surrogateescape')
def enc(s): return s.encode('utf-8', 'surrogateescape')
def fmt(r):
    if r is None: return b'None'
    if isinstance(r, bool): return b'True' if r else b'False'
    if isinstance(r, int): return str(r).encode()
    if isinstance(r, bytes): return r
    if isinstance(r, str): return enc(r)
    if isinstance(r, list): return b'[' + b','.join(fmt(x).hex().encode() for x in r) + b']'
    return repr(r).encode()
def outcome(f):
    try:
        return b'= ' + fmt(f())
    except OSError as e:
        return (b'! ' + type(e).__name__.encode() + b' ' + enc(str(e)) + b' | ' +
                (b'-' if e.filename is None else enc(os.fspath(e.filename))))
    except Exception as e:
        return b'! ' + type(e).__name__.encode() + b' ' + enc(str(e))
def contents(path):
    if not os.path.isfile(path): return None
    with open(path, 'rb') as g: return g.read()
def peek(): return contents('f') or b''
def first_line(f): return next(iter(f))
def prepare(path, setup, data):
    if setup == 'keep': return
    if os.path.isdir(path): os.rmdir(path)
    elif os.path.lexists(path): os.remove(path)
    if setup == 'file':
        with open(path, 'wb') as g: g.write(data)
    elif setup == 'directory': os.mkdir(path)
def run(path, setup, data, opener, steps):
    prepare(path, setup, data)
    out = []
    files = []
    out.append(outcome(lambda: files.append(opener())))
    if files:
        f = files[0]
        for step in steps: out.append(outcome(lambda: step(f)))
        out.append(outcome(f.close))
    out.append(outcome(lambda: contents(path)))
    return out
)PY";

std::string py_str(std::string_view text) { return "S('" + to_hex(text) + "')"; }

std::string py_opt(const std::optional<std::string>& text) { return text ? py_str(*text) : "None"; }

std::string_view setup_name(Start setup) {
  switch (setup) {
    case Start::file:
      return "file";
    case Start::absent:
      return "absent";
    case Start::directory:
      return "directory";
    case Start::keep:
      return "keep";
  }
  return "keep";
}

void prepare(const Scenario& s) {
  if (s.setup == Start::keep) return;
  struct stat st {};
  if (s.path.find('\0') == std::string::npos && ::lstat(s.path.c_str(), &st) == 0) {
    check(::remove(s.path.c_str()) == 0, "remove", s.path);
  }
  if (s.setup == Start::file) write_file(s.path, s.data);
  if (s.setup == Start::directory) check(::mkdir(s.path.c_str(), 0755) == 0, "mkdir", s.path);
}

/// The outcomes of one scenario in batteries, as the prelude's run() gives them in Python.
std::vector<std::string> run_cpp(const Scenario& s) {
  prepare(s);
  std::vector<std::string> out;
  std::optional<File> file;
  out.push_back(outcome([&] { file.emplace(Path(s.path).open(s.mode, s.options)); }));
  if (file) {
    for (const Step& step : s.steps) out.push_back(step.cpp(*file));
    out.push_back(outcome([&] { file->close(); }));
  }
  out.push_back(outcome([&] { return file_contents(s.path); }));
  return out;
}

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = make_temp_dir("batteries-file");
    char* cwd = ::getcwd(nullptr, 0);
    ASSERT_NE(cwd, nullptr);
    m_cwd = cwd;
    std::free(cwd);
    ASSERT_EQ(::chdir(m_root.c_str()), 0) << std::strerror(errno);
  }

  void TearDown() override {
    if (!m_cwd.empty()) {
      [[maybe_unused]] const int rc = ::chdir(m_cwd.c_str());
    }
    if (!m_root.empty()) remove_tree(m_root);
  }

  /// Runs every scenario in CPython, then in batteries, and compares them call by call.
  static void compare_with_python(const std::vector<Scenario>& scenarios) {
    std::string script(k_prelude);
    script += "scenarios = [\n";
    for (const Scenario& s : scenarios) {
      script += "  (" + py_str(s.path) + ", '" + std::string(setup_name(s.setup)) +
                "', bytes.fromhex('" + to_hex(s.data) + "'), lambda: open(" + py_str(s.path) +
                ", " + py_str(s.mode) + ", " + std::to_string(s.options.buffering) +
                ", encoding=" + py_opt(s.options.encoding) +
                ", errors=" + py_opt(s.options.errors) + ", newline=" + py_opt(s.options.newline) +
                "), [\n";
      for (const Step& step : s.steps) script += "    lambda f: " + step.python + ",\n";
      script += "  ]),\n";
    }
    script +=
        "]\nprint(*sys.version_info[:2])\nfor s in scenarios:\n"
        "    for line in run(*s): print(line.hex())\n    print('--')\n";
    ASSERT_LT(script.size(), 120'000u) << "too long for one argument";

    std::optional<std::string> output;
    {
      const ScopedEnv utf8("PYTHONUTF8", "1");  // UTF-8 whatever the locale, as batteries
      const ScopedEnv quiet("PYTHONWARNINGS", "ignore");
      output = testing::run_python(script);
    }
    if (!output) GTEST_SKIP() << "no Python interpreter";
    std::vector<std::vector<std::string>> expected(1);
    std::string_view rest(*output);
    const std::size_t first = rest.find('\n');
    ASSERT_NE(first, std::string_view::npos) << *output;
    if (rest.substr(0, first) != "3 11") {
      GTEST_SKIP() << "the oracle is CPython 3.11, found " << rest.substr(0, first);
    }
    rest.remove_prefix(first + 1);
    while (!rest.empty()) {
      const std::size_t cut = rest.find('\n');
      const std::string_view line = rest.substr(0, cut);
      rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
      if (line == "--") {
        expected.emplace_back();
        continue;
      }
      const std::optional<std::string> decoded = from_hex(line);
      ASSERT_TRUE(decoded.has_value()) << line;
      expected.back().push_back(*decoded);
    }
    expected.pop_back();
    ASSERT_EQ(expected.size(), scenarios.size()) << *output;

    for (std::size_t i = 0; i < scenarios.size(); ++i) {
      const Scenario& s = scenarios[i];
      const std::vector<std::string> actual = run_cpp(s);
      const std::string where = "scenario " + std::to_string(i) + " (mode " + printable(s.mode) +
                                ", buffering " + std::to_string(s.options.buffering) + ")";
      ASSERT_EQ(expected[i].size(), actual.size())
          << where << ": " << printable(expected[i][0]) << " / " << printable(actual[0]);
      if (expected[i] != actual) {
        std::string listing = "open(" + printable(s.path) + ", " + printable(s.mode) + ", " +
                              std::to_string(s.options.buffering) +
                              ", encoding=" + printable(show(s.options.encoding)) +
                              ", errors=" + printable(show(s.options.errors)) +
                              ", newline=" + printable(show(s.options.newline)) + ") on " +
                              printable(s.data) + ":";
        for (const Step& step : s.steps) listing += "\n    " + step.python;
        ADD_FAILURE() << where << " differs; its calls:\n    " << listing;
      }
      for (std::size_t k = 0; k < actual.size(); ++k) {
        const std::string call = k == 0                    ? std::string("open()")
                                 : k - 1 < s.steps.size()  ? s.steps[k - 1].python
                                 : k - 1 == s.steps.size() ? std::string("close()")
                                                           : std::string("contents");
        EXPECT_EQ(printable(expected[i][k]), printable(actual[k]))
            << where << ", call " << k << ": " << call
            << "\n  (expected: Python; actual: batteries)";
      }
    }
  }

  std::string m_root;
  std::string m_cwd;
};

// ---- against CPython: opening ----

TEST_F(FileTest, OpenArgumentsAndErrorsMatchPython) {
  const std::vector<Step> describe = {STEP("f.mode", f.mode()),    STEP("f.name", f.name()),
                                      SAME(f.readable()),          SAME(f.writable()),
                                      SAME(f.seekable()),          SAME(f.isatty()),
                                      STEP("f.closed", f.closed())};
  std::vector<Scenario> scenarios;
  for (const char* mode : {"r",  "rt",  "tr",  "rb", "br",  "w",  "wb",  "a", "ab", "at", "r+",
                           "+r", "rb+", "r+b", "w+", "w+b", "a+", "ab+", "x", "xb", "x+", "xb+"}) {
    const bool creating = mode[0] == 'x' || mode[1] == 'x';
    scenarios.push_back(
        {.mode = mode, .setup = creating ? Start::absent : Start::file, .steps = describe});
  }
  for (const char* mode : {"rz", "rr", "", "+", "b", "t", "bt", "rw", "wa", "rbt", "U", "rU", "r++",
                           "xw", "wb+b", " r", "r\n"}) {
    scenarios.push_back({.mode = mode});
  }
  const auto with = [](std::string mode, OpenOptions options, Start setup = Start::file) {
    return Scenario{.mode = std::move(mode), .options = std::move(options), .setup = setup};
  };
  scenarios.push_back(with("rb", {.encoding = "utf-8"}));
  scenarios.push_back(with("rb", {.errors = "strict"}));
  scenarios.push_back(with("rb", {.newline = ""}));
  scenarios.push_back(with("rb", {.encoding = "x", .errors = "y", .newline = "z"}));
  scenarios.push_back(with("rz", {.encoding = "utf-8"}));
  scenarios.push_back(with("rbt", {.encoding = "utf-8"}));
  scenarios.push_back(with("rwb", {.encoding = "utf-8"}));
  // Checked after the file is opened, so the file is created (or emptied) even so.
  scenarios.push_back(with("w", {.buffering = 0}));
  scenarios.push_back(with("w", {.buffering = 0}, Start::absent));
  scenarios.push_back(with("w", {.newline = "x"}, Start::absent));
  scenarios.push_back(with("w", {.newline = "\r\r"}));
  scenarios.push_back(with("w", {.encoding = "no-such-codec"}, Start::absent));
  scenarios.push_back(with("w", {.buffering = 0, .newline = "x"}, Start::absent));
  scenarios.push_back(with("w", {.encoding = "bogus", .newline = "x"}, Start::absent));
  // Embedded NULs are refused before anything happens.
  scenarios.push_back(with("w", {.newline = std::string("a\0", 2)}, Start::absent));
  scenarios.push_back(with("w", {.encoding = std::string("utf-8\0", 6)}, Start::absent));
  scenarios.push_back(with("w", {.errors = std::string("strict\0", 7)}, Start::absent));
  scenarios.push_back(with("rz", {.newline = std::string("\0", 1)}));
  scenarios.push_back(with("rb", {.buffering = -5}));
  scenarios.push_back(with("rb", {.buffering = 1}));
  scenarios.push_back(with("r", {.buffering = 1}));
  scenarios.push_back(with("r", {.buffering = 3}));
  scenarios.push_back(with("r", {}, Start::absent));
  scenarios.push_back(with("rb", {.buffering = 0}, Start::absent));
  scenarios.push_back(with("r+", {}, Start::absent));
  scenarios.push_back(with("r", {}, Start::directory));
  scenarios.push_back(with("rb", {.buffering = 0}, Start::directory));
  scenarios.push_back(with("w", {}, Start::directory));
  scenarios.push_back(with("a", {}, Start::directory));
  scenarios.push_back(with("x", {}));
  scenarios.push_back(with("xb", {}, Start::directory));
  scenarios.push_back(Scenario{.mode = "r", .setup = Start::keep, .path = std::string("a\0b", 3)});
  scenarios.push_back(Scenario{.mode = "rz", .setup = Start::keep, .path = std::string("a\0b", 3)});
  scenarios.push_back(Scenario{.mode = "", .setup = Start::keep, .path = std::string("a\0b", 3)});
  scenarios.push_back(Scenario{.mode = "r", .setup = Start::keep, .path = "no/such/dir"});
  scenarios.push_back(Scenario{.mode = "r", .setup = Start::keep, .path = "f/x"});
  scenarios.push_back(Scenario{.mode = "w", .setup = Start::keep, .path = "caf\xe9"});
  scenarios.push_back(Scenario{.mode = "rb", .setup = Start::keep, .path = "caf\xe9"});
  compare_with_python(scenarios);
}

// ---- against CPython: binary files ----

TEST_F(FileTest, BufferedReadingMatchesPython) {
  const std::string lines = "hello\nworld\nlast";
  std::vector<Scenario> scenarios;
  for (const int buffering : {-1, 1, 3, 7, 4096}) {
    scenarios.push_back(Scenario{.mode = "rb",
                                 .options = {.buffering = buffering},
                                 .data = lines,
                                 .steps = {SAME(f.read(2)),     SAME(f.read(0)),
                                           SAME(f.readline()),  SAME(f.readline(3)),
                                           SAME(f.tell()),      SAME(f.readlines()),
                                           SAME(f.read()),      SAME(f.read(5)),
                                           SAME(f.seek(0)),     SAME(f.read(100)),
                                           SAME(f.seek(-3, 2)), SAME(f.read()),
                                           SAME(f.seek(-4, 1)), SAME(f.read(2)),
                                           SAME(f.seek(2, 0)),  SAME(f.readlines(3)),
                                           SAME(f.seek(0)),     SAME(f.readlines(6)),
                                           SAME(f.seek(0)),     SAME(f.readlines(5)),
                                           SAME(f.tell()),      SAME(f.seek(3)),
                                           SAME(f.read(1)),     SAME(f.seek(0, 5)),
                                           SAME(f.seek(-1)),    SAME(f.tell()),
                                           SAME(f.read(3)),     SAME(f.seek(1, 1)),
                                           SAME(f.read(2)),     SAME(f.seek(-2, 1)),
                                           SAME(f.readline(0)), SAME(f.readline(-7)),
                                           SAME(f.seek(100)),   SAME(f.read()),
                                           SAME(f.tell()),      SAME(f.readline()),
                                           SAME(f.seek(0, 3)),  SAME(f.read(-2)),
                                           SAME(f.read(-1)),    STEP("f.write(b'x')", f.write("x")),
                                           SAME(f.truncate()),  SAME(f.truncate(1)),
                                           SAME(f.flush()),     SAME(f.fileno() > 2)}});
  }
  // A file longer than the buffer, read in pieces that straddle its edges.
  std::string big;
  for (int i = 0; i < 700; ++i) big += "line " + std::to_string(i * 37) + "\n";
  for (const int buffering : {-1, 5, 100}) {
    scenarios.push_back(Scenario{
        .mode = "rb",
        .options = {.buffering = buffering},
        .data = big,
        .steps = {SAME(f.read(3)), SAME(f.readline()), SAME(f.read(4100)), SAME(f.tell()),
                  SAME(f.readline(4)), SAME(f.seek(5)), SAME(f.read(12)), SAME(f.seek(-3, 1)),
                  SAME(f.read(3)), SAME(f.seek(8000)), SAME(f.readline()), SAME(f.read(9000)),
                  SAME(f.tell()), SAME(f.seek(-10, 2)), SAME(f.readlines())}});
  }
  compare_with_python(scenarios);
}

TEST_F(FileTest, UnbufferedFilesMatchPython) {
  compare_with_python({
      {.mode = "rb",
       .options = {.buffering = 0},
       .data = "hello\nworld\nlast",
       .steps = {SAME(f.seekable()), SAME(f.read(2)), SAME(f.readline()), SAME(f.readline(2)),
                 SAME(f.tell()), SAME(f.readlines()), SAME(f.read()), SAME(f.seek(1)),
                 SAME(f.read(-5)), SAME(f.seek(0, 5)), SAME(f.seek(-1)), SAME(f.tell()),
                 SAME(f.seek(0)), SAME(f.readlines(7)), SAME(f.tell()),
                 STEP("f.write(b'x')", f.write("x")), SAME(f.truncate()), SAME(f.flush()),
                 STEP("f.mode", f.mode())}},
      {.mode = "wb",
       .options = {.buffering = 0},
       .steps = {STEP("f.write(b'abc')", f.write("abc")), STEP("peek()", peek()), SAME(f.tell()),
                 SAME(f.read()), SAME(f.readline()), SAME(f.readlines()), SAME(f.truncate(1)),
                 SAME(f.tell()), STEP("f.write(b'Z')", f.write("Z")), SAME(f.seek(0, 2)),
                 SAME(f.readable()), SAME(f.writable()), STEP("f.mode", f.mode())}},
      {.mode = "r+b",
       .options = {.buffering = 0},
       .steps = {SAME(f.read(3)), STEP("f.write(b'XY')", f.write("XY")), SAME(f.tell()),
                 SAME(f.seek(0)), SAME(f.read()), SAME(f.truncate(4)), SAME(f.seek(0)),
                 SAME(f.read()), STEP("f.mode", f.mode())}},
      {.mode = "ab",
       .options = {.buffering = 0},
       .steps = {SAME(f.tell()), STEP("f.write(b'!')", f.write("!")), SAME(f.tell()),
                 SAME(f.seek(0)), STEP("f.write(b'?')", f.write("?")), SAME(f.tell()),
                 STEP("f.mode", f.mode())}},
  });
}

TEST_F(FileTest, BufferedWritingMatchesPython) {
  const std::string block(5000, 'b');
  compare_with_python({
      {.mode = "wb",
       .steps = {STEP("f.write(b'abc')", f.write("abc")), SAME(f.tell()), STEP("peek()", peek()),
                 SAME(f.flush()), STEP("peek()", peek()), SAME(f.read()), SAME(f.readline()),
                 SAME(f.readlines()), SAME(f.read(-2)), SAME(f.seek(1)),
                 STEP("f.write(b'XY')", f.write("XY")), SAME(f.tell()), SAME(f.seek(0, 2)),
                 SAME(f.truncate(2)), SAME(f.tell()), STEP("f.write(b'!')", f.write("!")),
                 SAME(f.seek(0, 5))}},
      // Larger than the buffer: written through at once.
      {.mode = "wb",
       .steps = {STEP("f.write(b'a')", f.write("a")),
                 STEP("f.write(b'b' * 5000)", f.write(std::string(5000, 'b'))),
                 STEP("len(peek())", peek().size()), STEP("f.write(b'c')", f.write("c")),
                 STEP("len(peek())", peek().size())}},
      {.mode = "wb",
       .options = {.buffering = 4},
       .steps = {STEP("f.write(b'ab')", f.write("ab")), STEP("peek()", peek()),
                 STEP("f.write(b'cde')", f.write("cde")), STEP("peek()", peek()),
                 STEP("f.write(b'fghijkl')", f.write("fghijkl")), STEP("peek()", peek()),
                 SAME(f.tell())}},
      {.mode = "r+b",
       .steps = {SAME(f.read(3)), STEP("f.write(b'XY')", f.write("XY")), SAME(f.tell()),
                 SAME(f.read(2)), SAME(f.seek(0)), SAME(f.read()), SAME(f.seek(2)),
                 STEP("f.write(b'--')", f.write("--")), SAME(f.seek(0)), SAME(f.read(4)),
                 SAME(f.truncate()), SAME(f.tell()), SAME(f.seek(0)), SAME(f.read()),
                 SAME(f.truncate(20)), SAME(f.read()), SAME(f.seek(0, 2)),
                 STEP("f.write(b'end')", f.write("end"))}},
      {.mode = "r+b",
       .options = {.buffering = 5},
       .data = "0123456789abcdefghij",
       .steps = {SAME(f.read(2)), STEP("f.write(b'ABCDEFGHIJ')", f.write("ABCDEFGHIJ")),
                 SAME(f.tell()), SAME(f.read(3)), STEP("f.write(b'z')", f.write("z")),
                 SAME(f.readline()), SAME(f.seek(0)), SAME(f.read(1)),
                 STEP("f.write(b'yy')", f.write("yy")), SAME(f.seek(0)), SAME(f.read())}},
      {.mode = "w+b",
       .steps = {STEP("f.mode", f.mode()), STEP("f.write(b'one\\ntwo')", f.write("one\ntwo")),
                 SAME(f.seek(0)), SAME(f.readlines()), SAME(f.tell())}},
      {.mode = "ab",
       .data = "hello",
       .steps = {SAME(f.tell()), STEP("f.write(b'xyz')", f.write("xyz")), SAME(f.tell()),
                 SAME(f.flush()), SAME(f.tell()), SAME(f.seek(0)), SAME(f.tell()),
                 STEP("f.write(b'Q')", f.write("Q")), SAME(f.flush()), SAME(f.seek(0, 1)),
                 SAME(f.truncate(3)), SAME(f.tell())}},
      {.mode = "a+b",
       .data = "hello",
       .steps = {SAME(f.read()), SAME(f.seek(0)), SAME(f.read(2)),
                 STEP("f.write(b'Z')", f.write("Z")), SAME(f.read()), SAME(f.seek(0)),
                 SAME(f.read())}},
      {.mode = "xb",
       .setup = Start::absent,
       .steps = {STEP("f.write(b'new')", f.write("new")), SAME(f.read())}},
      {.mode = "xb+",
       .setup = Start::absent,
       .steps = {STEP("f.write(b'new')", f.write("new")), SAME(f.seek(0)), SAME(f.read())}},
      {.mode = "wb",
       .setup = Start::keep,
       .path = "/dev/full",
       .steps = {STEP("f.write(b'x')", f.write("x")), SAME(f.flush()), SAME(f.close()),
                 STEP("f.closed", f.closed())}},
      {.mode = "wb",
       .options = {.buffering = 0},
       .setup = Start::keep,
       .path = "/dev/full",
       .steps = {STEP("f.write(b'x')", f.write("x"))}},
  });
  (void)block;
}

// ---- against CPython: closed files, and calls the file cannot do ----

std::vector<Step> after_close(bool binary) {
  std::vector<Step> steps = {SAME(f.close()),
                             SAME(f.read()),
                             SAME(f.read(2)),
                             SAME(f.readline()),
                             SAME(f.readlines()),
                             SAME(f.truncate()),
                             SAME(f.seek(0)),
                             SAME(f.tell()),
                             SAME(f.fileno()),
                             SAME(f.readable()),
                             SAME(f.writable()),
                             SAME(f.seekable()),
                             SAME(f.isatty()),
                             SAME(f.flush()),
                             STEP("f.closed", f.closed()),
                             STEP("f.name", f.name()),
                             STEP("f.mode", f.mode()),
                             SAME(f.close()),
                             SAME(first_line(f)),
                             STEP("f.writelines([])", f.writelines(std::vector<std::string>{}))};
  if (binary) {
    steps.push_back(STEP("f.write(b'x')", f.write("x")));
  } else {
    steps.push_back(SAME(f.write("x")));
  }
  return steps;
}

TEST_F(FileTest, ClosedFilesMatchPython) {
  std::vector<Scenario> scenarios;
  for (const char* mode : {"rb", "wb", "ab", "r+b"}) {
    scenarios.push_back({.mode = mode, .steps = after_close(true)});
    scenarios.push_back({.mode = mode, .options = {.buffering = 0}, .steps = after_close(true)});
  }
  for (const char* mode : {"r", "w", "a", "r+"}) {
    scenarios.push_back({.mode = mode, .steps = after_close(false)});
  }
  compare_with_python(scenarios);
}

TEST_F(FileTest, UnsupportedOperationsMatchPython) {
  const std::vector<Step> text_calls = {SAME(f.read()),
                                        SAME(f.read(1)),
                                        SAME(f.readline()),
                                        SAME(f.readlines()),
                                        SAME(f.write("x")),
                                        SAME(f.truncate()),
                                        SAME(f.truncate(1)),
                                        SAME(first_line(f)),
                                        STEP("f.writelines(['a', 'b'])", f.writelines({"a", "b"}))};
  const std::vector<Step> binary_calls = {
      SAME(f.read()),
      SAME(f.read(1)),
      SAME(f.readline()),
      SAME(f.readlines()),
      STEP("f.write(b'x')", f.write("x")),
      SAME(f.truncate()),
      SAME(f.truncate(1)),
      SAME(first_line(f)),
      STEP("f.writelines([b'a', b'b'])", f.writelines({"a", "b"}))};
  std::vector<Scenario> scenarios;
  for (const char* mode : {"r", "w", "a"}) scenarios.push_back({.mode = mode, .steps = text_calls});
  for (const char* mode : {"rb", "wb", "ab"}) {
    scenarios.push_back({.mode = mode, .steps = binary_calls});
    scenarios.push_back({.mode = mode, .options = {.buffering = 0}, .steps = binary_calls});
  }
  compare_with_python(scenarios);
}

// ---- against CPython: text files ----

TEST_F(FileTest, NewlinesOnReadingMatchPython) {
  const std::string mixed = "a\rb\r\nc\nd\r";
  const std::vector<Step> readlines = {SAME(f.readlines())};
  const std::vector<Step> pieces = {SAME(f.readline(3)), SAME(f.readline(3)), SAME(f.readline(3)),
                                    SAME(f.readline(3)), SAME(f.readline(3)), SAME(f.read(1))};
  std::vector<Scenario> scenarios;
  for (const std::optional<std::string>& newline :
       std::vector<std::optional<std::string>>{std::nullopt, "", "\n", "\r", "\r\n"}) {
    for (const std::string& data : {mixed, std::string("\r\n\r\n\n\r\r"), std::string("x\r")}) {
      scenarios.push_back({.options = {.newline = newline}, .data = data, .steps = readlines});
      scenarios.push_back({.options = {.newline = newline}, .data = data, .steps = pieces});
      scenarios.push_back({.options = {.newline = newline},
                           .data = data,
                           .steps = {SAME(f.read(2)), SAME(f.read(1)), SAME(f.read())}});
    }
  }
  // "\r\n" split across the text layer's 8192-byte chunks.
  write_file("edge", std::string(8191, 'x') + "\r\n" + std::string(10, 'y') + "\r" +
                         std::string(8180, 'z') + "\r");
  for (const std::optional<std::string>& newline :
       std::vector<std::optional<std::string>>{std::nullopt, "", "\r\n", "\r"}) {
    scenarios.push_back({.options = {.newline = newline},
                         .setup = Start::keep,
                         .path = "edge",
                         .steps = {STEP("[len(x) for x in f.readlines()]", [&] {
                           std::vector<std::string> sizes;
                           for (const std::string& line : f.readlines()) {
                             sizes.push_back(std::to_string(line.size()));
                           }
                           return sizes;
                         }())}});
  }
  compare_with_python(scenarios);
}

TEST_F(FileTest, TextReadingCountsCharactersAndMatchesPython) {
  const std::string utf8 =
      "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
      "b\nxyz\n";  // aé€😀b
  compare_with_python({
      {.data = utf8, .steps = {SAME(f.read(2)),    SAME(f.tell()),      SAME(f.read(2)),
                               SAME(f.tell()),     SAME(f.readline(1)), SAME(f.tell()),
                               SAME(f.readline()), SAME(f.tell()),      SAME(f.read(1)),
                               SAME(f.tell()),     SAME(f.seek(0)),     SAME(f.read(3)),
                               SAME(f.seek(0, 2)), SAME(f.read()),      SAME(f.tell()),
                               SAME(f.seek(0, 1)), SAME(f.seek(3)),     SAME(f.readline()),
                               SAME(f.seek(0)),    SAME(f.readlines(2))}},
      {.data = "line1\nline2\r\nline3\n",
       .steps = {SAME(f.readline()), SAME(f.tell()), SAME(f.readline()), SAME(f.tell()),
                 SAME(f.seek(6)), SAME(f.readline()), SAME(f.read()), SAME(f.tell()),
                 SAME(f.read()), SAME(f.readline())}},
      {.data = "ab\xff"
               "cd\n",
       .steps = {SAME(f.read()), SAME(f.read()), SAME(f.seek(0)), SAME(f.readline()),
                 SAME(f.readline()), SAME(f.seek(0)), SAME(f.read(2)), SAME(f.read(1))}},
      {.options = {.errors = "surrogateescape"},
       .data = "ab\xff"
               "cd\xc3\n",
       .steps = {SAME(f.read(3)), SAME(f.tell()), SAME(f.readline()), SAME(f.tell()),
                 SAME(f.read())}},
      {.options = {.errors = "replace"},
       .data = "ab\xff"
               "cd\xe2\x82\n\xf0\x9f",
       .steps = {SAME(f.read(3)), SAME(f.read())}},
      {.options = {.errors = "ignore"},
       .data = "\xff"
               "a\xfe",
       .steps = {SAME(f.read())}},
      {.options = {.errors = "backslashreplace"}, .data = "a\xff", .steps = {SAME(f.read())}},
      {.data = "ab\xe2\x82", .steps = {SAME(f.read(2)), SAME(f.read(1))}},
      {.data = "ab\xe2\x82", .steps = {SAME(f.read())}},
      {.options = {.encoding = "latin-1"},
       .data = "caf\xe9\r\n\xff"
               "x",
       .steps = {SAME(f.read(4)), SAME(f.tell()), SAME(f.readline()), SAME(f.tell()),
                 SAME(f.read()), STEP("f.encoding", f.encoding()), STEP("f.errors", f.errors())}},
      {.options = {.encoding = "ascii"},
       .data = "abc\xe9",
       .steps = {SAME(f.read(2)), SAME(f.read())}},
      {.options = {.encoding = "US-ASCII", .errors = "surrogateescape"},
       .data = "abc\xe9\n",
       .steps = {SAME(f.read(4)), SAME(f.tell()), SAME(f.read())}},
      {.options = {.encoding = "utf-16"},
       .data = std::string("\xff\xfe"
                           "a\0b\0\n\0c\0",
                           10),
       .steps = {SAME(f.read(1)), SAME(f.read()), SAME(f.seek(0)), SAME(f.readline()),
                 SAME(f.readlines()), SAME(f.tell())}},
      {.options = {.encoding = "utf-16-be"},
       .data = std::string("\0a\0\r\0\n\0c", 8),
       .steps = {SAME(f.readlines())}},
      {.options = {.encoding = "utf-8-sig"},
       .data = "\xef\xbb\xbf"
               "abc\ndef",
       .steps = {SAME(f.tell()), SAME(f.read(1)), SAME(f.tell()), SAME(f.readline()),
                 SAME(f.tell()), SAME(f.seek(0)), SAME(f.read()), SAME(f.seek(1)), SAME(f.read())}},
      {.options = {.encoding = "utf_8_sig"}, .data = "no BOM", .steps = {SAME(f.read())}},
      {.options = {.encoding = "utf-8-sig"}, .data = "\xef\xbb", .steps = {SAME(f.read())}},
      {.options = {.encoding = "cp1252"},
       .data = "\x80"
               "abc\r\n",
       .steps = {SAME(f.read(1)), SAME(f.read())}},
      {.options = {.encoding = "UTF8"},
       .data = "x\xc3\xa9",
       .steps = {SAME(f.read()), STEP("f.encoding", f.encoding())}},
  });
}

TEST_F(FileTest, TextWritingMatchesPython) {
  compare_with_python({
      {.mode = "w",
       .steps = {SAME(f.write("a\nb")), SAME(f.tell()), STEP("peek()", peek()), SAME(f.flush()),
                 STEP("peek()", peek()), SAME(f.write("\u00e9\u20ac")), SAME(f.tell()),
                 STEP("f.writelines(['x\\n', 'y'])", f.writelines({"x\n", "y"})),
                 STEP("f.line_buffering", f.line_buffering())}},
      {.mode = "w",
       .options = {.newline = "\r\n"},
       .steps = {SAME(f.write("a\nb\r\n")), SAME(f.tell()), SAME(f.write("\n"))}},
      {.mode = "w", .options = {.newline = "\r"}, .steps = {SAME(f.write("a\nb\r\n"))}},
      {.mode = "w", .options = {.newline = ""}, .steps = {SAME(f.write("a\nb\r\n"))}},
      {.mode = "w", .options = {.newline = "\n"}, .steps = {SAME(f.write("a\nb\r\n"))}},
      {.mode = "w",
       .options = {.buffering = 1},
       .steps = {SAME(f.write("abc")), STEP("peek()", peek()), SAME(f.write("d\ne")),
                 STEP("peek()", peek()), SAME(f.write("f\r")), STEP("peek()", peek()),
                 STEP("f.line_buffering", f.line_buffering())}},
      // The text layer keeps up to 8192 encoded bytes before the buffer sees them.
      {.mode = "w",
       .steps = {STEP("f.write('x' * 5000)", f.write(std::string(5000, 'x'))),
                 STEP("len(peek())", peek().size()),
                 STEP("f.write('y' * 4000)", f.write(std::string(4000, 'y'))),
                 STEP("len(peek())", peek().size()),
                 STEP("f.write('z' * 9000)", f.write(std::string(9000, 'z'))),
                 STEP("len(peek())", peek().size()), SAME(f.tell())}},
      {.mode = "w",
       .options = {.encoding = "ascii"},
       .steps = {SAME(f.write("ab\u00e9")), SAME(f.tell()), SAME(f.write("ok"))}},
      {.mode = "w", .steps = {STEP("f.write('a\\udcff')", f.write("a\xff")), SAME(f.tell())}},
      {.mode = "w",
       .options = {.errors = "surrogateescape"},
       .steps = {STEP("f.write('a\\udcff')", f.write("a\xff"))}},
      {.mode = "w",
       .options = {.encoding = "ascii", .errors = "xmlcharrefreplace"},
       .steps = {SAME(f.write("caf\u00e9"))}},
      {.mode = "w",
       .options = {.encoding = "latin-1", .errors = "replace"},
       .steps = {SAME(f.write("\u00e9\u20ac"))}},
      {.mode = "w",
       .options = {.encoding = "utf-16"},
       .steps = {SAME(f.write("ab")), SAME(f.write("c")), SAME(f.tell())}},
      {.mode = "w", .options = {.encoding = "utf-16"}, .steps = {SAME(f.write(""))}},
      {.mode = "a",
       .options = {.encoding = "utf-16"},
       .data = std::string("\xff\xfe"
                           "a\0",
                           4),
       .steps = {SAME(f.write("d"))}},
      {.mode = "a", .options = {.encoding = "utf-16"}, .data = "", .steps = {SAME(f.write("d"))}},
      {.mode = "r+",
       .options = {.encoding = "utf-16"},
       .data = std::string("\xff\xfe"
                           "a\0b\0",
                           6),
       .steps = {SAME(f.seek(0, 2)), SAME(f.write("e")), SAME(f.seek(0)), SAME(f.write("Z"))}},
      {.mode = "w",
       .options = {.encoding = "utf-32"},
       .steps = {SAME(f.write("a")), SAME(f.write("b"))}},
      {.mode = "w",
       .options = {.encoding = "utf-8-sig"},
       .steps = {SAME(f.write("ab")), SAME(f.write("c")), SAME(f.seek(0)), SAME(f.write("d"))}},
      {.mode = "a",
       .options = {.encoding = "utf-8-sig"},
       .data = "\xef\xbb\xbf"
               "x",
       .steps = {SAME(f.write("y"))}},
      {.mode = "w",
       .options = {.encoding = "cp1252"},
       .steps = {SAME(f.write("\u20ac1")), SAME(f.write("\u0100"))}},
  });
}

TEST_F(FileTest, TextUpdatingAndSeekingMatchPython) {
  compare_with_python({
      // A write after a read lands after the decoder's read-ahead, as in Python.
      {.mode = "r+",
       .steps = {SAME(f.read(1)), SAME(f.write("X")), SAME(f.tell()), SAME(f.seek(0)),
                 SAME(f.read())}},
      {.mode = "r+",
       .steps = {SAME(f.readline()), SAME(f.tell()), SAME(f.truncate()), SAME(f.seek(0)),
                 SAME(f.read()), SAME(f.truncate(3)), SAME(f.tell()), SAME(f.read())}},
      {.mode = "r+",
       .steps = {SAME(f.seek(3)), SAME(f.write("XY")), SAME(f.seek(0)), SAME(f.read()),
                 SAME(f.seek(0, 2)), SAME(f.write("!\n")), SAME(f.seek(0)), SAME(f.readlines())}},
      {.mode = "w+",
       .steps = {SAME(f.write("abc\r\n")), SAME(f.seek(0)), SAME(f.read()), SAME(f.tell()),
                 SAME(f.seek(0)), SAME(f.read(3)), SAME(f.write("!"))}},
      {.mode = "a+",
       .data = "hello",
       .steps = {SAME(f.read()), SAME(f.tell()), SAME(f.seek(0)), SAME(f.read()),
                 SAME(f.write("!")), SAME(f.seek(0)), SAME(f.read())}},
      {.steps = {SAME(f.seek(1, 1)), SAME(f.seek(1, 2)), SAME(f.seek(-100, 2)), SAME(f.seek(-1)),
                 SAME(f.seek(0, 3)), SAME(f.seek(0, 5)), SAME(f.seek(0, -1)), SAME(f.seek(0, 1)),
                 SAME(f.seek(0, 2)), SAME(f.tell()), SAME(f.seek(100)), SAME(f.read()),
                 SAME(f.tell())}},
      // Iteration switches tell() off until the end, or flush() or seek().
      // (Not tell() straight after flush(): see TellAfterIterationIsTheTruePosition.)
      {.steps = {SAME(first_line(f)), SAME(f.tell()),  SAME(f.seek(0, 1)),   SAME(f.flush()),
                 SAME(f.seek(0)),     SAME(f.tell()),  SAME(first_line(f)),  SAME(f.readline()),
                 SAME(f.tell()),      SAME(f.seek(0)), SAME(f.tell()),       SAME(f.readlines()),
                 SAME(f.tell()),      SAME(f.seek(0)), SAME(f.readlines(2)), SAME(f.tell()),
                 SAME(f.seek(0, 2)),  SAME(f.tell()),  SAME(first_line(f)),  SAME(f.tell())}},
  });
}

TEST_F(FileTest, LongTextFilesMatchPython) {
  // Multi-byte characters and "\r\n" at every offset around the 8192-byte chunks.
  std::string text;
  for (int i = 0; text.size() < 40'000; ++i) {
    text += std::string(static_cast<std::size_t>(i % 53), 'a' + static_cast<char>(i % 26));
    text += i % 3 == 0 ? "\xc3\xa9" : i % 3 == 1 ? "\xe2\x82\xac" : "\xf0\x9f\x98\x80";
    text += i % 4 == 0 ? "\r\n" : "\n";
  }
  write_file("big", text);
  write_file("big1", std::string(8191, 'x') + "\xc3\xa9" + std::string(5, 'y') + "\n" +
                         std::string(8190, 'x') + "\xf0\x9f\x98\x80\n");
  std::vector<Step> steps;
  for (int i = 0; i < 30; ++i) {
    steps.push_back(SAME(f.readline()));
    steps.push_back(SAME(f.tell()));
  }
  steps.push_back(SAME(f.read(5000)));
  steps.push_back(SAME(f.tell()));
  steps.push_back(SAME(f.read(7)));
  steps.push_back(SAME(f.tell()));
  steps.push_back(SAME(f.seek(10000)));
  steps.push_back(SAME(f.readline()));
  steps.push_back(SAME(f.readline(30)));
  steps.push_back(SAME(f.tell()));
  steps.push_back(SAME(f.read(9000)));
  steps.push_back(SAME(f.tell()));
  steps.push_back(STEP("len(f.readlines())", f.readlines().size()));
  steps.push_back(SAME(f.tell()));
  steps.push_back(SAME(f.seek(0)));
  steps.push_back(STEP("len(f.read())", characters(f.read())));
  std::vector<Step> whole = {SAME(f.read(8191)), SAME(f.tell()), SAME(f.read(1)),    SAME(f.tell()),
                             SAME(f.readline()), SAME(f.tell()), SAME(f.read(8190)), SAME(f.tell()),
                             SAME(f.read(2)),    SAME(f.tell())};
  std::vector<Step> bytes = {SAME(f.read(8192)), SAME(f.read(1)), SAME(f.readline())};
  // read(n) sizes its chunks by the last chunk's bytes per character, which moves where the
  // decoder meets a bad byte, and so the position its error reports.
  std::string accents;
  for (int i = 0; i < 20'000; ++i) accents += "\xc3\xa9";
  write_file("big2", accents + "\xff" + "tail");
  std::vector<Step> ratio = {
      SAME(f.read(1)),     SAME(f.tell()),
      SAME(f.read(10000)), SAME(f.tell()),
      SAME(f.read(100)),   SAME(f.tell()),
      SAME(f.read(50)),    STEP("len(f.read(20000))", characters(f.read(20000))),
      SAME(f.read()),      SAME(f.read())};
  compare_with_python({
      {.setup = Start::keep, .path = "big", .steps = steps},
      {.options = {.newline = ""}, .setup = Start::keep, .path = "big", .steps = steps},
      {.options = {.encoding = "latin-1"}, .setup = Start::keep, .path = "big", .steps = steps},
      {.options = {.errors = "surrogateescape"},
       .setup = Start::keep,
       .path = "big1",
       .steps = whole},
      {.options = {.encoding = "utf-8-sig"}, .setup = Start::keep, .path = "big1", .steps = whole},
      {.mode = "rb", .setup = Start::keep, .path = "big1", .steps = bytes},
      {.setup = Start::keep, .path = "big2", .steps = ratio},
  });
}

// Random sequences of calls on every mode, buffer size and newline setting: the interplay of
// reads, writes, seeks and truncation through the shared buffer, the text layer's read-ahead
// and its pending writes. Text stays ASCII without '\r', where Python's tell() cookie is the byte
// offset too.
TEST_F(FileTest, RandomCallSequencesMatchPython) {
  // FILE_TEST_SEED picks other sequences, to explore beyond the fixed ones.
  const char* seed = std::getenv("FILE_TEST_SEED");
  std::mt19937 random(seed != nullptr ? static_cast<unsigned>(std::atol(seed)) : 20240611u);
  const auto pick = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random);
  };
  const auto text_of = [&](int length, std::string_view alphabet) {
    std::string out;
    for (int i = 0; i < length; ++i) {
      out += alphabet[static_cast<std::size_t>(pick(0, static_cast<int>(alphabet.size()) - 1))];
    }
    return out;
  };
  const auto py_literal = [](std::string_view text, bool binary) {
    std::string out = binary ? "b'" : "'";
    for (const char c : text) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out + "'";
  };
  const auto step = [](std::string python, std::function<std::string(File&)> cpp) {
    return Step{std::move(python), std::move(cpp)};
  };
  std::vector<Scenario> scenarios;
  for (int n = 0; n < 80; ++n) {
    const bool binary = n % 2 == 0;
    static constexpr std::array<const char*, 7> k_modes = {"r", "r+", "w", "w+", "a", "a+", "x+"};
    std::string mode = k_modes[static_cast<std::size_t>(pick(0, 6))];
    OpenOptions options;
    static constexpr std::array<int, 5> k_buffering = {-1, 0, 1, 5, 16};
    options.buffering = k_buffering[static_cast<std::size_t>(pick(binary ? 0 : 2, 4))];
    if (options.buffering == 1 && !binary) options.buffering = -1;
    if (binary) {
      mode += 'b';
    } else {
      static constexpr std::array<const char*, 3> k_newlines = {"", "\n", "\r\n"};
      if (pick(0, 3) > 0) options.newline = k_newlines[static_cast<std::size_t>(pick(0, 2))];
      if (pick(0, 2) == 0) options.encoding = "latin-1";
    }
    const std::string data = text_of(pick(0, 40), "abc\nxyz");
    std::vector<Step> steps;
    for (int k = pick(5, 30); k > 0; --k) {
      switch (pick(0, 9)) {
        case 0:
        case 1: {
          const int size = std::array{-1, 0, 1, 3, 7, 20}[static_cast<std::size_t>(pick(0, 5))];
          steps.push_back(step("f.read(" + std::to_string(size) + ")",
                               [size](File& f) { return outcome([&] { return f.read(size); }); }));
          break;
        }
        case 2: {
          const int size = std::array{-1, 2, 5}[static_cast<std::size_t>(pick(0, 2))];
          steps.push_back(step("f.readline(" + std::to_string(size) + ")", [size](File& f) {
            return outcome([&] { return f.readline(size); });
          }));
          break;
        }
        case 3:
        case 4: {
          const std::string text = text_of(pick(0, 12), "pq\nrs");
          steps.push_back(step("f.write(" + py_literal(text, binary) + ")",
                               [text](File& f) { return outcome([&] { return f.write(text); }); }));
          break;
        }
        case 5: {
          int whence = pick(0, 2);
          int offset = whence == 0 ? pick(0, 50) : whence == 1 ? pick(-5, 5) : pick(-5, 0);
          if (!binary && whence != 0) offset = 0;
          steps.push_back(
              step("f.seek(" + std::to_string(offset) + ", " + std::to_string(whence) + ")",
                   [offset, whence](File& f) {
                     return outcome([&] { return f.seek(offset, whence); });
                   }));
          break;
        }
        case 6:
        case 7:
          steps.push_back(SAME(f.tell()));
          break;
        case 8:
          if (pick(0, 1) == 0) {
            steps.push_back(SAME(f.truncate()));
          } else {
            const int size = pick(0, 30);
            steps.push_back(step("f.truncate(" + std::to_string(size) + ")", [size](File& f) {
              return outcome([&] { return f.truncate(size); });
            }));
          }
          break;
        default:
          steps.push_back(pick(0, 1) == 0 ? SAME(f.flush()) : STEP("peek()", peek()));
          break;
      }
    }
    scenarios.push_back({.mode = mode,
                         .options = options,
                         .data = data,
                         .setup = mode[0] == 'x' ? Start::absent : Start::file,
                         .steps = steps});
  }
  compare_with_python(scenarios);
}

// Random text: multi-byte characters, every kind of line ending, bytes that are not UTF-8, and
// the encodings and error handlers that decode a chunk at a time or all at once, read and written
// in random pieces (tell() aside: Python's cookie differs where its decoder holds state).
TEST_F(FileTest, RandomTextReadingMatchesPython) {
  const char* seed = std::getenv("FILE_TEST_SEED");
  std::mt19937 random(seed != nullptr ? static_cast<unsigned>(std::atol(seed)) : 7u);
  const auto pick = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random);
  };
  static constexpr std::array<std::string_view, 12> k_pieces = {
      "a",    "bc",       "\n",  "\r", "\r\n", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\xff", "\xe2\x82", "xyz", "\t"};
  const auto step = [](std::string python, std::function<std::string(File&)> cpp) {
    return Step{std::move(python), std::move(cpp)};
  };
  std::vector<Scenario> scenarios;
  for (int n = 0; n < 60; ++n) {
    std::string data;
    for (int k = pick(0, 60); k > 0; --k) data += k_pieces[static_cast<std::size_t>(pick(0, 11))];
    OpenOptions options;
    options.buffering = std::array{-1, 3, 7, 16}[static_cast<std::size_t>(pick(0, 3))];
    static constexpr std::array<const char*, 4> k_newlines = {"", "\n", "\r", "\r\n"};
    if (pick(0, 2) > 0) options.newline = k_newlines[static_cast<std::size_t>(pick(0, 3))];
    switch (pick(0, 5)) {
      case 0:
        options.encoding = "latin-1";
        break;
      case 1:
        options.encoding = "utf-8-sig";
        if (pick(0, 1) == 0) data.insert(0, "\xef\xbb\xbf");
        break;
      case 2:
        options.encoding = "cp1252";
        options.errors = "replace";
        break;
      default:
        break;
    }
    if (!options.errors) {
      static constexpr std::array<const char*, 4> k_errors = {"strict", "surrogateescape",
                                                              "replace", "backslashreplace"};
      const int e = pick(-2, 3);
      if (e >= 0) options.errors = k_errors[static_cast<std::size_t>(e)];
    }
    std::vector<Step> steps;
    for (int k = pick(3, 20); k > 0; --k) {
      switch (pick(0, 7)) {
        case 0:
        case 1: {
          const int size = std::array{-1, 0, 1, 2, 3, 5, 11}[static_cast<std::size_t>(pick(0, 6))];
          steps.push_back(step("f.read(" + std::to_string(size) + ")",
                               [size](File& f) { return outcome([&] { return f.read(size); }); }));
          break;
        }
        case 2:
        case 3: {
          const int size = std::array{-1, -1, 0, 1, 2, 4, 9}[static_cast<std::size_t>(pick(0, 6))];
          steps.push_back(step("f.readline(" + std::to_string(size) + ")", [size](File& f) {
            return outcome([&] { return f.readline(size); });
          }));
          break;
        }
        case 4: {
          const int hint = pick(-1, 12);
          steps.push_back(step("f.readlines(" + std::to_string(hint) + ")", [hint](File& f) {
            return outcome([&] { return f.readlines(hint); });
          }));
          break;
        }
        case 5:
          steps.push_back(SAME(first_line(f)));
          break;
        case 6:
          steps.push_back(pick(0, 1) == 0 ? SAME(f.seek(0)) : SAME(f.seek(0, 2)));
          break;
        default:
          steps.push_back(SAME(f.flush()));
          break;
      }
    }
    static constexpr std::array<const char*, 4> k_modes = {"r", "r+", "a+", "w+"};
    const std::string mode = k_modes[static_cast<std::size_t>(pick(0, 3))];
    if (mode != "r") {
      for (int k = pick(1, 6); k > 0; --k) {
        std::string text;
        for (int j = pick(0, 6); j > 0; --j)
          text += k_pieces[static_cast<std::size_t>(pick(0, 11))];
        const auto at = steps.begin() + pick(0, static_cast<int>(steps.size()));
        steps.insert(at, step("f.write(" + py_str(text) + ")",
                              [text](File& f) { return outcome([&] { return f.write(text); }); }));
      }
    }
    scenarios.push_back({.mode = mode, .options = options, .data = data, .steps = steps});
  }
  compare_with_python(scenarios);
}

// ---- what only batteries has, or does differently ----

TEST_F(FileTest, UnsupportedOperationIsAnOSErrorWithoutErrno) {
  write_file("f", "x");
  File f = Path("f").open("r", {});
  try {
    (void)f.write("y");
    FAIL() << "write() on a read-only file";
  } catch (const OSError& e) {
    EXPECT_EQ(e.type_name(), "UnsupportedOperation");
    EXPECT_STREQ(e.what(), "not writable");
    EXPECT_FALSE(e.errno_().has_value());
    EXPECT_EQ(e.repr(), "UnsupportedOperation('not writable')");
  }
  EXPECT_RAISES_MSG((void)f.truncate(), UnsupportedOperation, "truncate");
}

TEST_F(FileTest, MovedFromAndDefaultFilesAreClosed) {
  File empty;
  EXPECT_TRUE(empty.closed());
  EXPECT_EQ(empty.name(), "");
  EXPECT_TRUE(empty.binary());
  EXPECT_EQ(empty.encoding(), std::nullopt);
  EXPECT_RAISES_MSG((void)empty.read(), ValueError, "I/O operation on closed file.");
  EXPECT_RAISES_MSG((void)empty.begin(), ValueError, "I/O operation on closed file.");
  EXPECT_NO_THROW(empty.close());

  write_file("f", "data");
  File a = Path("f").open("r", {});
  File b = std::move(a);
  EXPECT_TRUE(a.closed());  // NOLINT(bugprone-use-after-move): the moved-from state is defined
  EXPECT_RAISES(a.write("x"), ValueError);
  EXPECT_EQ(b.read(), "data");
  EXPECT_EQ(b.encoding(), "utf-8");
  EXPECT_EQ(b.errors(), "strict");
}

TEST_F(FileTest, DestructorAndMoveAssignmentFlushAndClose) {
  int fd = -1;
  {
    File f = Path("f").open("w", {});
    fd = f.fileno();
    f.write("pending");
    EXPECT_EQ(peek(), "");
  }
  EXPECT_EQ(peek(), "pending");
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "the descriptor is closed";

  File g = Path("g").open("wb", {});
  g.write("first");
  g = Path("f").open("rb", {});
  EXPECT_EQ(file_contents("g"), "first");
  EXPECT_EQ(g.read(), "pending");
}

TEST_F(FileTest, DestructorSwallowsErrorsAndCloseReportsThem) {
  struct stat st {};
  if (::stat("/dev/full", &st) != 0) GTEST_SKIP() << "no /dev/full";
  EXPECT_NO_THROW({
    File f = Path("/dev/full").open("w", {});
    f.write("lost");
  });
  File f = Path("/dev/full").open("wb", {});
  f.write("x");
  EXPECT_RAISES_MSG(f.close(), OSError, "[Errno 28]");
  EXPECT_TRUE(f.closed());
  EXPECT_NO_THROW(f.close());
}

TEST_F(FileTest, LinesAreARange) {
  write_file("f", "one\ntwo\r\nthree");
  File f = Path("f").open("r", {});
  std::vector<std::string> lines;
  for (const std::string& line : f) lines.push_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"one\n", "two\n", "three"}));
  EXPECT_EQ(f.tell(), 14) << "telling is back on at the end of the loop";

  File b = Path("f").open("rb", {});
  EXPECT_EQ(std::ranges::count_if(b, [](const std::string& line) { return line.size() == 5; }), 2)
      << "range algorithms take a File; binary lines keep their \\r";

  File t = Path("f").open("r", {});
  for (const std::string& line : t) {
    EXPECT_EQ(line, "one\n");
    break;
  }
  EXPECT_RAISES_MSG((void)t.tell(), OSError, "telling position disabled by next() call");
  t.flush();
  EXPECT_EQ(t.readline(), "two\n");
  EXPECT_EQ(t.tell(), 9);
}

TEST_F(FileTest, WritelinesTakesAnyRangeOfStrings) {
  {
    File f = Path("f").open("w", {.newline = "\r\n"});
    f.writelines(std::vector<std::string>{"a\n", "b\n"});
    f.writelines({"c", "d\n"});
    const std::array<const char*, 2> more = {"e", "f"};
    f.writelines(more);
  }
  EXPECT_EQ(peek(), "a\r\nb\r\ncd\r\nef");
}

// Where Python's tell() gives an opaque number above 2**64 (its decoder holds a '\r'), batteries
// gives the byte offset; seeking to it resumes at the same place.
TEST_F(FileTest, TextTellAfterALoneCarriageReturnIsTheByteOffset) {
  write_file("f", "a\rb\r\nc\r");
  File f = Path("f").open("r", {});
  EXPECT_EQ(f.readline(), "a\n");
  const std::int64_t cookie = f.tell();
  EXPECT_EQ(cookie, 2);
  EXPECT_EQ(f.readline(), "b\n");
  EXPECT_EQ(f.tell(), 5);
  EXPECT_EQ(f.readline(), "c\n");
  EXPECT_EQ(f.tell(), 7);
  EXPECT_EQ(f.seek(cookie), 2);
  EXPECT_EQ(f.read(), "b\nc\n");

  File u = Path("f").open("r", {.newline = ""});
  EXPECT_EQ(u.read(4), "a\rb\r");
  EXPECT_EQ(u.tell(), 4);
  EXPECT_EQ(u.read(), "\nc\r");
}

TEST_F(FileTest, TextTellNeedsAByteMapWhileTextIsBuffered) {
  write_file("f",
             "\x80"
             "a\nb\n");
  File f = Path("f").open("r", {.encoding = "cp1252"});
  EXPECT_EQ(f.tell(), 0);
  EXPECT_EQ(f.readline(),
            "\u20ac"
            "a\n");
  EXPECT_RAISES_MSG((void)f.tell(), UnsupportedOperation, "'cp1252'");
  EXPECT_EQ(f.readline(), "b\n");
  EXPECT_EQ(f.tell(), 5) << "nothing buffered any more";
  EXPECT_EQ(f.seek(0), 0);
  EXPECT_EQ(f.read(1), "\u20ac");

  write_file("g",
             "a\xff"
             "b\n");
  File r = Path("g").open("r", {.errors = "replace"});
  EXPECT_EQ(r.read(1), "a");
  EXPECT_RAISES((void)r.tell(), UnsupportedOperation);
  EXPECT_EQ(r.read(),
            "\ufffd"
            "b\n");
  EXPECT_EQ(r.tell(), 4);
}

TEST_F(FileTest, PipesAreNotSeekable) {
  ASSERT_EQ(::mkfifo("p", 0600), 0) << std::strerror(errno);
  // Read and write ends at once, so that nothing blocks.
  File raw = Path("p").open("r+b", {.buffering = 0});
  EXPECT_FALSE(raw.seekable());
  EXPECT_RAISES_MSG((void)raw.tell(), OSError, "[Errno 29] Illegal seek");
  EXPECT_EQ(raw.write("ab\ncd"), 5u);
  EXPECT_RAISES_MSG((void)Path("p").open("r+b", {}), UnsupportedOperation,
                    "File or stream is not seekable.");
  EXPECT_RAISES_MSG((void)Path("p").open("r+", {}), UnsupportedOperation,
                    "File or stream is not seekable.");

  File reader = Path("p").open("rb", {});
  EXPECT_RAISES_MSG((void)reader.tell(), OSError, "Illegal seek");
  EXPECT_RAISES_MSG(reader.seek(0), UnsupportedOperation, "File or stream is not seekable.");
  EXPECT_EQ(reader.read(2), "ab");
  EXPECT_EQ(reader.readline(), "\n");

  File text = Path("p").open("a", {.encoding = "utf-16"});
  EXPECT_RAISES_MSG((void)text.tell(), UnsupportedOperation, "underlying stream is not seekable");
  EXPECT_RAISES_MSG(text.seek(0), UnsupportedOperation, "underlying stream is not seekable");
  text.write("z");  // no BOM on a pipe, as Python's UTF-16 encoder
  text.flush();
  File binary = Path("p").open("ab", {});
  EXPECT_RAISES_MSG((void)binary.tell(), OSError, "Illegal seek");
  EXPECT_RAISES_MSG((void)binary.truncate(), OSError, "Illegal seek");
  EXPECT_EQ(reader.read(4), std::string("cdz\0", 4));
}

TEST_F(FileTest, PermissionErrorsCarryTheFilename) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may open anything";
  write_file("f", "secret");
  ASSERT_EQ(::chmod("f", 0), 0);
  try {
    (void)Path("f").open("r", {});
    FAIL() << "opened an unreadable file";
  } catch (const PermissionError& e) {
    EXPECT_EQ(e.filename(), "f");
    EXPECT_EQ(e.errno_(), EACCES);
  }
}

TEST_F(FileTest, OpenLeavesNoDescriptorBehindWhenItFails) {
  const int before = ::dup(0);
  ASSERT_GE(before, 0);
  ::close(before);
  ASSERT_EQ(::mkdir("d", 0755), 0);
  EXPECT_RAISES((void)Path("d").open("r", {}), IsADirectoryError);
  EXPECT_RAISES((void)Path("f").open("w", {.buffering = 0}), ValueError);
  EXPECT_RAISES((void)Path("f").open("w", {.encoding = "bogus"}), LookupError);
  const int after = ::dup(0);
  ::close(after);
  EXPECT_EQ(before, after) << "a descriptor leaked";
}

}  // namespace
}  // namespace batteries::pathlib
