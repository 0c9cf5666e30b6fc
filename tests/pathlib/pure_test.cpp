// Pure paths: the examples of Python's pathlib documentation and the corner cases the issue
// names, each checked against the value CPython 3.11 gives.
#include <gtest/gtest.h>

#include <batteries/pathlib.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "raises.hpp"

namespace pl = batteries::pathlib;
using pl::PurePosixPath;
using pl::PureWindowsPath;
using Strings = std::vector<std::string>;

TEST(PurePath, ConstructionJoinsSegmentsAsPythonDoes) {
  EXPECT_EQ(PurePosixPath("foo", "some/path", "bar").str(), "foo/some/path/bar");
  EXPECT_EQ(PurePosixPath(std::filesystem::path("foo"), std::string("bar")).str(), "foo/bar");
  EXPECT_EQ(PurePosixPath("/etc", "/usr", "lib64").str(), "/usr/lib64");
  EXPECT_EQ(PureWindowsPath("c:/Windows", "d:bar").str(), "d:bar");
  EXPECT_EQ(PureWindowsPath("c:/Windows", "/Program Files").str(), "c:\\Program Files");
  EXPECT_EQ(PureWindowsPath("c:/a", "c:b").str(), "c:b");          // the constructor's rule
  EXPECT_EQ((PureWindowsPath("c:/a") / "c:b").str(), "c:\\a\\b");  // and joining's
  EXPECT_EQ(PurePosixPath("foo//bar").str(), "foo/bar");
  EXPECT_EQ(PurePosixPath("//foo/bar").str(), "//foo/bar");
  EXPECT_EQ(PurePosixPath("///foo/bar").str(), "/foo/bar");
  EXPECT_EQ(PurePosixPath("foo/./bar").str(), "foo/bar");
  EXPECT_EQ(PurePosixPath("foo/../bar").str(), "foo/../bar");
  EXPECT_EQ(PurePosixPath().str(), ".");
  EXPECT_EQ(PurePosixPath("").str(), ".");
  EXPECT_EQ(PureWindowsPath(PurePosixPath("a\\b")).parts(), (Strings{"a", "b"}));
  EXPECT_EQ(PurePosixPath(PureWindowsPath("c:/a")).str(), "c:\\/a");
}

TEST(PurePath, OperatorsJoinOnEitherSide) {
  const PurePosixPath p("/etc");
  EXPECT_EQ((p / "init.d" / "apache2").str(), "/etc/init.d/apache2");
  EXPECT_EQ(("/usr" / PurePosixPath("bin")).str(), "/usr/bin");
  EXPECT_EQ((p / PurePosixPath("/x")).str(), "/x");
  EXPECT_EQ(p.joinpath("a", "b").str(), "/etc/a/b");
  EXPECT_EQ(PureWindowsPath("c:").joinpath("/Program Files").str(), "c:\\Program Files");
}

TEST(PurePath, WindowsDrivesUncAndDevicePaths) {
  const PureWindowsPath unc("//host/share/foo.txt");
  EXPECT_EQ(unc.drive(), "\\\\host\\share");
  EXPECT_EQ(unc.root(), "\\");
  EXPECT_EQ(unc.anchor(), "\\\\host\\share\\");
  EXPECT_EQ(unc.parts(), (Strings{"\\\\host\\share\\", "foo.txt"}));
  EXPECT_EQ(PureWindowsPath("c:Program Files/").drive(), "c:");
  EXPECT_EQ(PureWindowsPath("c:Program Files/").root(), "");
  EXPECT_EQ(PureWindowsPath("/Program Files/").anchor(), "\\");
  const PureWindowsPath ext("\\\\?\\c:\\a\\b");
  EXPECT_EQ(ext.drive(), "\\\\?\\c:");
  EXPECT_EQ(ext.str(), "\\\\?\\c:\\a\\b");
  const PureWindowsPath ext_unc("\\\\?\\UNC\\server\\share\\x");
  EXPECT_EQ(ext_unc.drive(), "\\\\?\\UNC\\server\\share");
  EXPECT_EQ(ext_unc.name(), "x");
  EXPECT_EQ(PureWindowsPath("\\\\.\\device\\x").drive(), "\\\\.\\device");
  EXPECT_EQ(PureWindowsPath("c:/a/b").as_posix(), "c:/a/b");
  EXPECT_TRUE(PureWindowsPath("c:/a").is_absolute());
  EXPECT_FALSE(PureWindowsPath("/a").is_absolute());
  EXPECT_FALSE(PureWindowsPath("c:a").is_absolute());
  EXPECT_TRUE(PureWindowsPath("//some/share").is_absolute());
}

