// Tests of tracemalloc's value classes and Snapshot on hand-built traces, against Python's docs.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>
#include <batteries/tracemalloc/tracing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs.hpp"
#include "raises.hpp"
#include "tracemalloc/raw.hpp"
#include "tracemalloc/symbolize.hpp"
#include "tracemalloc/tracer.hpp"

namespace batteries::tracemalloc::detail {
// Defined in src/tracemalloc/snapshot.cpp: how many leading frames are the allocator's.
std::size_t allocator_frames(const std::vector<Frame>& most_recent_first);
}  // namespace batteries::tracemalloc::detail

namespace {

using namespace batteries::tracemalloc;
using batteries::IndexError;
using batteries::ValueError;

// A traceback from "file:line" frames given most recent first, as Python's constructor takes.
Traceback tb(std::vector<Frame> most_recent_first,
             std::optional<std::size_t> total = std::nullopt) {
  return Traceback(std::move(most_recent_first), total);
}

Trace trace(std::size_t size, std::vector<Frame> most_recent_first, Domain domain = 0) {
  return Trace{domain, size, tb(std::move(most_recent_first))};
}

std::vector<std::string> strs(const auto& values) {
  std::vector<std::string> out;
  for (const auto& v : values) out.push_back(v.str());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Frame

TEST(SnapshotFrame, StrAndRepr) {
  const Frame frame{"a.cpp", 12};
  EXPECT_EQ(frame.str(), "a.cpp:12");
  EXPECT_EQ(frame.repr(), "<Frame filename='a.cpp' lineno=12>");
  // Python's repr of the string picks its quotes and escapes.
  EXPECT_EQ((Frame{"it's.cpp", 1}).repr(), "<Frame filename=\"it's.cpp\" lineno=1>");
  EXPECT_EQ((Frame{"a\"b'c.cpp", 1}).repr(), "<Frame filename='a\"b\\'c.cpp' lineno=1>");
  // Line 0 of a plain file is still "file:0" (Python's 'filename' statistics use it).
  EXPECT_EQ((Frame{"a.cpp", 0}).str(), "a.cpp:0");
}

TEST(SnapshotFrame, NativeFrameWithoutLineInfo) {
  const Frame frame{"/usr/lib/libfoo.so", 0, "foo()", "/usr/lib/libfoo.so", 0x1a2b};
  EXPECT_EQ(frame.str(), "/usr/lib/libfoo.so+0x1a2b");
  EXPECT_EQ(frame.repr(), "<Frame filename='/usr/lib/libfoo.so' lineno=0>");
  // With a line, the module is not shown.
  const Frame with_line{"foo.cpp", 3, "foo()", "/usr/lib/libfoo.so", 0x1a2b};
  EXPECT_EQ(with_line.str(), "foo.cpp:3");
}

TEST(SnapshotFrame, EqualityAndOrdering) {
  EXPECT_EQ((Frame{"a.cpp", 1}), (Frame{"a.cpp", 1}));
  EXPECT_NE((Frame{"a.cpp", 1}), (Frame{"a.cpp", 2}));
  EXPECT_NE((Frame{"a.cpp", 1}), (Frame{"b.cpp", 1}));
  EXPECT_NE((Frame{"a.cpp", 1, "f"}), (Frame{"a.cpp", 1, "g"}));
  EXPECT_LT((Frame{"a.cpp", 9}), (Frame{"b.cpp", 1}));
  EXPECT_LT((Frame{"a.cpp", 1}), (Frame{"a.cpp", 2}));
  EXPECT_LT((Frame{"a.cpp", 1, "f"}), (Frame{"a.cpp", 1, "g"}));
  // With a line, the offset (and module) do not matter: inlined copies of one line are one.
  EXPECT_EQ((Frame{"a.cpp", 1, "f", "m1", 10}), (Frame{"a.cpp", 1, "f", "m2", 20}));
  EXPECT_EQ((Frame{"a.cpp", 1, "f", "m1", 10} <=> Frame{"a.cpp", 1, "f", "m2", 20}),
            std::strong_ordering::equal);
  // Without a line, two offsets are two places.
  EXPECT_NE((Frame{"m.so", 0, "f", "m.so", 10}), (Frame{"m.so", 0, "f", "m.so", 20}));
  EXPECT_LT((Frame{"m.so", 0, "f", "m.so", 10}), (Frame{"m.so", 0, "f", "m.so", 20}));
}

TEST(SnapshotFrame, HashAgreesWithEquality) {
  std::hash<Frame> h;
  EXPECT_EQ(h(Frame{"a.cpp", 1, "f", "m1", 10}), h(Frame{"a.cpp", 1, "f", "m2", 20}));
  std::unordered_set<Frame> set{Frame{"a.cpp", 1}, Frame{"a.cpp", 1}, Frame{"a.cpp", 2},
                                Frame{"m.so", 0, "", "m.so", 1}, Frame{"m.so", 0, "", "m.so", 2}};
  EXPECT_EQ(set.size(), 4u);
}

TEST(SnapshotFrame, Printing) {
  std::ostringstream os;
  os << Frame{"a.cpp", 12};
  EXPECT_EQ(os.str(), "a.cpp:12");
  EXPECT_EQ(fmt::format("[{}]", Frame{"a.cpp", 12}), "[a.cpp:12]");
}

// ---------------------------------------------------------------------------------------------
// Traceback

TEST(SnapshotTraceback, StoresOldestFirst) {
  const Traceback t = tb({{"c.cpp", 3}, {"b.cpp", 2}, {"a.cpp", 1}}, 7);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t[0], (Frame{"a.cpp", 1}));
  EXPECT_EQ(t[2], (Frame{"c.cpp", 3}));
  EXPECT_EQ(t.frames().front(), (Frame{"a.cpp", 1}));
  EXPECT_EQ(t.frames().back(), (Frame{"c.cpp", 3}));
  EXPECT_EQ(t.at(-1), (Frame{"c.cpp", 3}));
  EXPECT_EQ(t.at(-3), (Frame{"a.cpp", 1}));
  EXPECT_EQ(t.at(1), (Frame{"b.cpp", 2}));
  EXPECT_EQ(t.total_nframe(), 7u);
  std::vector<std::string> seen;
  for (const Frame& f : t) seen.push_back(f.str());
  EXPECT_EQ(seen, (std::vector<std::string>{"a.cpp:1", "b.cpp:2", "c.cpp:3"}));
}

TEST(SnapshotTraceback, IndexErrors) {
  const Traceback t = tb({{"b.cpp", 2}, {"a.cpp", 1}});
  EXPECT_RAISES_MSG((void)t.at(2), IndexError, "tuple index out of range");
  EXPECT_RAISES_MSG((void)t.at(-3), IndexError, "tuple index out of range");
  EXPECT_RAISES_MSG((void)t[2], IndexError, "tuple index out of range");
  const Traceback empty;
  EXPECT_RAISES(static_cast<void>(empty.at(0)), IndexError);
  EXPECT_RAISES(static_cast<void>(empty.at(-1)), IndexError);
}

TEST(SnapshotTraceback, DefaultIsEmpty) {
  const Traceback t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.total_nframe(), std::nullopt);
  EXPECT_EQ(t.repr(), "<Traceback ()>");
  EXPECT_TRUE(t.format().empty());
  // Python's str(traceback) is str(self[0]): an empty one raises.
  EXPECT_RAISES_MSG((void)t.str(), IndexError, "tuple index out of range");
  EXPECT_EQ(t, Traceback(std::vector<Frame>{}));
  EXPECT_EQ(t.hash(), Traceback(std::vector<Frame>{}).hash());
}

