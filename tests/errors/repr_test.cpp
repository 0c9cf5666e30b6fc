// Tests for py_repr(), checked case by case against CPython's repr().
#include <batteries/errors.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "python.hpp"

namespace batteries {
namespace {

TEST(PyRepr, Basics) {
  EXPECT_EQ(py_repr(""), "''");
  EXPECT_EQ(py_repr("abc"), "'abc'");
  EXPECT_EQ(py_repr("it's"), "\"it's\"");
  EXPECT_EQ(py_repr("'\""), "'\\'\"'");
  EXPECT_EQ(py_repr("a\\b"), "'a\\\\b'");
  EXPECT_EQ(py_repr("\t\n\r"), "'\\t\\n\\r'");
  EXPECT_EQ(py_repr(std::string("\0\x1f\x7f", 3)), "'\\x00\\x1f\\x7f'");
  EXPECT_EQ(py_repr("caf\xc3\xa9"), "'caf\xc3\xa9'");
  // Not UTF-8: each byte as the surrogate os.fsdecode() gives it (repr(os.fsdecode(b'\xff'))).
  EXPECT_EQ(py_repr("\xff"), "'\\udcff'");
}

// Differential: the same texts through Python's repr().
TEST(PyRepr, AgreesWithCPython) {
  const std::vector<std::string> cases = {
      "plain",
      "it's",
      "say \"hi\"",
      "both ' and \"",
      "back\\slash",
      "tab\there",
      "nl\nhere",
      "bell\a",
      "del\x7f",
      "\xc2\xa0nbsp",
      "\xc2\x85nel",
      "caf\xc3\xa9",
      "\xe2\x82\xac euro",
      "\xf0\x9f\x90\x8d snake",
      "soft\xc2\xadhyphen",
      "line\xe2\x80\xa8sep",
      "zero\xe2\x80\x8bwidth",
      "bom\xef\xbb\xbf",
      "ideo\xe3\x80\x80space",
      "private\xee\x80\x80",
      "nonchar\xef\xbf\xbf",
      "plane16\xf4\x8f\xbf\xbd",
      "tag\xf3\xa0\x80\x81",
      "variation\xf3\xa0\x84\x80",
      "arabic\xd8\x80",
      "cjk\xe4\xb8\xad",
      "greek\xce\xb1",
  };
  std::string script = "import sys\nfor line in sys.argv[1:]: pass\nxs = [";
  for (const auto& c : cases) {
    script += "bytes.fromhex('";
    for (unsigned char ch : c) {
      static const char* hex = "0123456789abcdef";
      script += hex[ch >> 4];
      script += hex[ch & 15];
    }
    script += "').decode('utf-8'),";
  }
  script += "]\nfor x in xs: sys.stdout.buffer.write(repr(x).encode('utf-8') + b'\\n')\n";
  const auto python = testing::run_python(script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  std::string expected;
  for (const auto& c : cases) {
    ASSERT_TRUE(std::getline(lines, expected));
    EXPECT_EQ(py_repr(c), expected) << "for " << c;
  }
}

TEST(PyReprFloat, Basics) {
  EXPECT_EQ(py_repr(0.0), "0.0");
  EXPECT_EQ(py_repr(-0.0), "-0.0");
  EXPECT_EQ(py_repr(1.0), "1.0");
  EXPECT_EQ(py_repr(-2.5), "-2.5");
  EXPECT_EQ(py_repr(0.1), "0.1");
  EXPECT_EQ(py_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(py_repr(1e16), "1e+16");
  EXPECT_EQ(py_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(py_repr(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(py_repr(9999999999999998.0), "9999999999999998.0");
  EXPECT_EQ(py_repr(0.0001), "0.0001");
  EXPECT_EQ(py_repr(0.00001), "1e-05");
  EXPECT_EQ(py_repr(0.00012345), "0.00012345");
  EXPECT_EQ(py_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(py_repr(1e100), "1e+100");
  EXPECT_EQ(py_repr(5e-324), "5e-324");
  EXPECT_EQ(py_repr(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(py_repr(std::numeric_limits<double>::min()), "2.2250738585072014e-308");
  EXPECT_EQ(py_repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(py_repr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(py_repr(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(py_repr(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(py_repr(1.0f), "1.0");
  // A string literal still means the str overload.
  EXPECT_EQ(py_repr("1.0"), "'1.0'");
}

// Differential: random bit patterns (subnormals, NaNs and infinities included), random values
// of every magnitude, powers of ten and their neighbours, through Python's repr().
TEST(PyReprFloat, AgreesWithCPython) {
  const std::string script = R"(
import math, random, struct
R = random.Random(20240611)
def bits(x): return struct.unpack('<Q', struct.pack('<d', x))[0]
xs = []
for _ in range(20000):
    xs.append(struct.unpack('<d', R.getrandbits(64).to_bytes(8, 'little'))[0])
for _ in range(20000):
    xs.append(R.choice([-1, 1]) * R.random() * float('1e%d' % R.randint(-330, 308)))
for _ in range(5000):
    xs.append(float(R.randint(-10**17, 10**17)))
for _ in range(5000):
    xs.append(struct.unpack('<d', R.getrandbits(52).to_bytes(8, 'little'))[0])
for e in range(-325, 309):
    x = float('1e%d' % e)
    xs += [x, -x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
for e in range(-1075, 1024):
    x = math.ldexp(1.0, e)
    xs += [x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
xs += [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 2.2250738585072014e-308,
       2.225073858507201e-308, 1.7976931348623157e+308, 0.1, 0.2, 0.3, 1/3, 2/3]
print('\n'.join('%016x %s' % (bits(x), repr(x)) for x in xs))
)";
  const auto python = testing::run_python(script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  std::string line;
  int checked = 0;
  int failures = 0;
  while (std::getline(lines, line)) {
    const std::size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    const double x = std::bit_cast<double>(std::stoull(line.substr(0, space), nullptr, 16));
    const std::string expected = line.substr(space + 1);
    if (py_repr(x) != expected && ++failures <= 20) {
      ADD_FAILURE() << "py_repr(" << line.substr(0, space) << ") = " << py_repr(x)
                    << ", Python says " << expected;
    }
    ++checked;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(checked, 50000);
}

}  // namespace
}  // namespace batteries