TEST(PurePath, NameSuffixAndStemFollowPythonNotStdFilesystem) {
  EXPECT_EQ(PurePosixPath("a/b/").name(), "b");
  EXPECT_EQ(PurePosixPath(".bashrc").suffix(), "");
  EXPECT_EQ(PurePosixPath(".bashrc").stem(), ".bashrc");
  EXPECT_EQ(PurePosixPath("bar.").suffix(), "");
  EXPECT_EQ(PurePosixPath("bar.").suffixes(), Strings{});
  EXPECT_EQ(PurePosixPath("my/library.tar.gz").suffix(), ".gz");
  EXPECT_EQ(PurePosixPath("my/library.tar.gz").suffixes(), (Strings{".tar", ".gz"}));
  EXPECT_EQ(PurePosixPath("my/library.tar.gz").stem(), "library.tar");
  EXPECT_EQ(PurePosixPath("..a.b").suffixes(), (Strings{".b"}));
  EXPECT_EQ(PurePosixPath("/").name(), "");
  EXPECT_EQ(PureWindowsPath("//some/share").name(), "");
  EXPECT_EQ(PureWindowsPath("c:/").name(), "");
}

TEST(PurePath, ParentAndParentsWithNegativeIndices) {
  const PureWindowsPath p("c:/foo/bar/setup.py");
  const auto parents = p.parents();
  ASSERT_EQ(parents.size(), 3U);
  EXPECT_EQ(parents[0].str(), "c:\\foo\\bar");
  EXPECT_EQ(parents[1].str(), "c:\\foo");
  EXPECT_EQ(parents[2].str(), "c:\\");
  EXPECT_EQ(parents[-1].str(), "c:\\");
  EXPECT_EQ(parents[-3].str(), "c:\\foo\\bar");
  EXPECT_RAISES_MSG((void)parents[3], batteries::IndexError, "3");
  EXPECT_RAISES_MSG((void)parents[-4], batteries::IndexError, "-4");
  Strings all;
  for (const auto& parent : parents) all.push_back(parent.str());
  EXPECT_EQ(all, (Strings{"c:\\foo\\bar", "c:\\foo", "c:\\"}));
  EXPECT_EQ(parents.repr(), "<PureWindowsPath.parents>");
  EXPECT_EQ(PurePosixPath("/a/b/c").parent().str(), "/a/b");
  EXPECT_EQ(PurePosixPath("/").parent().str(), "/");
  EXPECT_EQ(PurePosixPath(".").parent().str(), ".");
  EXPECT_EQ(PurePosixPath("foo/..").parent().str(), "foo");
  EXPECT_EQ(PurePosixPath("a/b").parents().size(), 2U);
  EXPECT_EQ(PurePosixPath("a/b").parents()[1].str(), ".");
}

TEST(PurePath, ReprAsUriAndReserved) {
  EXPECT_EQ(PurePosixPath("/usr/bin").repr(), "PurePosixPath('/usr/bin')");
  EXPECT_EQ(PureWindowsPath("c:\\a").repr(), "PureWindowsPath('c:/a')");
  EXPECT_EQ(PurePosixPath("/etc/passwd").as_uri(), "file:///etc/passwd");
  EXPECT_EQ(PurePosixPath("/a b/ü").as_uri(), "file:///a%20b/%C3%BC");
  EXPECT_EQ(PureWindowsPath("c:/Windows").as_uri(), "file:///c:/Windows");
  EXPECT_EQ(PureWindowsPath("//some/share/a.txt").as_uri(), "file://some/share/a.txt");
  EXPECT_RAISES_MSG((void)PurePosixPath("a").as_uri(), batteries::ValueError,
                    "relative path can't be expressed as a file URI");
  EXPECT_TRUE(PureWindowsPath("nul").is_reserved());
  EXPECT_TRUE(PureWindowsPath("c:/x/COM1.txt").is_reserved());
  EXPECT_TRUE(PureWindowsPath("aux :stream").is_reserved());
  EXPECT_FALSE(PureWindowsPath("//server/share/nul").is_reserved());
  EXPECT_FALSE(PurePosixPath("nul").is_reserved());
}