TEST(SnapshotTraceback, MovedFromReadsEmpty) {
  Traceback a = tb({{"a.cpp", 1}});
  Traceback b = std::move(a);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): a moved-from value is valid
  EXPECT_TRUE(a.frames().empty());
  EXPECT_EQ(a, Traceback());
}

TEST(SnapshotTraceback, Contains) {
  const Traceback t = tb({{"b.cpp", 2}, {"a.cpp", 1}});
  EXPECT_TRUE(t.contains(Frame{"a.cpp", 1}));
  EXPECT_TRUE(t.contains(Frame{"b.cpp", 2}));
  EXPECT_FALSE(t.contains(Frame{"a.cpp", 2}));
  EXPECT_FALSE(Traceback().contains(Frame{"a.cpp", 1}));
}

TEST(SnapshotTraceback, StrIsTheOldestFrame) {
  EXPECT_EQ(tb({{"b.cpp", 7}, {"a.cpp", 3}}).str(), "a.cpp:3");
  std::ostringstream os;
  os << tb({{"b.cpp", 7}, {"a.cpp", 3}});
  EXPECT_EQ(os.str(), "a.cpp:3");
  EXPECT_EQ(fmt::format("{}", tb({{"b.cpp", 7}})), "b.cpp:7");
}

TEST(SnapshotTraceback, ReprIsPythonsTupleRepr) {
  EXPECT_EQ(tb({{"b.cpp", 7}, {"a.cpp", 3}}, 5).repr(),
            "<Traceback (<Frame filename='a.cpp' lineno=3>, <Frame filename='b.cpp' lineno=7>) "
            "total_nframe=5>");
  EXPECT_EQ(tb({{"a.cpp", 3}}).repr(), "<Traceback (<Frame filename='a.cpp' lineno=3>,)>");
  EXPECT_EQ(tb({}, 0).repr(), "<Traceback () total_nframe=0>");
}

TEST(SnapshotTraceback, ComparesLikeTuples) {
  // total_nframe is not part of equality, as in Python.
  EXPECT_EQ(tb({{"a.cpp", 1}}, 3), tb({{"a.cpp", 1}}));
  EXPECT_EQ(tb({{"a.cpp", 1}}, 3).hash(), tb({{"a.cpp", 1}}).hash());
  EXPECT_NE(tb({{"a.cpp", 1}}), tb({{"a.cpp", 2}}));
  // Oldest first, lexicographically; a prefix is smaller.
  EXPECT_LT(tb({{"z.cpp", 1}, {"a.cpp", 1}}), tb({{"a.cpp", 1}, {"b.cpp", 1}}));
  EXPECT_LT(tb({{"a.cpp", 1}}), tb({{"b.cpp", 1}, {"a.cpp", 1}}));
  EXPECT_LT(Traceback(), tb({{"a.cpp", 1}}));
  const Traceback t = tb({{"a.cpp", 1}});
  const Traceback copy = t;
  EXPECT_EQ(t <=> copy, std::strong_ordering::equal);
  EXPECT_EQ(&t.frames(), &copy.frames());  // copies share their frames
}

class SnapshotTracebackFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = batteries::testing::make_temp_dir("snapshot-format");
    m_a = m_dir + "/a.cpp";
    m_b = m_dir + "/b.cpp";
    batteries::testing::write_file(m_a,
                                   "int a = 1;\n  \tint two = 2;  \n\nlast line without newline");
    batteries::testing::write_file(m_b, "// b\r\n    call_a();\r\nthird\rfourth\n");
  }
  void TearDown() override { batteries::testing::remove_tree(m_dir); }

  std::string m_dir;
  std::string m_a;
  std::string m_b;
};

TEST_F(SnapshotTracebackFormat, LinesAsPython) {
  // Most recent first: a.cpp:2 was called from b.cpp:2.
  const Traceback t = tb({{m_a, 2}, {m_b, 2}});
  EXPECT_EQ(t.format(), (std::vector<std::string>{
                            "  File \"" + m_b + "\", line 2",
                            "    call_a();",
                            "  File \"" + m_a + "\", line 2",
                            "    int two = 2;",
                        }));
  EXPECT_EQ(t.format(std::nullopt, true), (std::vector<std::string>{
                                              "  File \"" + m_a + "\", line 2",
                                              "    int two = 2;",
                                              "  File \"" + m_b + "\", line 2",
                                              "    call_a();",
                                          }));
}

TEST_F(SnapshotTracebackFormat, Limits) {
  const Traceback t = tb({{m_a, 1}, {m_b, 3}, {m_b, 4}});  // oldest: b:4, b:3, a:1
  auto firsts = [](const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& line : lines) {
      if (line.starts_with("  File")) out.push_back(line.substr(line.rfind(' ') + 1));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(firsts(t.format()), (V{"4", "3", "1"}));
  EXPECT_EQ(firsts(t.format(1)), (V{"1"}));  // self[-1:]: the most recent
  EXPECT_EQ(firsts(t.format(2)), (V{"3", "1"}));
  EXPECT_EQ(firsts(t.format(5)), (V{"4", "3", "1"}));
  EXPECT_EQ(firsts(t.format(0)), V{});             // self[:0]
  EXPECT_EQ(firsts(t.format(-1)), (V{"4", "3"}));  // self[:-1]: all but the most recent
  EXPECT_EQ(firsts(t.format(-3)), V{});
  EXPECT_EQ(firsts(t.format(-5)), V{});
  EXPECT_EQ(firsts(t.format(2, true)), (V{"1", "3"}));
  EXPECT_EQ(firsts(t.format(-1, true)), (V{"3", "4"}));
}

TEST_F(SnapshotTracebackFormat, SourceLinesAsLinecache) {
  auto line_of = [](const std::string& file, int lineno) {
    const auto lines = tb({{file, lineno}}).format();
    return lines.size() == 2 ? lines[1] : std::string("<none>");
  };
  EXPECT_EQ(line_of(m_a, 1), "    int a = 1;");
  EXPECT_EQ(line_of(m_a, 3), "<none>");  // a blank line prints nothing
  EXPECT_EQ(line_of(m_a, 4), "    last line without newline");
  EXPECT_EQ(line_of(m_a, 5), "<none>");
  EXPECT_EQ(line_of(m_a, 0), "<none>");
  EXPECT_EQ(line_of(m_a, -1), "<none>");
  // \r\n and a lone \r end lines too (universal newlines).
  EXPECT_EQ(line_of(m_b, 1), "    // b");
  EXPECT_EQ(line_of(m_b, 3), "    third");
  EXPECT_EQ(line_of(m_b, 4), "    fourth");
  EXPECT_EQ(line_of(m_dir + "/missing.cpp", 1), "<none>");
  EXPECT_EQ(line_of(m_dir, 1), "<none>");  // a directory
  EXPECT_EQ(line_of("<unknown>", 0), "<none>");
}

TEST_F(SnapshotTracebackFormat, EncodingAsTokenize) {
  const std::string bom = m_dir + "/bom.cpp";
  batteries::testing::write_file(bom, "\xef\xbb\xbf  first\n\xc3\xa9t\xc3\xa9\xc2\xa0\n");
  EXPECT_EQ(tb({{bom, 1}}).format()[1], "    first");
  EXPECT_EQ(tb({{bom, 2}}).format()[1], "    \xc3\xa9t\xc3\xa9");  // U+00A0 is stripped
  // Not UTF-8: Python's tokenize.open fails and linecache has no lines.
  const std::string latin = m_dir + "/latin.cpp";
  batteries::testing::write_file(latin, "ok\n\xe9t\xe9\n");
  EXPECT_EQ(tb({{latin, 1}}).format().size(), 1u);
}

TEST_F(SnapshotTracebackFormat, NativeFrameNamesItsFunction) {
  const Traceback t = tb({{m_a, 1, "ns::f(int)", "/bin/x", 0x10}});
  EXPECT_EQ(t.format(), (std::vector<std::string>{"  File \"" + m_a + "\", line 1, in ns::f(int)",
                                                  "    int a = 1;"}));
}

// ---------------------------------------------------------------------------------------------
// Trace, Statistic, StatisticDiff: strings computed with CPython 3.11.

TEST(SnapshotTrace, StrAndRepr) {
  const Trace t{0, 1536, tb({{"b.cpp", 7}, {"a.cpp", 3}}, 5)};
  EXPECT_EQ(t.str(), "a.cpp:3: 1536 B");
  EXPECT_EQ(t.repr(),
            "<Trace domain=0 size=1536 B, traceback=<Traceback (<Frame filename='a.cpp' "
            "lineno=3>, <Frame filename='b.cpp' lineno=7>) total_nframe=5>>");
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), t.str());
  EXPECT_EQ(fmt::format("{}", t), t.str());
  EXPECT_EQ(t, (Trace{0, 1536, tb({{"b.cpp", 7}, {"a.cpp", 3}})}));
  EXPECT_NE(t, (Trace{1, 1536, tb({{"b.cpp", 7}, {"a.cpp", 3}})}));
}

