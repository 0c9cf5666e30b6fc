// Differential test of glob(), rglob() and walk() against CPython (3.11; 3.12 for walk).
//
// A tree with every kind of entry; patterns run through both; results compared as lists.
//
// Both sides read the same directories in the order the OS gives, so the results are compared
// in order, not as sets. Paths, names and patterns cross to Python hex-encoded as bytes
// (os.fsencode / os.fsdecode), so non-UTF-8 names arrive as they are.
#include <batteries/pathlib/path.hpp>

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include "python.hpp"

namespace batteries::pathlib {
namespace {

using testing::check;
using testing::find_python;
using testing::from_hex;
using testing::make_dir;
using testing::make_link;
using testing::make_temp_dir;
using testing::printable;
using testing::remove_tree;
using testing::ScopedCwd;
using testing::ScopedPython;
using testing::split;
using testing::to_hex;
using testing::write_file;

// ---- the file system through the C library ----

// ---- encoding ----

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out = split(text, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// ---- the tree ----

/// Every kind of entry glob must handle: hidden files and directories, symlinks to files and
/// directories, a dangling one, a loop, a link back up, glob metacharacters and backslashes
/// in names, an empty directory, a name differing only in case, UTF-8 and non-UTF-8 names.
void build_glob_tree(const std::string& t) {
  make_dir(t);
  make_dir(t + "/a");
  make_dir(t + "/a/b");
  write_file(t + "/a/b/c.py");
  write_file(t + "/a/b/d.txt");
  write_file(t + "/a/.hidden.py");
  write_file(t + "/a/e.py");
  write_file(t + "/a.py");
  write_file(t + "/A.PY");
  make_dir(t + "/.hid");
  write_file(t + "/.hid/x.py");
  write_file(t + "/.dot.txt");
  make_dir(t + "/empty");
  write_file(t + "/[x]");
  write_file(t + "/x");
  write_file(t + "/*");
  write_file(t + "/?");
  write_file(t + "/st*r.py");
  write_file(t + "/a b");
  write_file(t + "/back\\slash");
  write_file(t + "/]");
  write_file(t + "/-");
  make_link("a", t + "/link_dir");
  make_link("a.py", t + "/link_file");
  make_link("nowhere", t + "/dangling");
  make_link("loop", t + "/loop");
  make_dir(t + "/sub");
  make_link("..", t + "/sub/up");
  write_file(t + "/caf\xc3\xa9.py");
  write_file(t + "/caf\xe9");
  make_dir(t + "/d\xff");
  write_file(t + "/d\xff/in.py");
}

/// A tree without symlink loops, for walk(follow_symlinks=True).
void build_walk_tree(const std::string& w) {
  make_dir(w);
  make_dir(w + "/a");
  write_file(w + "/a/f1");
  make_dir(w + "/a/b");
  write_file(w + "/a/b/f2");
  make_link("a", w + "/la");
  make_link("a/f1", w + "/lf");
  make_link("nope", w + "/dangling");
  make_dir(w + "/c");
  make_link("../a/b", w + "/c/lb");
  write_file(w + "/c/g");
  make_dir(w + "/c/e\xff");
  make_dir(w + "/.h");
}

class GlobDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = make_temp_dir("batteries-glob");
    build_glob_tree(m_root + "/g");
    build_walk_tree(m_root + "/w");
  }
  void TearDown() override {
    if (!m_root.empty()) remove_tree(m_root);
  }

  /// A path for a failure message: relative to the temporary directory, printable.
  [[nodiscard]] std::string shown(std::string_view path) const {
    if (path.substr(0, m_root.size() + 1) == m_root + "/") path.remove_prefix(m_root.size() + 1);
    return printable(path);
  }

  std::string m_root;
};

// ---- glob and rglob ----

struct Query {
  std::string start;  // absolute, or relative to the temporary directory (the cwd)
  bool recursive;     // rglob rather than glob
  std::string pattern;