TEST(PurePath, ComparisonHashingAndFlavours) {
  EXPECT_EQ(PureWindowsPath("FOO"), PureWindowsPath("foo"));
  EXPECT_NE(PurePosixPath("FOO"), PurePosixPath("foo"));
  EXPECT_TRUE(PureWindowsPath("C:") < PureWindowsPath("d:"));
  EXPECT_FALSE(PurePosixPath("a") == PureWindowsPath("a"));
  EXPECT_TRUE(PurePosixPath("a/b") < PurePosixPath("a-b"));  // part by part, as Python
  EXPECT_TRUE(PurePosixPath("/a") < PurePosixPath("a"));
  EXPECT_EQ(std::hash<PureWindowsPath>()(PureWindowsPath("C:/ÄB")),
            std::hash<PureWindowsPath>()(PureWindowsPath("c:/äb")));
  EXPECT_EQ(PureWindowsPath("ΑΣ"), PureWindowsPath("ας"));  // final sigma, as str.lower()
  std::unordered_set<PurePosixPath> set{PurePosixPath("a/b"), PurePosixPath("a//b")};
  EXPECT_EQ(set.size(), 1U);
  std::ostringstream out;
  out << PurePosixPath("x/y");
  EXPECT_EQ(out.str(), "x/y");
  EXPECT_EQ(fmt::format("{}", PureWindowsPath("a/b")), "a\\b");
  const std::filesystem::path fs = PurePosixPath("/tmp/x");
  EXPECT_EQ(fs.native(), "/tmp/x");
}

TEST(PurePath, WithNameStemAndSuffixRaiseAsPython) {
  const PureWindowsPath p("c:/Downloads/pathlib.tar.gz");
  EXPECT_EQ(p.with_name("setup.py").str(), "c:\\Downloads\\setup.py");
  EXPECT_EQ(p.with_stem("lib").str(), "c:\\Downloads\\lib.gz");
  EXPECT_EQ(p.with_suffix(".bz2").str(), "c:\\Downloads\\pathlib.tar.bz2");
  EXPECT_EQ(PureWindowsPath("README").with_suffix(".txt").str(), "README.txt");
  EXPECT_EQ(PureWindowsPath("README.txt").with_suffix("").str(), "README");
  EXPECT_RAISES_MSG((void)PureWindowsPath("c:/").with_name("setup.py"), batteries::ValueError,
                    "PureWindowsPath('c:/') has an empty name");
  EXPECT_RAISES_MSG((void)p.with_name("d:/x"), batteries::ValueError, "Invalid name 'd:/x'");
  EXPECT_RAISES_MSG((void)p.with_name(""), batteries::ValueError, "Invalid name ''");
  EXPECT_RAISES_MSG((void)p.with_suffix("gz"), batteries::ValueError, "Invalid suffix 'gz'");
  EXPECT_RAISES_MSG((void)p.with_suffix("."), batteries::ValueError, "Invalid suffix '.'");
  EXPECT_RAISES_MSG((void)p.with_suffix("./x"), batteries::ValueError, "Invalid suffix './x'");
  EXPECT_EQ(PurePosixPath("a/b").with_name("c").str(), "a/c");
  EXPECT_EQ(PurePosixPath("b").with_name("c").str(), "c");
  EXPECT_EQ(PurePosixPath("/b").with_name("c").str(), "/c");
}