TEST(SnapshotStatistic, StrAndRepr) {
  const Statistic s{tb({{"a.cpp", 12}}), 3 * 1024 * 1024 + 5, 3};
  EXPECT_EQ(s.str(), "a.cpp:12: size=3072 KiB, count=3, average=1024 KiB");
  EXPECT_EQ(s.repr(),
            "<Statistic traceback=<Traceback (<Frame filename='a.cpp' lineno=12>,)> "
            "size=3145733 count=3>");
  EXPECT_EQ((Statistic{tb({{"a.cpp", 1}}), 0, 0}).str(), "a.cpp:1: size=0 B, count=0");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), s.str());
  EXPECT_EQ(fmt::format("{}", s), s.str());
}

TEST(SnapshotStatistic, FormatSizeRules) {
  auto size_of = [](std::size_t size) {
    const std::string text = Statistic{tb({{"a", 1}}), size, 0}.str();
    return text.substr(text.find("size=") + 5, text.find(", count") - text.find("size=") - 5);
  };
  EXPECT_EQ(size_of(0), "0 B");
  EXPECT_EQ(size_of(99), "99 B");
  EXPECT_EQ(size_of(10239), "10239 B");
  EXPECT_EQ(size_of(10240), "10.0 KiB");
  EXPECT_EQ(size_of(10291), "10.0 KiB");
  EXPECT_EQ(size_of(102400), "100 KiB");
  EXPECT_EQ(size_of(10 * 1024 * 1024 - 1), "10240 KiB");
  EXPECT_EQ(size_of(std::size_t{5} << 30), "5120 MiB");
  EXPECT_EQ(size_of(std::size_t{12345} << 40), "12345 TiB");
  EXPECT_EQ(size_of(std::size_t{3} << 50), "3072 TiB");
  // "%.0f" rounds half to even, as Python's: averages 0.5, 2.5 and 1.5.
  EXPECT_EQ((Statistic{tb({{"a", 1}}), 1, 2}).str(), "a:1: size=1 B, count=2, average=0 B");
  EXPECT_EQ((Statistic{tb({{"a", 1}}), 5, 2}).str(), "a:1: size=5 B, count=2, average=2 B");
  EXPECT_EQ((Statistic{tb({{"a", 1}}), 3, 2}).str(), "a:1: size=3 B, count=2, average=2 B");
}

TEST(SnapshotStatisticDiff, StrAndRepr) {
  const StatisticDiff d{tb({{"a.cpp", 12}}), 1048576, -2048, 3, -1};
  EXPECT_EQ(d.str(), "a.cpp:12: size=1024 KiB (-2048 B), count=3 (-1), average=341 KiB");
  EXPECT_EQ(d.repr(),
            "<StatisticDiff traceback=<Traceback (<Frame filename='a.cpp' lineno=12>,)> "
            "size=1048576 (-2048) count=3 (-1)>");
  const StatisticDiff zero{tb({{"a.cpp", 12}}), 0, 0, 0, 0};
  EXPECT_EQ(zero.str(), "a.cpp:12: size=0 B (+0 B), count=0 (+0)");
  EXPECT_EQ(zero.repr(),
            "<StatisticDiff traceback=<Traceback (<Frame filename='a.cpp' lineno=12>,)> "
            "size=0 (+0) count=0 (+0)>");
  const StatisticDiff grew{tb({{"a.cpp", 1}}), 20480, 20480, 2, 2};
  EXPECT_EQ(grew.str(), "a.cpp:1: size=20.0 KiB (+20.0 KiB), count=2 (+2), average=10.0 KiB");
  std::ostringstream os;
  os << d;
  EXPECT_EQ(os.str(), d.str());
  EXPECT_EQ(fmt::format("{}", d), d.str());
}

// ---------------------------------------------------------------------------------------------
// KeyType and filters

TEST(SnapshotKeyType, Parse) {
  EXPECT_EQ(key_type_from_string("lineno"), KeyType::lineno);
  EXPECT_EQ(key_type_from_string("filename"), KeyType::filename);
  EXPECT_EQ(key_type_from_string("traceback"), KeyType::traceback);
  EXPECT_RAISES_MSG((void)key_type_from_string("x"), ValueError, "unknown key_type: 'x'");
  EXPECT_RAISES_MSG((void)key_type_from_string("Lineno"), ValueError, "unknown key_type: 'Lineno'");
  EXPECT_EQ(to_string(KeyType::lineno), "lineno");
  EXPECT_EQ(to_string(KeyType::filename), "filename");
  EXPECT_EQ(to_string(KeyType::traceback), "traceback");
}

