// Differential test: the same enums in C++ and in CPython, every value in a range compared.
#include <gtest/gtest.h>

#include <batteries/enum.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "python.hpp"

namespace e = batteries::enums;

namespace diff {
BATTERIES_FLAG(DStrict, unsigned, (A, 1), (B, 2), (C, 8));
BATTERIES_FLAG(DConform, unsigned, (A, 1), (B, 2), (C, 8));
BATTERIES_ENUM_OPTIONS(DConform, .boundary = CONFORM);
BATTERIES_FLAG(DKeep, unsigned, (A, 1), (B, 2), (C, 8));
BATTERIES_ENUM_OPTIONS(DKeep, .boundary = KEEP);
BATTERIES_FLAG(DEject, unsigned, (A, 1), (B, 2), (C, 8));
BATTERIES_ENUM_OPTIONS(DEject, .boundary = EJECT);
BATTERIES_INT_FLAG(DInt, unsigned, (R, 4), (W, 2), (X, 1), (RW, 6));
BATTERIES_FLAG(DMulti, unsigned, (BLACK, 0), (A, 1), (BC, 6), (D, 16));
BATTERIES_INT_FLAG(DSigned, int, (P, 1), (Q, 4));
BATTERIES_ENUM_OPTIONS(DSigned, .boundary = STRICT);
BATTERIES_FLAG(DAuto, unsigned, A, (B, 8), C, (BOTH, A | C));
BATTERIES_ENUM(DEnum, int, (A, 5), (B, 1), C, (D, -7), E, (F, 1));
BATTERIES_INT_ENUM(DIntEnum, int, (LOW, -3), MID, (TOP, 40), (ALSO_LOW, -3));
}  // namespace diff

namespace {

const char* const kPythonDefinitions = R"PY(
from enum import Enum, IntEnum, Flag, IntFlag, auto, STRICT, CONFORM, EJECT, KEEP
import warnings
warnings.simplefilter('ignore')
class DStrict(Flag):
    A = 1; B = 2; C = 8
class DConform(Flag, boundary=CONFORM):
    A = 1; B = 2; C = 8
class DKeep(Flag, boundary=KEEP):
    A = 1; B = 2; C = 8
class DEject(Flag, boundary=EJECT):
    A = 1; B = 2; C = 8
class DInt(IntFlag):
    R = 4; W = 2; X = 1; RW = 6
class DMulti(Flag):
    BLACK = 0; A = 1; BC = 6; D = 16
class DSigned(IntFlag, boundary=STRICT):
    P = 1; Q = 4
class DAuto(Flag):
    A = auto(); B = 8; C = auto(); BOTH = A | C
class DEnum(Enum):
    A = 5; B = 1; C = auto(); D = -7; E = auto(); F = 1
class DIntEnum(IntEnum):
    LOW = -3; MID = auto(); TOP = 40; ALSO_LOW = -3
)PY";

const char* const kPythonReport = R"PY(
LOW = {c: 0 for c in [DStrict, DConform, DKeep, DEject, DInt, DMulti, DAuto]}
HIGH = {c: 2**32 - 1 for c in LOW}
LOW[DSigned], HIGH[DSigned] = -2**31, 2**31 - 1
VALUES = list(range(-40, 41)) + [255, 256, 1000, 2**31 - 1, 2**32 - 1]
for cls in [DStrict, DConform, DKeep, DEject, DInt, DMulti, DSigned, DAuto, DEnum, DIntEnum]:
    print('class', cls.__name__, [m.name for m in cls], list(cls.__members__))
    for v in VALUES:
        try:
            m = cls(v)
        except ValueError as exc:
            print(v, 'ValueError', repr(str(exc)))
            continue
        if not isinstance(m, cls):
            print(v, 'ejected', m)
            continue
        line = [str(v), repr(m), str(m), repr(m.name)]
        if issubclass(cls, Flag):
            inv = ~m
            if not isinstance(inv, cls):
                inv = 'ejected'  # C++ gives the complement within the members instead
            elif not LOW[cls] <= inv._value_ <= HIGH[cls]:
                inv = 'overflow'  # wider than the C++ underlying type
            else:
                inv = repr(inv)
            # For a bit only a multi-bit member has, Python yields None or a nameless value; the
            # C++ iteration yields members only.
            line += [inv, str(len(m)), repr([x.name for x in m if x is not None and x.name is not None])]
        print(*line)
)PY";