  [[nodiscard]] std::string describe() const {
    return "Path('" + printable(start) + "')." + (recursive ? "rglob" : "glob") + "('" +
           printable(pattern) + "')";
  }
};

/// The most results a query may give before it counts as running away (a loop followed).
constexpr std::size_t kRunaway = 5000;

std::vector<std::string> glob_in_cpp(const Query& query) {
  std::vector<std::string> out;
  try {
    const Path start(query.start);
    auto range = query.recursive ? start.rglob(query.pattern) : start.glob(query.pattern);
    for (const Path& found : range) {
      out.push_back(found.str());
      if (out.size() > kRunaway) {
        out.push_back("<runaway>");
        break;
      }
    }
  } catch (const BaseException& e) {
    out.push_back("!" + std::string(e.type_name()) + ": " + e.what());
  } catch (const std::exception& e) {
    out.push_back("!<C++ " + std::string(typeid(e).name()) + ">: " + e.what());
  }
  return out;
}

constexpr std::string_view kGlobScript = R"PY(
import os, sys
from pathlib import Path
def d(h):
    return os.fsdecode(bytes.fromhex(h))
print(*sys.version_info[:2])
for start, recursive, pattern in queries:
    s = Path(d(start))
    try:
        found = list(s.rglob(d(pattern)) if recursive else s.glob(d(pattern)))
        print('=', *[os.fsencode(str(p)).hex() for p in found])
    except Exception as e:
        print('!', os.fsencode('!%s: %s' % (type(e).__name__, e)).hex())
)PY";

std::vector<Query> all_queries(const std::string& root) {
  const std::string g = root + "/g";
  std::vector<Query> queries;
  // glob from the top of the tree
  for (const char* pattern :
       {"*", "?", "??", "???", "[ax]*", "[!a]*", "[a-c]*", "[!a-z.]*", "[x]", "[[]x]", "[*]", "[?]",
        "*[*]*", "st[*]r.py", "[]]", "[!]]", "[", "[a", "a]", "[]-]", "[-]", "[z-a]", "*.py",
        "*.PY", "A.PY", "a.py", "*.[pP][yY]", ".*", "*.*", "*.txt", "a b", "a*b", "back\\slash",
        "back\\*", "*\\*", "*[\\]*", "**", "**/", "**/*", "**/*.py", "**/*.PY", "**/**",
        "**/**/*.py", "**/b", "**/b/*", "**/b/", "**/empty", "**/.hid/*", "**/..", "**/.*", "*/",
        "*/*", "*/*/", "*/**/*", "*/**", "*/.", "*/.*", "*/b/*", "a/**", "a/**/", "a/**/*.py",
        "a/b/**/*", "a/*/", "a/b/c.py", "a/b/c.py/", "a/b/", "..", "../*", "a/..", "a/../a.py",
        "a/.", "./a", "a//b", "a/./b", ".//a/b", "nonexistent", "nonexistent/*", "nonexistent/**",
        "a.py/*", "a.py/", "x/", "x", "empty/*", "empty/", "empty/**", ".hid/*", ".hid/",
        ".hid/**/*", "link_dir", "link_dir/", "link_dir/*", "link_dir/**", "link_dir/**/*.py",
        "link_file/", "link_*", "link_*/", "sub/up/*", "sub/up/sub/up/a", "sub/*", "sub/**",
        "sub/*/", "sub/**/*.py", "dangling", "dangling/", "dangling/*", "dang*", "loop", "loop/",
        "loop/*", "lo?p", "lo?p/", "loop/**", "caf\xe9", "*\xe9", "d\xff/*", "d\xff/", "d\xff",
        "*\xff/*.py", "caf\xc3\xa9*", "*\xc3\xa9*", "caf?", "caf?.py", "[c]af\xe9",
        // errors
        "", "/", "/x", "//x", "a**", "**a/b", "x/**y", "***", "a/**b/c", "**/x**"}) {
    queries.push_back({g, false, pattern});
  }
  for (const char* pattern :
       {"*",     "",        "*/",   "*.py",     ".",  "..",  "b",     "b/*", "*/*",
        "**",    "**/*.py", "c.py", "link_dir", "up", "up/", "[!.]*", ".*",  "nonexistent",
        "*\xe9", "in.py",   "a/**", "/x",       "a**"}) {
    queries.push_back({g, true, pattern});
  }
  // other starting points: a subdirectory, a symlink to one, a file, missing, relative ones
  for (const std::string& start :
       {g + "/a", g + "/link_dir", g + "/a.py", g + "/nonexistent", g + "/dangling", g + "/loop",
        g + "/sub/up", g + "/empty", std::string("g"), std::string("g/a"), std::string("."),
        std::string("g/../g/a")}) {
    for (const char* pattern : {"*", "**", "*/*.py", "**/*.py", "b/", ".."}) {
      queries.push_back({start, false, pattern});
    }
    for (const char* pattern : {"*", "*.py", ""}) queries.push_back({start, true, pattern});
  }
  return queries;
}