TEST(SnapshotFilter, Repr) {
  EXPECT_EQ((Filter{true, "*.cpp"}).repr(),
            "<Filter inclusive=True filename_pattern='*.cpp' lineno=None all_frames=False "
            "domain=None>");
  EXPECT_EQ((Filter{false, "a.cpp", 3, true, 2}).repr(),
            "<Filter inclusive=False filename_pattern='a.cpp' lineno=3 all_frames=True "
            "domain=2>");
  EXPECT_EQ((DomainFilter{false, 7}).repr(), "<DomainFilter inclusive=False domain=7>");
  EXPECT_EQ((DomainFilter{}).repr(), "<DomainFilter inclusive=True domain=0>");
}

// ---------------------------------------------------------------------------------------------
// Snapshot

TEST(SnapshotSnapshot, DefaultIsEmpty) {
  const Snapshot s;
  EXPECT_TRUE(s.traces().empty());
  EXPECT_EQ(s.traceback_limit(), 1u);
  EXPECT_TRUE(s.statistics(KeyType::lineno).empty());
  EXPECT_TRUE(s.compare_to(Snapshot(), KeyType::traceback).empty());
  EXPECT_EQ(s.traced_memory(), 0u);
  EXPECT_EQ(s.peak_traced_memory(), 0u);
  EXPECT_EQ(s.sample_rate(), 0u);
}

TEST(SnapshotSnapshot, KeepsTraces) {
  const Snapshot s({trace(10, {{"a.cpp", 1}}), trace(20, {{"b.cpp", 2}}, 3)}, 5);
  ASSERT_EQ(s.traces().size(), 2u);
  EXPECT_EQ(s.traces()[1].domain, 3u);
  EXPECT_EQ(s.traces()[1].size, 20u);
  EXPECT_EQ(s.traceback_limit(), 5u);
  EXPECT_EQ(&s.traces(), &s.traces());
}

// Three places: a.cpp:1 called from main.cpp:10 and from main.cpp:20, and b.cpp:5 from a.cpp:1.
Snapshot sample_snapshot() {
  return Snapshot(
      {trace(100, {{"a.cpp", 1}, {"main.cpp", 10}}), trace(100, {{"a.cpp", 1}, {"main.cpp", 10}}),
       trace(300, {{"a.cpp", 1}, {"main.cpp", 20}}),
       trace(50, {{"b.cpp", 5}, {"a.cpp", 1}, {"main.cpp", 10}})},
      3);
}

TEST(SnapshotStatistics, ByLineno) {
  const auto stats = sample_snapshot().statistics("lineno");
  EXPECT_EQ(strs(stats), (std::vector<std::string>{
                             "a.cpp:1: size=500 B, count=3, average=167 B",
                             "b.cpp:5: size=50 B, count=1, average=50 B",
                         }));
  // The grouping key is the most recent frame alone, without total_nframe.
  EXPECT_EQ(stats[0].traceback.repr(), "<Traceback (<Frame filename='a.cpp' lineno=1>,)>");
}

TEST(SnapshotStatistics, ByFilename) {
  const Snapshot s({trace(1, {{"a.cpp", 1}}), trace(2, {{"a.cpp", 2}}),
                    trace(4, {{"b.cpp", 1, "f", "/bin/x", 0x10}})},
                   1);
  const auto stats = s.statistics(KeyType::filename);
  EXPECT_EQ(strs(stats), (std::vector<std::string>{
                             "b.cpp:0: size=4 B, count=1, average=4 B",
                             "a.cpp:0: size=3 B, count=2, average=2 B",
                         }));
  EXPECT_EQ(stats[0].traceback[0], (Frame{"b.cpp", 0}));
  EXPECT_EQ(stats[0].traceback[0].function, "");
}

TEST(SnapshotStatistics, ByTraceback) {
  const auto stats = sample_snapshot().statistics(KeyType::traceback);
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].size, 300u);
  EXPECT_EQ(stats[0].traceback.repr(),
            "<Traceback (<Frame filename='main.cpp' lineno=20>, <Frame filename='a.cpp' "
            "lineno=1>)>");
  EXPECT_EQ(stats[1].size, 200u);
  EXPECT_EQ(stats[1].count, 2u);
  EXPECT_EQ(stats[2].size, 50u);
  EXPECT_EQ(stats[2].traceback.size(), 3u);
  EXPECT_EQ(stats[0].traceback.total_nframe(), std::nullopt);
}

TEST(SnapshotStatistics, SortedBySizeCountThenTraceback) {
  const Snapshot s({trace(10, {{"a.cpp", 1}}), trace(10, {{"c.cpp", 1}}), trace(5, {{"b.cpp", 1}}),
                    trace(5, {{"b.cpp", 1}}), trace(10, {{"b.cpp", 2}})},
                   1);
  EXPECT_EQ(strs(s.statistics("lineno")), (std::vector<std::string>{
                                              "b.cpp:1: size=10 B, count=2, average=5 B",
                                              "c.cpp:1: size=10 B, count=1, average=10 B",
                                              "b.cpp:2: size=10 B, count=1, average=10 B",
                                              "a.cpp:1: size=10 B, count=1, average=10 B",
                                          }));
}

