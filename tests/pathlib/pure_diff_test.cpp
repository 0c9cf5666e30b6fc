// Differential test: thousands of generated path strings through CPython's PurePosixPath and
// PureWindowsPath and through batteries, every property and operation compared.
//
// The cases are sequences of pieces (names, dots, separators, drives, UNC shares, device
// names, case twins) drawn with a fixed seed. Python gets the piece table and the index
// sequences, not the strings, so that one `python3 -c` argument holds them all; it prints one
// line per case, each field hex-encoded. A field is "=value" or "!ExceptionName:message";
// lists are their items each followed by a NUL (no generated path contains one).
#include <batteries/pathlib/pure.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "python.hpp"

namespace batteries::pathlib {
namespace {

using testing::find_python;
using testing::from_hex;
using testing::printable;
std::string show(std::string_view text) { return printable(text); }
using testing::ScopedPython;
using testing::split;
using testing::to_hex;

// ---- encoding ----

// The field values, encoded as the Python side's ev() encodes them.
std::string text(std::string_view value) { return std::string("=").append(value); }
std::string flag(bool value) { return value ? "=True" : "=False"; }
std::string number(std::size_t value) { return std::string("=").append(std::to_string(value)); }
std::string list(const std::vector<std::string>& items) {
  std::string out = "=";
  for (const std::string& item : items) {
    out += item;
    out += '\0';
  }
  return out;
}
template <class P>
std::string path(const P& value) {
  return std::string("=").append(value.str());
}
template <class P>
std::string parents_of(const P& value) {
  std::vector<std::string> items;
  for (const P parent : value.parents()) items.push_back(parent.str());
  return list(items);
}
template <class P>
std::string order(const P& p, const P& q) {
  std::string out = "=";
  for (const bool b : {p<q, p <= q, p> q, p >= q, p == q, p != q}) out += b ? '1' : '0';
  return out;
}

// ---- the cases ----

/// The pieces a case is made of; twin[i] is piece i in another case (the same piece when
/// it has none), for the case-insensitive comparisons of Windows.
struct Alphabet {
  std::vector<std::string> pieces;
  std::vector<std::size_t> twin;
  std::vector<std::size_t> separators;

  std::size_t add(std::string piece) {
    pieces.push_back(std::move(piece));
    twin.push_back(pieces.size() - 1);
    return pieces.size() - 1;
  }
  void add_twins(std::string first, std::string second) {
    const std::size_t a = add(std::move(first));
    const std::size_t b = add(std::move(second));
    twin[a] = b;
    twin[b] = a;
  }
  [[nodiscard]] std::string build(const std::vector<std::size_t>& indices) const {
    std::string out;
    for (const std::size_t i : indices) out += pieces[i];
    return out;
  }
};

Alphabet full_alphabet(Flavour flavour) {
  Alphabet alphabet;
  for (const char* piece : {"b",          ".bashrc",  "bar.",        "..",
                            ".",          "",         "\\\\?\\c:",   "\\\\?\\UNC\\srv\\shr",
                            "\\\\.\\dev", "LPT9 ",    "a b",         "*",
                            "?",          "it's",     "\t",          "\xc2\xa0",
                            "...",        "a.",       ".a.b",        ".tar",
                            "nul.tar.gz", "aux .txt", "com\xc2\xb9", "CONIN$",
                            "nul:",       "x:y",      "\\\\",        "\\\\server",
                            "//?/c:/",    "c:/",      "\\\\?\\",     "UNC",
                            "/ "}) {
    alphabet.add(piece);
  }
  for (const char* sep : {"/", "\\", "//"}) alphabet.separators.push_back(alphabet.add(sep));
  const std::pair<const char*, const char*> twins[] = {
      {"a", "A"},
      {"foo", "FOO"},
      {"bar.txt", "BAR.TXT"},
      {"x.tar.gz", "X.TAR.GZ"},
      {"c:", "C:"},
      {"d:", "D:"},
      {"CON", "con"},
      {"com1", "COM1"},
      {"nul.txt", "NUL.TXT"},
      {"\\\\server\\share", "\\\\SERVER\\Share"},
      {"//server/share", "//Server/SHARE"},
      {"\xc3\xa9", "\xc3\x89"},                    // é É
      {"\xc3\x9cn\xc3\xaf", "\xc3\xbcn\xc3\xaf"},  // Ünï ünï
      {"\xce\x91\xce\xa3", "\xce\xb1\xcf\x82"},    // ΑΣ ας: a final sigma
      {"\xc4\xb0", "i\xcc\x87"},                   // İ and its two-code-point lower
      {"\xe2\x84\xaa", "k"},                       // Kelvin sign
      {"\xe1\xba\x9e", "\xc3\x9f"},                // ẞ ß
  };
  for (const auto& [first, second] : twins) alphabet.add_twins(first, second);
  if (flavour == Flavour::posix) alphabet.add("\xff");  // bytes that are not UTF-8
  return alphabet;
}

/// Plain names, dots and separators (and drives on Windows): paths that Python 3.11 and
/// 3.12 parse alike, for the walk_up comparison.
Alphabet simple_alphabet(Flavour flavour) {
  Alphabet alphabet;
  for (const char* piece : {"a", "b", "foo", "..", ".", "", "x.tar.gz"}) alphabet.add(piece);
  for (const char* sep : {"/", "//"}) alphabet.separators.push_back(alphabet.add(sep));
  if (flavour == Flavour::windows) {
    alphabet.separators.push_back(alphabet.add("\\"));
    alphabet.add_twins("c:", "C:");
    alphabet.add("d:");
    alphabet.add("A");
  }
  return alphabet;
}

struct Case {
  std::vector<std::size_t> a;
  std::vector<std::size_t> b;
};

std::vector<std::size_t> random_pieces(std::mt19937& rng, const Alphabet& alphabet) {
  std::vector<std::size_t> out;
  const std::size_t count = 1 + rng() % 5;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0 && rng() % 2 == 0) {
      out.push_back(alphabet.separators[rng() % alphabet.separators.size()]);
    }
    out.push_back(rng() % alphabet.pieces.size());
  }
  return out;
}

