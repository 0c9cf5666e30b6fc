// Tests for py_repr(), checked case by case against CPython's repr().
#include <batteries/errors.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
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

}  // namespace
}  // namespace batteries