TEST_F(GlobDiff, GlobAndRglobMatchPython311InOrder) {
  const ScopedCwd cwd(m_root);
  const std::vector<Query> queries = all_queries(m_root);
  std::string script = "queries = [\n";
  for (const Query& query : queries) {
    script += "    ('" + to_hex(query.start) + "', " + (query.recursive ? "True" : "False") +
              ", '" + to_hex(query.pattern) + "'),\n";
  }
  script += "]\n";
  script += kGlobScript;
  ASSERT_LT(script.size(), 120'000u);
  const std::optional<std::string> output = testing::run_python(script);
  if (!output) GTEST_SKIP() << "no Python interpreter";
  const std::vector<std::string> lines = lines_of(*output);
  ASSERT_FALSE(lines.empty());
  if (lines[0] != "3 11") GTEST_SKIP() << "the oracle is CPython 3.11, found " << lines[0];
  ASSERT_EQ(lines.size(), queries.size() + 1) << *output;

  std::size_t differences = 0;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    std::vector<std::string> fields = split(lines[i + 1], ' ');
    std::vector<std::string> expected;
    for (std::size_t f = 1; f < fields.size(); ++f) {
      const std::optional<std::string> item = from_hex(fields[f]);
      ASSERT_TRUE(item.has_value()) << lines[i + 1];
      expected.push_back(shown(*item));
    }
    std::vector<std::string> actual;
    for (const std::string& item : glob_in_cpp(queries[i])) actual.push_back(shown(item));
    if (expected != actual) ++differences;
    EXPECT_EQ(expected, actual) << queries[i].describe() << "  (expected: Python; actual: "
                                << "batteries; paths relative to " << m_root << ")";
  }
  EXPECT_EQ(differences, 0u) << "of " << queries.size() << " queries";
}

// "." is a pattern CPython 3.11 cannot take: parse_parts drops the ".", leaving no parts, and
// _make_selector(()) raises IndexError; "./" raises AttributeError. batteries gives the path
// itself, as any pattern that names only the start does ("a/." gives "a").
TEST_F(GlobDiff, DotPatternYieldsTheStart) {
  const Path g(m_root + "/g");
  for (const char* pattern : {".", "./", ".//."}) {
    std::vector<Path> found;
    for (const Path& p : g.glob(pattern)) found.push_back(p);
    EXPECT_EQ(found, std::vector<Path>{g}) << "glob('" << pattern << "')";
  }
  std::vector<Path> found;
  for (const Path& p : Path(m_root + "/g/a.py").glob(".")) found.push_back(p);
  EXPECT_TRUE(found.empty()) << "glob('.') of a file";  // as every glob of a non-directory
}

TEST_F(GlobDiff, BadPatternsRaisePythonsErrors) {
  const Path g(m_root + "/g");
  const auto first_error = [](const std::function<LazyRange<PosixPath>()>& make) -> std::string {
    try {
      auto range = make();
      for (const Path& p : range) (void)p;
      return "no error";
    } catch (const BaseException& e) {
      return std::string(e.type_name()) + ": " + e.what();
    }
  };
  EXPECT_EQ(first_error([&] { return g.glob(""); }), "ValueError: Unacceptable pattern: ''");
  EXPECT_EQ(first_error([&] { return g.glob("/etc/*"); }),
            "NotImplementedError: Non-relative patterns are unsupported");
  EXPECT_EQ(first_error([&] { return g.rglob("/etc"); }),
            "NotImplementedError: Non-relative patterns are unsupported");
  EXPECT_EQ(first_error([&] { return g.glob("a**"); }),
            "ValueError: Invalid pattern: '**' can only be an entire path component");
  EXPECT_EQ(first_error([&] { return g.glob("x/**y/*"); }),
            "ValueError: Invalid pattern: '**' can only be an entire path component");
  EXPECT_EQ(first_error([&] { return g.rglob("**x"); }),
            "ValueError: Invalid pattern: '**' can only be an entire path component");
  EXPECT_EQ(first_error([&] { return g.rglob(""); }), "no error");
}

// ---- walk ----

struct WalkQuery {
  std::string top;
  bool top_down;
  bool follow_symlinks;

