// Differential test of tracemalloc's Snapshot reports against CPython 3.11's tracemalloc.
//
// Fixed seeds make pairs of snapshots of a few hundred synthetic traces: file names from a
// small pool (quotes, backslashes, non-ASCII, an invisible code point, ".py"/".pyc", relative
// and missing files, "<string>"), line numbers within and past the files, tracebacks of 1 to 5
// frames (many shared, some recursive), domains 0-3 and sizes from 0 to 10^9 (plus boundaries
// of _format_size). The files exist in a temporary directory with source lines (blank,
// indented, tabbed, non-ASCII), so Traceback.format shows them. The same data go to Python as
// JSON, which builds tracemalloc.Snapshot(traces, limit) from the raw tuples, and both sides
// print, line by line, str() and repr() of: statistics for every key type and cumulative
// mode, compare_to for every key type and cumulative mode, filter_traces with a set of
// Filter/DomainFilter combinations (then statistics('traceback')), Trace and Traceback values,
// Traceback.format with limits -3..3 and None, both orders, and Statistic/StatisticDiff over
// many sizes (_format_size). The error messages of bad key types are compared too. The frames
// have no function name, as Python's do.

#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "fs.hpp"
#include "python.hpp"

namespace {

using namespace batteries::tracemalloc;
using batteries::py_repr;
namespace bt = batteries::testing;

// ---------------------------------------------------------------------------------------------
// JSON for Python

std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  return out + "\"";
}

std::string json_frames(const Traceback& traceback) {
  // Python's raw tuples are most recent first.
  std::string out = "[";
  const auto& frames = traceback.frames();
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    if (it != frames.rbegin()) out += ',';
    out += fmt::format("[{},{}]", json_str(it->filename), it->lineno);
  }
  return out + "]";
}

std::string json_total(const Traceback& traceback) {
  return traceback.total_nframe() ? std::to_string(*traceback.total_nframe()) : "null";
}

std::string json_snapshot(const Snapshot& snapshot) {
  std::string out = fmt::format("{{\"limit\":{},\"traces\":[", snapshot.traceback_limit());
  bool first = true;
  for (const Trace& trace : snapshot.traces()) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("[{},{},{},{}]", trace.domain, trace.size, json_frames(trace.traceback),
                       json_total(trace.traceback));
  }
  return out + "]}";
}

std::string json_filter(const AnyFilter& any) {
  if (const auto* f = std::get_if<Filter>(&any)) {
    return fmt::format("[\"F\",{},{},{},{},{}]", f->inclusive, json_str(f->filename_pattern),
                       f->lineno ? std::to_string(*f->lineno) : "null", f->all_frames,
                       f->domain ? std::to_string(*f->domain) : "null");
  }
  const auto& d = std::get<DomainFilter>(any);
  return fmt::format("[\"D\",{},{}]", d.inclusive, d.domain);
}

template <class T, class F>
std::string json_list(const std::vector<T>& items, F&& each) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    out += each(items[i]);
  }
  return out + "]";
}

// ---------------------------------------------------------------------------------------------
// Synthetic data

struct Case {
  Snapshot old_snapshot;
  Snapshot new_snapshot;
};

class Generator {
 public:
  Generator(std::uint64_t seed, const std::vector<std::string>& files)
      : m_rng(seed), m_files(files) {
    for (int i = 0; i < 60; ++i) m_pool.push_back(random_frames());
  }

  std::vector<Frame> random_frames() {
    std::vector<Frame> frames;
    const auto n = pick(1, 5);
    for (std::size_t i = 0; i < n; ++i) {
      if (!frames.empty() && pick(0, 9) == 0) {
        frames.push_back(frames.back());  // recursion: the same place twice
        continue;
      }
      Frame frame;
      frame.filename = m_files[pick(0, m_files.size() - 1)];
      frame.lineno = static_cast<int>(pick(0, 9) == 0 ? 0 : pick(1, 36));
      frames.push_back(std::move(frame));
    }
    return frames;
  }