TEST(SnapshotStatistics, Cumulative) {
  const auto stats = sample_snapshot().statistics("lineno", true);
  EXPECT_EQ(strs(stats), (std::vector<std::string>{
                             "a.cpp:1: size=550 B, count=4, average=138 B",
                             "main.cpp:20: size=300 B, count=1, average=300 B",
                             "main.cpp:10: size=250 B, count=3, average=83 B",
                             "b.cpp:5: size=50 B, count=1, average=50 B",
                         }));
  // A frame twice in one traceback (recursion) counts twice, as in Python.
  const Snapshot recursive({trace(10, {{"r.cpp", 1}, {"r.cpp", 1}, {"main.cpp", 1}})}, 3);
  EXPECT_EQ(strs(recursive.statistics(KeyType::lineno, true)),
            (std::vector<std::string>{"r.cpp:1: size=20 B, count=2, average=10 B",
                                      "main.cpp:1: size=10 B, count=1, average=10 B"}));
  EXPECT_EQ(strs(sample_snapshot().statistics(KeyType::filename, true)),
            (std::vector<std::string>{
                "main.cpp:0: size=550 B, count=4, average=138 B",  // ties: the larger traceback
                "a.cpp:0: size=550 B, count=4, average=138 B",
                "b.cpp:0: size=50 B, count=1, average=50 B",
            }));
}

TEST(SnapshotStatistics, Errors) {
  const Snapshot s = sample_snapshot();
  EXPECT_RAISES_MSG((void)s.statistics(KeyType::traceback, true), ValueError,
                    "cumulative mode cannot by used with key type 'traceback'");
  EXPECT_RAISES_MSG((void)s.statistics("traceback", true), ValueError,
                    "cumulative mode cannot by used with key type 'traceback'");
  EXPECT_RAISES_MSG((void)s.statistics("line"), ValueError, "unknown key_type: 'line'");
  EXPECT_RAISES_MSG((void)s.compare_to(s, "file"), ValueError, "unknown key_type: 'file'");
  EXPECT_RAISES_MSG((void)s.compare_to(s, KeyType::traceback, true), ValueError,
                    "cumulative mode cannot by used with key type 'traceback'");
}

TEST(SnapshotStatistics, EmptyTracebackIsUnknown) {
  const Snapshot s({Trace{0, 8, Traceback()}, Trace{0, 8, Traceback()}}, 1);
  for (KeyType key : {KeyType::lineno, KeyType::filename, KeyType::traceback}) {
    const auto stats = s.statistics(key);
    ASSERT_EQ(stats.size(), 1u) << to_string(key);
    EXPECT_EQ(stats[0].count, 2u);
    EXPECT_EQ(stats[0].traceback.str(), "<unknown>:0");
  }
  EXPECT_EQ(s.statistics(KeyType::lineno, true).at(0).str(),
            "<unknown>:0: size=16 B, count=2, average=8 B");
}

TEST(SnapshotCompareTo, PlantedLeak) {
  const Snapshot before = sample_snapshot();
  std::vector<Trace> traces = before.traces();
  for (int i = 0; i < 10; ++i) traces.push_back(trace(1000, {{"leak.cpp", 42}, {"main.cpp", 30}}));
  traces.erase(traces.begin());  // one a.cpp:1 block freed
  const Snapshot after(std::move(traces), 3);
  const auto diff = after.compare_to(before, "lineno");
  ASSERT_FALSE(diff.empty());
  EXPECT_EQ(diff[0].str(), "leak.cpp:42: size=10000 B (+10000 B), count=10 (+10), average=1000 B");
  EXPECT_EQ(strs(diff), (std::vector<std::string>{
                            "leak.cpp:42: size=10000 B (+10000 B), count=10 (+10), average=1000 B",
                            "a.cpp:1: size=400 B (-100 B), count=2 (-1), average=200 B",
                            "b.cpp:5: size=50 B (+0 B), count=1 (+0), average=50 B",
                        }));
  const auto by_traceback = after.compare_to(before, KeyType::traceback);
  EXPECT_EQ(by_traceback[0].traceback.str(), "main.cpp:30");
  EXPECT_EQ(by_traceback[0].size_diff, 10000);
}

TEST(SnapshotCompareTo, GoneAndSorted) {
  const Snapshot old_snapshot({trace(500, {{"gone.cpp", 1}}), trace(10, {{"same.cpp", 1}})}, 1);
  const Snapshot new_snapshot({trace(10, {{"same.cpp", 1}}), trace(20, {{"new.cpp", 1}})}, 1);
  const auto diff = new_snapshot.compare_to(old_snapshot, KeyType::lineno);
  EXPECT_EQ(strs(diff), (std::vector<std::string>{
                            "gone.cpp:1: size=0 B (-500 B), count=0 (-1)",
                            "new.cpp:1: size=20 B (+20 B), count=1 (+1), average=20 B",
                            "same.cpp:1: size=10 B (+0 B), count=1 (+0), average=10 B",
                        }));
  EXPECT_EQ(diff[0].repr(),
            "<StatisticDiff traceback=<Traceback (<Frame filename='gone.cpp' lineno=1>,)> "
            "size=0 (-500) count=0 (-1)>");
  const auto cumulative = new_snapshot.compare_to(old_snapshot, "filename", true);
  EXPECT_EQ(cumulative[0].str(), "gone.cpp:0: size=0 B (-500 B), count=0 (-1)");
}

// ---------------------------------------------------------------------------------------------
// filter_traces