std::string py_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i ? ", '" : "'") + items[i] + "'";
  }
  return out + "]";
}

std::string py_str_repr(const std::string& s) {
  // Python's repr() of the messages compared here: quotes, and \n for newlines.
  // Like Python, quote with ' unless the text has a ' and no ".
  const char quote =
      s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == quote) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + quote;
}

template <class E>
void report(std::ostream& os, const std::vector<long long>& values) {
  std::vector<std::string> canonical;
  for (E m : e::members<E>()) {
    if constexpr (e::FlagEnumeration<E>) {
      canonical.push_back(*e::name(m));
    } else {
      canonical.emplace_back(e::name(m));
    }
  }
  std::vector<std::string> all;
  for (const auto& m : e::members_with_aliases<E>()) all.emplace_back(m.name);
  os << "class " << e::type_name<E>() << ' ' << py_list(canonical) << ' ' << py_list(all) << '\n';
  for (long long v : values) {
    E m{};
    try {
      m = e::from_value<E>(v);
    } catch (const batteries::ValueError& exc) {
      os << v << " ValueError " << py_str_repr(exc.what()) << '\n';
      continue;
    }
    if constexpr (e::FlagEnumeration<E>) {
      if (e::boundary<E>() == e::EJECT && !e::try_from_value<E>(v)) {
        os << v << " ejected " << v << '\n';
        continue;
      }
      const auto n = e::name(m);
      using namespace e::operators;
      std::string inv = e::repr(~m);
      if (e::boundary<E>() == e::EJECT &&
          !e::try_from_value<E>(~static_cast<long long>(e::value(m)))) {
        inv = "ejected";
      }
      if (e::boundary<E>() == e::KEEP &&
          !e::try_from_value<E>(~static_cast<long long>(e::value(m)))) {
        inv = "overflow";
      }
      os << v << ' ' << e::repr(m) << ' ' << e::str(m) << ' '
         << (n ? py_str_repr(*n) : std::string("None")) << ' ' << inv << ' ' << e::count(m) << ' ';
      std::vector<std::string> it;
      for (E x : e::members(m)) it.push_back(*e::name(x));
      os << py_list(it) << '\n';
    } else {
      os << v << ' ' << e::repr(m) << ' ' << e::str(m) << ' '
         << py_str_repr(std::string(e::name(m))) << '\n';
    }
  }
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(EnumPythonDiff, EveryValueMatchesCPython) {
  const auto python =
      batteries::testing::run_python(std::string(kPythonDefinitions) + kPythonReport);
  if (!python) GTEST_SKIP() << "no python3";
  std::vector<long long> values;
  for (long long v = -40; v <= 40; ++v) values.push_back(v);
  for (long long v : {255LL, 256LL, 1000LL, 2147483647LL, 4294967295LL}) values.push_back(v);

  std::ostringstream os;
  using namespace diff;
  report<DStrict>(os, values);
  report<DConform>(os, values);
  report<DKeep>(os, values);
  report<DEject>(os, values);
  report<DInt>(os, values);
  report<DMulti>(os, values);
  report<DSigned>(os, values);
  report<DAuto>(os, values);
  report<DEnum>(os, values);
  report<DIntEnum>(os, values);

  const auto want = lines(*python);
  const auto got = lines(os.str());
  ASSERT_GT(want.size(), 800u);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    const std::string w = i < want.size() ? want[i] : "<missing>";
    const std::string g = i < got.size() ? got[i] : "<missing>";
    if (w != g && ++mismatches <= 20) ADD_FAILURE() << "python: " << w << "\nbatteries: " << g;
  }
  EXPECT_EQ(mismatches, 0u);
}