  std::size_t random_size() {
    switch (pick(0, 5)) {
      case 0:
        return pick(0, 120);
      case 1:
        return pick(0, 20000);
      case 2: {
        static constexpr std::size_t kEdges[] = {0,        99,        100,       10239,
                                                 10240,    102399,    102400,    10485759,
                                                 10485760, 104857599, 104857600, 1000000000};
        return kEdges[pick(0, std::size(kEdges) - 1)];
      }
      default: {
        std::uniform_real_distribution<double> exponent(0, 9);
        return static_cast<std::size_t>(std::pow(10.0, exponent(m_rng)));
      }
    }
  }

  Trace random_trace() {
    std::vector<Frame> frames = pick(0, 3) == 0 ? random_frames() : m_pool[pick(0, 59)];
    std::optional<std::size_t> total;
    if (pick(0, 2) != 0) total = frames.size() + pick(0, 3);
    const auto domain = static_cast<Domain>(pick(0, 3) == 0 ? pick(1, 3) : 0);
    return Trace{domain, random_size(), Traceback(std::move(frames), total)};
  }

  Case random_case(std::size_t n) {
    std::vector<Trace> old_traces;
    for (std::size_t i = 0; i < n; ++i) old_traces.push_back(random_trace());
    std::vector<Trace> new_traces;
    for (const Trace& trace : old_traces) {
      const auto what = pick(0, 9);
      if (what < 2) continue;  // freed
      Trace copy = trace;
      if (what < 4) copy.size = random_size();  // reallocated
      new_traces.push_back(std::move(copy));
    }
    for (std::size_t i = 0; i < n / 5; ++i) new_traces.push_back(random_trace());
    return Case{Snapshot(std::move(old_traces), 5), Snapshot(std::move(new_traces), 5)};
  }

  std::size_t pick(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(m_rng);
  }

 private:
  std::mt19937_64 m_rng;
  const std::vector<std::string>& m_files;
  std::vector<std::vector<Frame>> m_pool;
};

// ---------------------------------------------------------------------------------------------
// The report both sides print

class Report {
 public:
  void line(std::string text) { m_lines.push_back(std::move(text)); }

  template <class T>
  void values(const std::string& title, const std::vector<T>& items) {
    line(fmt::format("# {} {}", title, items.size()));
    for (const T& item : items) {
      line(item.str());
      line(item.repr());
    }
  }

  template <class F>
  void error(const std::string& title, F&& f) {
    try {
      f();
      line("# " + title + " no error");
    } catch (const batteries::ValueError& e) {
      line("# " + title + " ValueError " + e.what());
    }
  }

  [[nodiscard]] const std::vector<std::string>& lines() const { return m_lines; }

 private:
  std::vector<std::string> m_lines;
};

constexpr std::string_view kPythonReport = R"PY(
import json, sys, tracemalloc as tm

data = json.load(open(DATA, encoding='utf-8'))
out = []

def snapshot(s):
    return tm.Snapshot([(d, size, tuple((f, l) for f, l in frames), total)
                        for d, size, frames, total in s['traces']], s['limit'])

def values(title, items):
    out.append('# %s %d' % (title, len(items)))
    for item in items:
        out.append(str(item))
        out.append(repr(item))

def error(title, f):
    try:
        f()
        out.append('# %s no error' % title)
    except ValueError as e:
        out.append('# %s ValueError %s' % (title, e))

def make_filter(f):
    if f[0] == 'F':
        return tm.Filter(f[1], f[2], lineno=f[3], all_frames=f[4], domain=f[5])
    return tm.DomainFilter(f[1], f[2])