Snapshot filter_sample() {
  return Snapshot({trace(1, {{"/src/a.cpp", 1}, {"/src/main.cpp", 10}}, 0),
                   trace(2, {{"/src/a.cpp", 2}, {"/src/main.cpp", 10}}, 1),
                   trace(4, {{"/usr/include/v.h", 3}, {"/src/a.cpp", 1}}, 0),
                   trace(8, {{"/src/b.py", 5}}, 2), trace(16, {}, 0)},
                  4);
}

std::vector<std::size_t> sizes(const Snapshot& s) {
  std::vector<std::size_t> out;
  for (const Trace& t : s.traces()) out.push_back(t.size);
  return out;
}

TEST(SnapshotFilterTraces, PythonRules) {
  const Snapshot s = filter_sample();
  using V = std::vector<std::size_t>;
  EXPECT_EQ(sizes(s.filter_traces({})), (V{1, 2, 4, 8, 16}));
  // Inclusive filters: any of them keeps a trace; the most recent frame is matched.
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "/src/a.cpp"}})), (V{1, 2}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "*.cpp"}, Filter{true, "*.py"}})), (V{1, 2, 8}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "/src/a.cpp", 2}})), (V{2}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "/src/a.cpp", std::nullopt, true}})), (V{1, 2, 4}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "*", std::nullopt, false, 0}})), (V{1, 4, 16}));
  // ".pyc" names match as ".py", as Python's _normalize_filename does.
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "/src/b.pyc"}})), (V{8}));
  // Exclusive filters: any of them drops a trace.
  EXPECT_EQ(sizes(s.filter_traces({Filter{false, "/usr/include/*"}})), (V{1, 2, 8, 16}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{false, "/src/a.cpp", std::nullopt, true}})), (V{8, 16}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{false, "/src/a.cpp", 1}})), (V{2, 4, 8, 16}));
  // An exclusive filter with a domain drops only what matches in that domain.
  EXPECT_EQ(sizes(s.filter_traces({Filter{false, "/src/a.cpp", std::nullopt, false, 1}})),
            (V{1, 4, 8, 16}));
  EXPECT_EQ(sizes(s.filter_traces({DomainFilter{true, 0}})), (V{1, 4, 16}));
  EXPECT_EQ(sizes(s.filter_traces({DomainFilter{false, 0}})), (V{2, 8}));
  EXPECT_EQ(sizes(s.filter_traces({DomainFilter{true, 0}, Filter{false, "*.h"}})), (V{1, 16}));
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "/src/[ab].*"}, DomainFilter{false, 2}})),
            (V{1, 2}));
  // A trace without frames is matched as CPython's ("<unknown>", 0).
  EXPECT_EQ(sizes(s.filter_traces({Filter{true, "<unknown>"}})), (V{16}));
}

TEST(SnapshotFilterTraces, KeepsLimitAndMetadata) {
  auto data = std::make_shared<detail::SnapshotData>();
  data->traceback_limit = 6;
  data->raw.traceback_limit = 6;
  data->raw.traced_current = 1000;
  data->raw.traced_peak = 2000;
  data->raw.sample_rate = 512;
  data->traces = {trace(1, {{"a.cpp", 1}}), trace(2, {{"b.cpp", 1}})};
  data->resolved = true;
  const Snapshot s(std::shared_ptr<const detail::SnapshotData>(std::move(data)));
  EXPECT_EQ(s.traced_memory(), 1000u);
  EXPECT_EQ(s.peak_traced_memory(), 2000u);
  EXPECT_EQ(s.sample_rate(), 512u);
  const Snapshot filtered = s.filter_traces({Filter{true, "b.cpp"}});
  EXPECT_EQ(sizes(filtered), (std::vector<std::size_t>{2}));
  EXPECT_EQ(filtered.traceback_limit(), 6u);
  EXPECT_EQ(filtered.traced_memory(), 1000u);
  EXPECT_EQ(filtered.peak_traced_memory(), 2000u);
  EXPECT_EQ(filtered.sample_rate(), 512u);
  EXPECT_EQ(s.traces().size(), 2u);  // the original is unchanged
}

// ---------------------------------------------------------------------------------------------
// Resolution of raw snapshots

TEST(SnapshotAllocatorFrames, Rule) {
  using detail::allocator_frames;
  const Frame user{"main.cpp", 10, "main"};
  EXPECT_EQ(allocator_frames({}), 0u);
  EXPECT_EQ(allocator_frames({user}), 0u);
  EXPECT_EQ(allocator_frames({{"", 0, "malloc", "/lib/libc.so.6", 1}, user}), 1u);
  EXPECT_EQ(allocator_frames({{"new_op.cc", 50, "operator new(unsigned long)"},
                              {"/usr/include/c++/12/bits/new_allocator.h", 137,
                               "std::__new_allocator<int>::allocate(unsigned long, void const*)"},
                              {"/usr/include/c++/12/bits/stl_vector.h", 1287,
                               "std::vector<int>::push_back(int const&)"},
                              user,
                              {"/usr/include/c++/12/bits/stl_vector.h", 1, "x"}}),
            3u);
  for (const char* name :
       {"calloc", "realloc", "aligned_alloc", "posix_memalign", "memalign", "valloc", "pvalloc",
        "operator new[](unsigned long)", "operator new(unsigned long, std::align_val_t)",
        "operator delete(void*)"}) {
    EXPECT_EQ(allocator_frames({{"x.c", 1, name}, user}), 1u) << name;
  }
  // Longer names that only start like an allocator are the program's.
  EXPECT_EQ(allocator_frames({{"x.c", 1, "malloc_trim"}, user}), 0u);
  EXPECT_EQ(allocator_frames({{"x.c", 1, "calloc_table()"}, user}), 0u);
  // At least one frame is kept: a stack that is all allocator keeps its oldest frame.
  EXPECT_EQ(allocator_frames({{"x.c", 1, "malloc"}}), 0u);
  EXPECT_EQ(allocator_frames({{"x.c", 1, "malloc"}, {"y.c", 1, "calloc"}}), 1u);
}