/// Case i pairs a path with a partner that is random, a prefix of it, its case twin, or an
/// extension of it, so that equality and relative_to succeed as well as fail.
std::vector<Case> generate(const Alphabet& alphabet, std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Case> cases;
  cases.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Case c;
    c.a = random_pieces(rng, alphabet);
    const std::size_t strategy = rng() % 100;
    if (strategy < 40) {
      c.b = random_pieces(rng, alphabet);
    } else if (strategy < 65) {
      c.b.assign(c.a.begin(), c.a.begin() + static_cast<std::ptrdiff_t>(rng() % (c.a.size() + 1)));
    } else if (strategy < 80) {
      for (const std::size_t piece : c.a) c.b.push_back(alphabet.twin[piece]);
    } else {
      c.b = c.a;
      c.b.push_back(alphabet.separators[rng() % alphabet.separators.size()]);
      for (const std::size_t piece : random_pieces(rng, alphabet)) c.b.push_back(piece);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string indices(const std::vector<std::size_t>& pieces) {
  std::string out;
  for (const std::size_t piece : pieces) {
    if (!out.empty()) out += '.';
    out += std::to_string(piece);
  }
  return out;
}

// ---- the fields ----

template <class P>
using Eval =
    std::function<std::string(const P& p, const P& q, const std::string& a, const std::string& b)>;

/// One compared value: its name in reports, the Python expression over p, q, a and b, and
/// the same in C++.
template <class P>
struct Field {
  std::string name;
  std::string python;
  Eval<P> cpp;
};

// A field named by its Python expression.
#define PATH_FIELD(python_expr, cpp_expr)                                                       \
  Field<P> {                                                                                    \
    python_expr, python_expr,                                                                   \
        [](const P& p, const P& q, const std::string& a, const std::string& b) -> std::string { \
          (void)p, (void)q, (void)a, (void)b;                                                   \
          return cpp_expr;                                                                      \
        }                                                                                       \
  }

template <class P, class Other>
std::vector<Field<P>> all_fields() {
  std::vector<Field<P>> fields = {
      PATH_FIELD("p", path(p)),
      PATH_FIELD("p.parts", list(p.parts())),
      PATH_FIELD("p.drive", text(p.drive())),
      PATH_FIELD("p.root", text(p.root())),
      PATH_FIELD("p.anchor", text(p.anchor())),
      PATH_FIELD("p.name", text(p.name())),
      PATH_FIELD("p.stem", text(p.stem())),
      PATH_FIELD("p.suffix", text(p.suffix())),
      PATH_FIELD("p.suffixes", list(p.suffixes())),
      PATH_FIELD("p.parent", path(p.parent())),
      PATH_FIELD("p.as_posix()", text(p.as_posix())),
      PATH_FIELD("p.is_absolute()", flag(p.is_absolute())),
      PATH_FIELD("p.is_reserved()", flag(p.is_reserved())),
      PATH_FIELD("repr(p)", text(p.repr())),
      PATH_FIELD("len(p.parents)", number(p.parents().size())),
      PATH_FIELD("[str(x) for x in p.parents]", parents_of(p)),
      PATH_FIELD("p.parents[-1]", path(p.parents()[-1])),
      PATH_FIELD("p.as_uri()", text(p.as_uri())),
      PATH_FIELD("p.with_suffix('.md')", path(p.with_suffix(".md"))),
      PATH_FIELD("p.with_suffix('')", path(p.with_suffix(""))),
      PATH_FIELD("p.with_suffix('.')", path(p.with_suffix("."))),
      PATH_FIELD("p.with_suffix(b)", path(p.with_suffix(b))),
      PATH_FIELD("p.with_name('x.y')", path(p.with_name("x.y"))),
      PATH_FIELD("with_name(p, b)", path(p.with_name(b))),
      PATH_FIELD("p.with_stem('s')", path(p.with_stem("s"))),
      PATH_FIELD("p.match(b)", flag(p.match(b))),
      PATH_FIELD("p / q", path(p / q)),
      PATH_FIELD("p / b", path(p / b)),
      PATH_FIELD("b / p", path(b / p)),
      PATH_FIELD("p.joinpath(b, a)", path(p.joinpath(b, a))),
      PATH_FIELD("Cls(a, b)", path(P(a, b))),
      PATH_FIELD("Cls(b, a, b)", path(P(b, a, b))),
      PATH_FIELD("Cls(q, p)", path(P(q, p))),
      PATH_FIELD("Cls(Other(a))", path(P(Other(a)))),
      PATH_FIELD("Cls(Other(a), b)", path(P(Other(a), b))),
      PATH_FIELD("''.join(str(int(x)) for x in (p < q, p <= q, p > q, p >= q, p == q, p != q))",
                 order(p, q)),
      PATH_FIELD("p.relative_to(q)", path(p.relative_to(q))),
      PATH_FIELD("q.relative_to(p)", path(q.relative_to(p))),
      PATH_FIELD("p.relative_to(b, a)", path(p.relative_to(b, a))),
      PATH_FIELD("p.relative_to(p.anchor)", path(p.relative_to(p.anchor()))),
      PATH_FIELD("p.relative_to(p.parent)", path(p.relative_to(p.parent()))),
      PATH_FIELD("p.is_relative_to(q)", flag(p.is_relative_to(q))),
      PATH_FIELD("q.is_relative_to(p)", flag(q.is_relative_to(p))),
  };
  for (const char* pattern : {"*.txt",
                              "*.TXT",
                              "a/*",
                              "A/*",
                              "*",
                              "**",
                              "**/*.txt",
                              "[ab]*",
                              "[!a]*",
                              "/*",
                              "/a/*",
                              "c:*",
                              "c:/*",
                              "C:\\*",
                              "\\\\server\\share\\*",
                              "//server/share/*",
                              "*/*/*",
                              ".",
                              "",
                              "*.tar.*",
                              "?",
                              "\xc3\xa9*"}) {
    const std::string pat = pattern;
    fields.push_back({"p.match('" + show(pat) + "')", "p.match(dec('" + to_hex(pat) + "'))",
                      [pat](const P& p, const P&, const std::string&, const std::string&) {
                        return flag(p.match(pat));
                      }});
  }
  return fields;
}

template <class P>
std::vector<Field<P>> walk_up_fields() {
  return {
      PATH_FIELD("p", path(p)),
      PATH_FIELD("q", path(q)),
      PATH_FIELD("p.relative_to(q, walk_up=True)",
                 path(p.relative_to(q, RelativeToOptions{.walk_up = true}))),
      Field<P>{"p.relative_to(b, walk_up=True) [C++ with text]", "p.relative_to(b, walk_up=True)",
               [](const P& p, const P&, const std::string&, const std::string& b) {
                 return path(p.relative_to(b, RelativeToOptions{.walk_up = true}));
               }},
  };
}

#undef PATH_FIELD

// ---- the Python side ----

const char* const kScript = R"PY(
import sys
from pathlib import PurePosixPath, PureWindowsPath
Cls, Other = @CLASSES@
def dec(h):
    return bytes.fromhex(h).decode('utf-8', 'surrogateescape')
def enc(s):
    return s.encode('utf-8', 'surrogateescape').hex()
PIECES = [dec(h) for h in '@PIECES@'.split(',')]
def build(s):
    return ''.join(PIECES[int(i)] for i in s.split('.') if i)
def with_name(p, n):
    # Python 3.12's extra rule, which batteries follows: 3.11 keeps a name such as './b' as
    # one part that the path's own text does not parse back to.
    f = p._flavour
    if p.name and (f.sep in n or (f.altsep and f.altsep in n) or n == '.'):
        raise ValueError('Invalid name %r' % (n,))
    return p.with_name(n)
def ev(f):
    try:
        v = f()
    except Exception as e:
        return '!' + type(e).__name__ + ':' + str(e)
    if isinstance(v, (list, tuple)):
        return '=' + ''.join(str(x) + '\0' for x in v)
    return '=' + str(v)
FIELDS = [
@FIELDS@]
print(sys.version_info[0], sys.version_info[1])
out = []
for case in '@CASES@'.split():
    sa, sb = case.split(',')
    a, b = build(sa), build(sb)
    p, q = Cls(a), Cls(b)
    out.append('\t'.join(enc(ev(lambda: f(p, q, a, b))) for f in FIELDS))
print('\n'.join(out))
)PY";

void replace(std::string& text, std::string_view from, const std::string& to) {
  const std::size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

template <class P>
std::string script(std::string_view classes, const Alphabet& alphabet,
                   const std::vector<Field<P>>& fields, const std::vector<Case>& cases) {
  std::string out = kScript;
  replace(out, "@CLASSES@", std::string(classes));
  std::string pieces;
  for (std::size_t i = 0; i < alphabet.pieces.size(); ++i) {
    if (i > 0) pieces += ',';
    pieces += to_hex(alphabet.pieces[i]);
  }
  replace(out, "@PIECES@", pieces);
  std::string lambdas;
  for (const Field<P>& field : fields) lambdas += "    lambda p, q, a, b: " + field.python + ",\n";
  replace(out, "@FIELDS@", lambdas);
  std::string encoded;
  for (const Case& c : cases) encoded += indices(c.a) + "," + indices(c.b) + " ";
  replace(out, "@CASES@", encoded);
  return out;
}

// ---- the comparison ----

constexpr int kMaxReported = 50;

template <class P>
std::string evaluate(const Field<P>& field, const P& p, const P& q, const std::string& a,
                     const std::string& b) {
  try {
    return field.cpp(p, q, a, b);
  } catch (const BaseException& e) {
    return "!" + std::string(e.type_name()) + ":" + e.what();
  } catch (const std::exception& e) {
    return "!<C++ " + std::string(typeid(e).name()) + ">:" + e.what();
  }
}

/// Runs the cases through the interpreter (python_executable()) and through batteries and
/// reports every difference (the first kMaxReported in full, then a count per field).
/// Skips when Python is missing or is not 3.`minor`. A case whose first `guards` fields
/// differ is left out (counted, not failed): the interpreter parses it another way.
template <class P>
void compare_with_python(std::string_view classes, int minor, const Alphabet& alphabet,
                         const std::vector<Field<P>>& fields, const std::vector<Case>& cases,
                         std::size_t guards = 0) {
  const std::string source = script(classes, alphabet, fields, cases);
  // One argument of execve() holds at most 128 KiB on Linux.
  ASSERT_LT(source.size(), 120'000u) << "too many cases for one python3 -c argument";
  const std::optional<std::string> output = testing::run_python(source);
  if (!output) GTEST_SKIP() << "no Python interpreter";
  std::istringstream lines(*output);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << "no output from Python";
  if (line != "3 " + std::to_string(minor)) {
    GTEST_SKIP() << "the oracle is CPython 3." << minor << ", found " << line;
  }

  int reported = 0;
  std::size_t differences = 0;
  std::size_t left_out = 0;
  std::map<std::string, std::size_t> by_field;
  for (std::size_t index = 0; index < cases.size(); ++index) {
    ASSERT_TRUE(std::getline(lines, line)) << "Python stopped after " << index << " cases";
    const std::vector<std::string> hex_fields = split(line, '\t');
    ASSERT_EQ(hex_fields.size(), fields.size()) << "case " << index;
    const std::string a = alphabet.build(cases[index].a);
    const std::string b = alphabet.build(cases[index].b);
    std::optional<P> p;
    std::optional<P> q;
    try {
      p.emplace(a);
      q.emplace(b);
    } catch (const std::exception& e) {
      ADD_FAILURE() << P::class_name << "(" << show(a) << ") or (" << show(b)
                    << ") threw: " << e.what();
      continue;
    }
    if (*p == *q) {
      EXPECT_EQ(p->hash(), q->hash()) << "equal paths " << show(a) << ", " << show(b);
    }
    std::vector<std::string> expected;
    for (const std::string& hex : hex_fields) {
      std::optional<std::string> value = from_hex(hex);
      ASSERT_TRUE(value.has_value()) << "bad hex from Python: " << hex;
      expected.push_back(std::move(*value));
    }
    bool parsed_alike = true;
    for (std::size_t f = 0; f < guards; ++f) {
      parsed_alike = parsed_alike && evaluate(fields[f], *p, *q, a, b) == expected[f];
    }
    if (!parsed_alike) {
      ++left_out;
      continue;
    }
    for (std::size_t f = guards; f < fields.size(); ++f) {
      const std::string actual = evaluate(fields[f], *p, *q, a, b);
      if (actual == expected[f]) continue;
      ++differences;
      ++by_field[fields[f].name];
      if (reported < kMaxReported) {
        ++reported;
        EXPECT_EQ(show(expected[f]), show(actual))
            << P::class_name << " case " << index << ": a='" << show(a) << "' b='" << show(b)
            << "'\n  field: " << fields[f].name << "\n  (expected: Python; actual: batteries)";
      }
    }
  }
  if (differences > 0) {
    std::string summary;
    for (const auto& [name, count] : by_field) {
      summary += "\n  " + std::to_string(count) + "  " + name;
    }
    ADD_FAILURE() << P::class_name << ": " << differences << " differences in " << cases.size()
                  << " cases (the first " << reported << " reported above), by field:" << summary;
  }
  // The guards are for the odd case; most must be compared.
  EXPECT_LT(left_out, cases.size() / 4) << left_out << " cases parsed differently by Python";
}

constexpr std::size_t kCases = 3000;

TEST(PurePathDiff, PosixMatchesPython) {
  const Alphabet alphabet = full_alphabet(Flavour::posix);
  compare_with_python("PurePosixPath, PureWindowsPath", 11, alphabet,
                      all_fields<PurePosixPath, PureWindowsPath>(),
                      generate(alphabet, kCases, 20240601));
}

TEST(PurePathDiff, WindowsMatchesPython) {
  const Alphabet alphabet = full_alphabet(Flavour::windows);
  compare_with_python("PureWindowsPath, PurePosixPath", 11, alphabet,
                      all_fields<PureWindowsPath, PurePosixPath>(),
                      generate(alphabet, kCases, 20240602));
}

// relative_to(other, walk_up=True) is Python 3.12's; the paths are simple enough that 3.11
// and 3.12 parse them alike, and a case where they do not is left out rather than failed.
TEST(PurePathDiff, WalkUpMatchesPython312) {
  const std::optional<std::string> python = find_python(12);
  if (!python) GTEST_SKIP() << "no CPython 3.12 found";
  const ScopedPython scoped(*python);
  {
    SCOPED_TRACE("PurePosixPath");
    const Alphabet alphabet = simple_alphabet(Flavour::posix);
    compare_with_python("PurePosixPath, PureWindowsPath", 12, alphabet,
                        walk_up_fields<PurePosixPath>(), generate(alphabet, 2000, 312), 2);
  }
  {
    SCOPED_TRACE("PureWindowsPath");
    const Alphabet alphabet = simple_alphabet(Flavour::windows);
    compare_with_python("PureWindowsPath, PurePosixPath", 12, alphabet,
                        walk_up_fields<PureWindowsPath>(), generate(alphabet, 2000, 3120), 2);
  }
}

}  // namespace
}  // namespace batteries::pathlib