TEST(PurePath, RelativeToAndWalkUp) {
  const PurePosixPath p("/etc/passwd");
  EXPECT_EQ(p.relative_to("/").str(), "etc/passwd");
  EXPECT_EQ(p.relative_to("/etc").str(), "passwd");
  EXPECT_RAISES_MSG((void)p.relative_to("/usr"), batteries::ValueError,
                    "'/etc/passwd' is not in the subpath of '/usr' OR one path is relative and "
                    "the other is absolute.");
  EXPECT_TRUE(p.is_relative_to("/etc"));
  EXPECT_FALSE(p.is_relative_to("/usr"));
  EXPECT_EQ(PureWindowsPath("c:/").relative_to("c:").str(), "\\");
  EXPECT_EQ(PureWindowsPath("C:/Foo/Bar").relative_to("c:/foo").str(), "Bar");
  EXPECT_EQ(p.relative_to("/usr", {.walk_up = true}).str(), "../etc/passwd");
  EXPECT_EQ(p.relative_to("/etc/x/y", {.walk_up = true}).str(), "../../passwd");
  EXPECT_RAISES_MSG((void)p.relative_to("a", {.walk_up = true}), batteries::ValueError,
                    "'/etc/passwd' and 'a' have different anchors");
  EXPECT_RAISES_MSG((void)p.relative_to("/a/../b", {.walk_up = true}), batteries::ValueError,
                    "'..' segment in '/a/../b' cannot be walked");
}

TEST(PurePath, MatchFromTheRight) {
  EXPECT_TRUE(PurePosixPath("a/b.py").match("*.py"));
  EXPECT_TRUE(PurePosixPath("/a/b/c.py").match("b/*.py"));
  EXPECT_FALSE(PurePosixPath("/a/b/c.py").match("a/*.py"));
  EXPECT_TRUE(PurePosixPath("/a.py").match("/*.py"));
  EXPECT_FALSE(PurePosixPath("a/b.py").match("/*.py"));
  EXPECT_TRUE(PureWindowsPath("b.py").match("*.PY"));
  EXPECT_FALSE(PurePosixPath("b.py").match("*.PY"));
  EXPECT_TRUE(PurePosixPath("x.txt").match("[a-z].txt"));
  EXPECT_TRUE(PurePosixPath("-.txt").match("[!a-z].txt"));
  EXPECT_TRUE(PurePosixPath("[.txt").match("[.txt"));
  EXPECT_TRUE(PurePosixPath("é.txt").match("?.txt"));  // one character, two bytes
  EXPECT_FALSE(PurePosixPath("a.txt").match("[z-a].txt"));
  EXPECT_TRUE(PurePosixPath("a.txt").match("[!z-a].txt"));
  EXPECT_RAISES_MSG((void)PurePosixPath("a").match(""), batteries::ValueError, "empty pattern");
}

TEST(PurePath, NonUtf8NamesRoundTrip) {
  const std::string raw = "dir/\xff\xfe.bin";
  const PurePosixPath p(raw);
  EXPECT_EQ(p.str(), raw);
  EXPECT_EQ(p.name(), "\xff\xfe.bin");
  EXPECT_EQ(p.suffix(), ".bin");
  EXPECT_TRUE(p.match("??.bin"));
  EXPECT_EQ(p.repr(), "PurePosixPath('dir/\\udcff\\udcfe.bin')");
  // Ordered as Python orders the surrogates: after U+00E9, before U+E000.
  EXPECT_LT(PurePosixPath("\xc3\xa9"), PurePosixPath("\x80"));
  EXPECT_LT(PurePosixPath("\x80"), PurePosixPath("\xee\x80\x80"));
  EXPECT_LT(PureWindowsPath("\xc3\x89"), PureWindowsPath("\x80"));
}

// Python 3.12's rule: a new name holding a separator, or ".", is refused (3.11 took "./b"
// and made a path whose text does not parse back to its parts).
TEST(PurePath, WithNameRefusesSeparators) {
  EXPECT_RAISES_MSG((void)PurePosixPath("x/a").with_name("./b"), batteries::ValueError,
                    "Invalid name './b'");
  EXPECT_RAISES_MSG((void)PurePosixPath("x/a").with_name("b/."), batteries::ValueError,
                    "Invalid name 'b/.'");
  EXPECT_RAISES_MSG((void)PurePosixPath("x/a").with_name("."), batteries::ValueError,
                    "Invalid name '.'");
  EXPECT_RAISES_MSG((void)PureWindowsPath("x/a").with_name("a\\b"), batteries::ValueError,
                    "Invalid name 'a\\\\b'");
  EXPECT_RAISES((void)PurePosixPath("x/a").with_stem("./b"), batteries::ValueError);
  EXPECT_EQ(PurePosixPath("x/a").with_name("..").str(), "x/..");
  EXPECT_EQ(PurePosixPath("x/a").with_name("a\\b").str(), "x/a\\b");
}