// The return address of this function's call: a place in the caller, resolved to its line.
[[gnu::noinline]] std::uint64_t return_address() {
  const auto address = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
  asm volatile("" ::: "memory");  // not a tail call
  return address;
}

std::uint64_t g_sort_call_site = 0;

// A comparator that std::sort calls from its own code: the return address it records lies in
// code expanded from a /include/c++/ header.
struct RecordingLess {
  [[gnu::noinline]] bool operator()(int a, int b) const {
    if (g_sort_call_site == 0) {
      g_sort_call_site = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
    }
    asm volatile("" ::: "memory");
    return a < b;
  }
};

[[gnu::noinline]] std::uint64_t address_inside_std_sort() {
  g_sort_call_site = 0;
  std::vector<int> v{3, 1, 2};
  std::sort(v.begin(), v.end(), RecordingLess{});
  return g_sort_call_site;
}

TEST(SnapshotResolve, RawTracesAreSymbolizedOnce) {
  auto data = std::make_shared<detail::SnapshotData>();
  data->raw.modules = detail::collect_modules();
  const int line = __LINE__ + 1;
  const std::uint64_t here = return_address();
  data->raw.tracebacks.push_back({{here}, 1});
  data->raw.tracebacks.push_back({{here, here}, detail::kNoTotal});
  data->raw.traces = {{0, 10, 0}, {2, 20, 1}, {0, 30, 0}};
  data->raw.traced_current = 60;
  data->raw.traced_peak = 70;
  data->traceback_limit = data->raw.traceback_limit = 2;
  const Snapshot s(std::shared_ptr<const detail::SnapshotData>(std::move(data)));
  EXPECT_EQ(s.traced_memory(), 60u);
  EXPECT_EQ(s.peak_traced_memory(), 70u);
  EXPECT_EQ(s.traceback_limit(), 2u);

  // Several threads ask at once; the symbols are resolved once and shared.
  std::vector<const std::vector<Trace>*> seen(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = &s.traces(); });
  }
  for (auto& t : threads) t.join();
  for (const auto* p : seen) EXPECT_EQ(p, &s.traces());

  const auto& traces = s.traces();
  ASSERT_EQ(traces.size(), 3u);
  EXPECT_EQ(traces[1].domain, 2u);
  EXPECT_EQ(traces[1].size, 20u);
  EXPECT_EQ(traces[0].traceback.total_nframe(), 1u);
  EXPECT_EQ(traces[1].traceback.total_nframe(), std::nullopt);
  EXPECT_EQ(&traces[0].traceback.frames(), &traces[2].traceback.frames());
  ASSERT_FALSE(traces[0].traceback.empty());
  const Frame& frame = traces[0].traceback.at(-1);
  EXPECT_TRUE(frame.filename.ends_with("snapshot_test.cpp")) << frame.repr();
  EXPECT_EQ(frame.lineno, line) << frame.repr();
  EXPECT_EQ(traces[1].traceback.size(), 2 * traces[0].traceback.size());
  const auto stats = s.statistics(KeyType::lineno);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].size, 60u);
}

TEST(SnapshotResolve, AllocatorHeaderFramesAreDropped) {
  const auto modules = detail::collect_modules();
  const std::uint64_t inside = address_inside_std_sort();
  ASSERT_NE(inside, 0u);
  std::vector<Frame> unfolded;
  {
    const Untraced untraced;
    detail::Symbolizer symbolizer(modules);
    unfolded = symbolizer.resolve(inside);
  }
  const bool in_header = std::any_of(unfolded.begin(), unfolded.end(), [](const Frame& f) {
    return f.filename.find("/include/c++/") != std::string::npos;
  });
  if (!in_header) GTEST_SKIP() << "std::sort's code is not attributed to a libstdc++ header";

  auto data = std::make_shared<detail::SnapshotData>();
  data->raw.modules = modules;
  const int line = __LINE__ + 1;
  data->raw.tracebacks.push_back({{inside, return_address()}, 2});
  data->raw.tracebacks.push_back({{inside}, 1});
  data->raw.traces = {{0, 10, 0}, {0, 10, 1}};
  const Snapshot s(std::shared_ptr<const detail::SnapshotData>(std::move(data)));
  const Traceback& folded = s.traces()[0].traceback;
  for (const Frame& f : folded) {
    EXPECT_EQ(f.filename.find("/include/c++/"), std::string::npos) << folded.repr();
  }
  ASSERT_FALSE(folded.empty());
  // The most recent frame left is the lambda or address_inside_std_sort in this file.
  EXPECT_TRUE(folded.at(-1).filename.ends_with("snapshot_test.cpp")) << folded.repr();
  EXPECT_EQ(folded.at(0).lineno, line) << folded.repr();
  // A stack that is all allocator keeps its oldest frame.
  EXPECT_GE(s.traces()[1].traceback.size(), 1u);
}

}  // namespace