keys = ('lineno', 'filename', 'traceback')
filter_sets = [[make_filter(f) for f in fs] for fs in data['filters']]
for case in data['cases']:
    old, new = snapshot(case['old']), snapshot(case['new'])
    for key in keys:
        values('statistics %s' % key, new.statistics(key))
        values('compare_to %s' % key, new.compare_to(old, key))
    for key in keys[:2]:
        values('statistics %s cumulative' % key, new.statistics(key, cumulative=True))
        values('compare_to %s cumulative' % key, new.compare_to(old, key, True))
    for i, fs in enumerate(filter_sets):
        filtered = new.filter_traces(fs)
        out.append('# filter %d: %d traces, limit %d' % (i, len(filtered.traces),
                                                        filtered.traceback_limit))
        values('filtered statistics', filtered.statistics('traceback'))
    traces = list(new.traces)[:40]
    values('traces', traces)
    values('tracebacks', [t.traceback for t in traces])
    error('cumulative traceback', lambda: new.statistics('traceback', True))
    error('unknown key', lambda: new.statistics('Lineno'))
    error('unknown compare key', lambda: new.compare_to(old, 'line no'))

for frames, total in data['format']:
    tb = tm.Traceback(tuple((f, l) for f, l in frames), total)
    for limit in (None, -3, -2, -1, 0, 1, 2, 3):
        for most_recent_first in (False, True):
            lines = tb.format(limit, most_recent_first)
            out.append('# format %r %r %d' % (limit, most_recent_first, len(lines)))
            out.extend(lines)

one = tm.Traceback((('a.cpp', 1),))
values('sizes', [tm.Statistic(one, size, count) for size, count in data['sizes']])
values('diffs', [tm.StatisticDiff(one, size, size_diff, count, count_diff)
                 for size, size_diff, count, count_diff in data['diffs']])
sys.stdout.buffer.write(('\n'.join(out) + '\n').encode('utf-8', 'surrogateescape'))
)PY";

std::string format_title(std::optional<std::ptrdiff_t> limit, bool most_recent_first,
                         std::size_t n) {
  return fmt::format("# format {} {} {}", limit ? std::to_string(*limit) : "None",
                     most_recent_first ? "True" : "False", n);
}

class SnapshotDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = bt::make_temp_dir("snapshot-diff");
    bt::make_dir(m_dir + "/sub");
    const std::vector<std::string> existing = {"a.cpp",
                                               "b.cpp",
                                               "it's.cpp",
                                               "quote\"d.h",
                                               "\xc3\xbcn\xc3\xaf"
                                               "code.cpp",
                                               "zero\xe2\x80\x8bwidth.cpp",
                                               "back\\slash.cpp",
                                               "sub/deep.hpp",
                                               "x.py",
                                               "x.pyc",
                                               "[brackets].c"};
    std::mt19937_64 rng(7);
    static constexpr const char* kLines[] = {"int x = 1;",
                                             "    return f(x);",
                                             "\tif (a) {",
                                             "",
                                             "   ",
                                             "}",
                                             "  // caf\xc3\xa9",
                                             "\t\t  std::vector<int> v;  ",
                                             "x = \"it's\"",
                                             "\xc2\xa0nbsp();\xc2\xa0"};
    for (const auto& name : existing) {
      std::string text;
      for (int i = 0; i < 30; ++i) {
        text += kLines[std::uniform_int_distribution<std::size_t>(0, std::size(kLines) - 1)(rng)];
        text += i % 7 == 3 ? "\r\n" : "\n";
      }
      bt::write_file(m_dir + "/" + name, text);
      m_files.push_back(m_dir + "/" + name);
    }
    m_files.push_back(m_dir + "/missing.cpp");
    m_files.push_back("no/such/relative.cpp");
    m_files.push_back("<string>");
  }
  void TearDown() override { bt::remove_tree(m_dir); }

  std::vector<std::vector<AnyFilter>> filter_sets() const {
    using std::nullopt;
    return {
        {},
        {Filter{true, "*.cpp"}},
        {Filter{false, "*.cpp"}},
        {Filter{true, m_dir + "/a.cpp", 3}},
        {Filter{true, "*a.cpp", nullopt, true}},
        {Filter{false, "*/[ab].cpp", nullopt, true}},
        {Filter{true, "*?.h*"}, Filter{true, "<*>"}},
        {Filter{false, "*", nullopt, false, 1}},
        {Filter{true, "*", nullopt, false, 2}},
        {Filter{true, "*.cpp", 7, true, 0}},
        {DomainFilter{true, 0}},
        {DomainFilter{false, 0}, Filter{false, "*.py"}},
        {Filter{true, "*.py"}},
        {Filter{true, "*.pyc"}},
        {Filter{true, "*[!a-c].cpp"}, DomainFilter{false, 3}},
        {Filter{false, "*\xc3\xbc*"}, Filter{false, "*'*", 5}},
        {Filter{true, "*[*"}, Filter{true, "*\\*"}, Filter{true, "*/[[]brackets].c"}},
        {Filter{false, "no/such/relative.cpp", nullopt, true, 0}},
        {Filter{true, "*/sub/*", nullopt, true}, Filter{false, "*.hpp", 12}},
        {Filter{false, "*.cpp", 1}, Filter{false, "*.cpp", 2}, DomainFilter{true, 1},
         DomainFilter{true, 2}},
    };
  }

  std::string m_dir;
  std::vector<std::string> m_files;
};