  [[nodiscard]] std::string describe() const {
    return "Path('" + printable(top) + "').walk(top_down=" + (top_down ? "True" : "False") +
           ", follow_symlinks=" + (follow_symlinks ? "True" : "False") + ")";
  }
};

constexpr std::string_view kWalkScript = R"PY(
import os, sys
from pathlib import Path
def d(h):
    return os.fsdecode(bytes.fromhex(h))
def h(s):
    return os.fsencode(s).hex()
print(*sys.version_info[:2])
for top, top_down, follow in walks:
    for dirpath, dirnames, filenames in Path(d(top)).walk(top_down=top_down,
                                                          follow_symlinks=follow):
        print(h(str(dirpath)) + ':' + ','.join(map(h, dirnames)) + ':' +
              ','.join(map(h, filenames)))
    print('end')
)PY";

TEST_F(GlobDiff, WalkMatchesPython312InOrder) {
  const std::optional<std::string> python = find_python(12);
  if (!python) GTEST_SKIP() << "no CPython 3.12 found (Path.walk is new in 3.12)";
  const ScopedPython scoped(*python);
  const ScopedCwd cwd(m_root);
  const std::string g = m_root + "/g";
  const std::string w = m_root + "/w";
  std::vector<WalkQuery> walks;
  for (const bool top_down : {true, false}) {
    // The glob tree has symlink loops: not followed.
    for (const std::string& top : {g, g + "/a", g + "/link_dir", g + "/d\xff", std::string("g"),
                                   std::string("."), g + "/a.py", g + "/missing"}) {
      walks.push_back({top, top_down, false});
    }
    for (const bool follow : {false, true}) {
      for (const std::string& top : {w, w + "/la", std::string("w")}) {
        walks.push_back({top, top_down, follow});
      }
    }
  }
  std::string script = "walks = [\n";
  for (const WalkQuery& walk : walks) {
    script += "    ('" + to_hex(walk.top) + "', " + (walk.top_down ? "True" : "False") + ", " +
              (walk.follow_symlinks ? "True" : "False") + "),\n";
  }
  script += "]\n";
  script += kWalkScript;
  const std::optional<std::string> output = testing::run_python(script);
  if (!output) GTEST_SKIP() << "no Python interpreter";
  const std::vector<std::string> lines = lines_of(*output);
  ASSERT_FALSE(lines.empty());
  ASSERT_EQ(lines[0], "3 12");

  // Each entry as "dirpath [dirnames] [filenames]", printable.
  const auto entry_text = [&](std::string_view dirpath, const std::vector<std::string>& dirnames,
                              const std::vector<std::string>& filenames) {
    std::string out = shown(dirpath) + " [";
    for (std::size_t i = 0; i < dirnames.size(); ++i) {
      out += (i > 0 ? ", " : "") + printable(dirnames[i]);
    }
    out += "] [";
    for (std::size_t i = 0; i < filenames.size(); ++i) {
      out += (i > 0 ? ", " : "") + printable(filenames[i]);
    }
    return out + "]";
  };
  const auto decode_list = [](const std::string& field) {
    std::vector<std::string> out;
    if (field.empty()) return out;
    for (const std::string& hex : split(field, ',')) out.push_back(from_hex(hex).value_or("?"));
    return out;
  };

  std::size_t line = 1;
  for (const WalkQuery& walk : walks) {
    std::vector<std::string> expected;
    for (; line < lines.size() && lines[line] != "end"; ++line) {
      const std::vector<std::string> fields = split(lines[line], ':');
      ASSERT_EQ(fields.size(), 3u) << lines[line];
      expected.push_back(entry_text(from_hex(fields[0]).value_or("?"), decode_list(fields[1]),
                                    decode_list(fields[2])));
    }
    ASSERT_LT(line, lines.size()) << "Python's output ended early";
    ++line;  // "end"

    std::vector<std::string> actual;
    try {
      for (const WalkEntry& entry : Path(walk.top).walk(
               {.top_down = walk.top_down, .follow_symlinks = walk.follow_symlinks})) {
        actual.push_back(entry_text(entry.dirpath.str(), entry.dirnames, entry.filenames));
        if (actual.size() > kRunaway) break;
      }
    } catch (const BaseException& e) {
      actual.push_back("!" + std::string(e.type_name()) + ": " + e.what());
    }
    EXPECT_EQ(expected, actual) << walk.describe()
                                << "  (expected: Python 3.12; actual: batteries)";
  }
}

}  // namespace
}  // namespace batteries::pathlib