TEST_F(SnapshotDiffTest, ReportsMatchCPython) {
  std::vector<Case> cases;
  for (std::uint64_t seed : {1, 2, 3}) {
    Generator generator(seed, m_files);
    cases.push_back(generator.random_case(seed == 1 ? 300 : 150));
  }
  cases.push_back(Case{Snapshot(), Snapshot()});

  Generator generator(99, m_files);
  std::vector<Traceback> to_format;
  for (int i = 0; i < 12; ++i) {
    std::optional<std::size_t> total;
    if (i % 2 == 0) total = static_cast<std::size_t>(i);
    to_format.emplace_back(generator.random_frames(), total);
  }
  to_format.emplace_back();  // empty

  std::vector<std::pair<std::size_t, std::size_t>> sizes;
  std::vector<StatisticDiff> diffs;
  const Traceback one(std::vector<Frame>{Frame{"a.cpp", 1, "", "", 0}});
  for (std::size_t s :
       {std::size_t{0}, std::size_t{1}, std::size_t{99}, std::size_t{100}, std::size_t{10239},
        std::size_t{10240}, std::size_t{102399}, std::size_t{102400}, std::size_t{1} << 40,
        std::size_t{12345} << 40, std::size_t{1} << 62}) {
    sizes.emplace_back(s, 0);
    sizes.emplace_back(s, 1);
    sizes.emplace_back(s, 3);
  }
  for (int i = 0; i < 400; ++i) {
    const std::size_t size = generator.random_size();
    const std::size_t count = generator.pick(0, 9) == 0 ? 0 : generator.pick(1, 5000);
    sizes.emplace_back(size, count);
    const std::size_t old_size = generator.random_size();
    const std::size_t old_count = generator.pick(0, 5000);
    diffs.push_back(StatisticDiff{
        one, size, static_cast<std::int64_t>(size) - static_cast<std::int64_t>(old_size), count,
        static_cast<std::int64_t>(count) - static_cast<std::int64_t>(old_count)});
  }
  for (std::size_t half = 1; half < 64; half += 2) {  // x.5 averages: round half to even
    sizes.emplace_back(half, 2);
    sizes.emplace_back(half * 1024, 2048);
  }

  const auto filters = filter_sets();
  std::string json = "{\"cases\":";
  json += json_list(cases, [](const Case& c) {
    return "{\"old\":" + json_snapshot(c.old_snapshot) +
           ",\"new\":" + json_snapshot(c.new_snapshot) + "}";
  });
  json += ",\"filters\":" + json_list(filters, [](const std::vector<AnyFilter>& set) {
            return json_list(set, json_filter);
          });
  json += ",\"format\":" + json_list(to_format, [](const Traceback& t) {
            return std::string("[")
                .append(json_frames(t))
                .append(",")
                .append(json_total(t))
                .append("]");
          });
  json += ",\"sizes\":" + json_list(sizes, [](const std::pair<std::size_t, std::size_t>& p) {
            return fmt::format("[{},{}]", p.first, p.second);
          });
  json += ",\"diffs\":" + json_list(diffs, [](const StatisticDiff& d) {
            return fmt::format("[{},{},{},{}]", d.size, d.size_diff, d.count, d.count_diff);
          });
  json += "}";
  const std::string data_path = m_dir + "/data.json";
  bt::write_file(data_path, json);

  const auto python =
      bt::run_python("DATA = " + py_repr(data_path) + "\n" + std::string(kPythonReport));
  if (!python) GTEST_SKIP() << "no python3";

  Report report;
  for (const Case& c : cases) {
    const Snapshot& old_snapshot = c.old_snapshot;
    const Snapshot& new_snapshot = c.new_snapshot;
    for (KeyType key : {KeyType::lineno, KeyType::filename, KeyType::traceback}) {
      const std::string name(to_string(key));
      report.values("statistics " + name, new_snapshot.statistics(key));
      report.values("compare_to " + name, new_snapshot.compare_to(old_snapshot, key));
    }
    for (KeyType key : {KeyType::lineno, KeyType::filename}) {
      const std::string name(to_string(key));
      report.values("statistics " + name + " cumulative", new_snapshot.statistics(key, true));
      report.values("compare_to " + name + " cumulative",
                    new_snapshot.compare_to(old_snapshot, key, true));
    }
    for (std::size_t i = 0; i < filters.size(); ++i) {
      const Snapshot filtered = new_snapshot.filter_traces(filters[i]);
      report.line(fmt::format("# filter {}: {} traces, limit {}", i, filtered.traces().size(),
                              filtered.traceback_limit()));
      report.values("filtered statistics", filtered.statistics("traceback"));
    }
    std::vector<Trace> traces(
        new_snapshot.traces().begin(),
        new_snapshot.traces().begin() +
            static_cast<std::ptrdiff_t>(std::min<std::size_t>(40, new_snapshot.traces().size())));
    report.values("traces", traces);
    std::vector<Traceback> tracebacks;
    for (const Trace& t : traces) tracebacks.push_back(t.traceback);
    report.values("tracebacks", tracebacks);
    report.error("cumulative traceback", [&] { (void)new_snapshot.statistics("traceback", true); });
    report.error("unknown key", [&] { (void)new_snapshot.statistics("Lineno"); });
    report.error("unknown compare key",
                 [&] { (void)new_snapshot.compare_to(old_snapshot, "line no"); });
  }
  for (const Traceback& t : to_format) {
    for (std::optional<std::ptrdiff_t> limit :
         {std::optional<std::ptrdiff_t>{}, std::optional<std::ptrdiff_t>{-3},
          std::optional<std::ptrdiff_t>{-2}, std::optional<std::ptrdiff_t>{-1},
          std::optional<std::ptrdiff_t>{0}, std::optional<std::ptrdiff_t>{1},
          std::optional<std::ptrdiff_t>{2}, std::optional<std::ptrdiff_t>{3}}) {
      for (bool most_recent_first : {false, true}) {
        const auto lines = t.format(limit, most_recent_first);
        report.line(format_title(limit, most_recent_first, lines.size()));
        for (const auto& line : lines) report.line(line);
      }
    }
  }
  std::vector<Statistic> stats;
  for (const auto& [size, count] : sizes) stats.push_back(Statistic{one, size, count});
  report.values("sizes", stats);
  report.values("diffs", diffs);

  const std::vector<std::string> expected = bt::split(*python, '\n');
  const auto& actual = report.lines();
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(expected.back(), "");
  const std::size_t n = std::min(actual.size(), expected.size() - 1);
  std::size_t mismatches = 0;
  std::string section;
  for (std::size_t i = 0; i < n && mismatches < 20; ++i) {
    if (expected[i].starts_with("# ")) section = expected[i];
    if (actual[i] != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << "line " << i << " in section \"" << section
                    << "\"\n  python:    " << bt::printable(expected[i])
                    << "\n  batteries: " << bt::printable(actual[i]);
    }
  }
  EXPECT_EQ(actual.size(), expected.size() - 1) << "number of lines";
  std::printf("compared %zu lines of reports with CPython\n", actual.size());
}

}  // namespace
