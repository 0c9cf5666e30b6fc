// `batteries tracemalloc` end to end: small programs with known allocation sites run under the
// agent, and their snapshots are read back and checked site by site.
#include <batteries/tracemalloc.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fs.hpp"

namespace tr = batteries::tracemalloc;
using batteries::testing::make_temp_dir;
using batteries::testing::read_file;
using batteries::testing::remove_tree;

namespace {

const std::string kPrograms = BATTERIES_TEST_PROGRAMS;
const std::string kSources = BATTERIES_TEST_SOURCE_DIR;

/// The line of each "// MARK: name" comment in a source file.
std::map<std::string, int> marks(const std::string& source) {
  std::map<std::string, int> out;
  std::ifstream in(source);
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    auto at = text.find("// MARK: ");
    if (at != std::string::npos) {
      out[text.substr(at + 9)] = line;
    }
  }
  return out;
}

struct Result {
  int status = -1;  // the exit code, or 128 + signal
  std::string out;
  std::string err;
};

/// Runs argv with stdout and stderr captured, waiting at most 120 s.
Result run(const std::vector<std::string>& argv, const std::string& dir) {
  std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::alarm(120);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(126);
  }
  Result r;
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

/// The statistic at `line` of the source named `file` (matched by its end), if any.
std::optional<tr::Statistic> stat_at(const tr::Snapshot& snap, const std::string& file, int line) {
  for (const auto& stat : snap.statistics(tr::KeyType::lineno)) {
    const tr::Frame& f = stat.traceback.at(-1);
    if (f.lineno == line && f.filename.size() >= file.size() &&
        f.filename.compare(f.filename.size() - file.size(), file.size(), file) == 0) {
      return stat;
    }
  }
  return std::nullopt;
}

class Tool : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = make_temp_dir("tracemalloc-tool"); }
  void TearDown() override { remove_tree(m_dir); }

  /// Runs `batteries tracemalloc [options] --output <dir>/out.snap -- program args...`.
  Result trace(const std::string& program, const std::vector<std::string>& args = {},
               const std::vector<std::string>& options = {}) {
    std::vector<std::string> argv{BATTERIES_CLI, "tracemalloc"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {"--output", output(), "--", kPrograms + "/" + program});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, m_dir);
  }
  std::string output() const { return m_dir + "/out.snap"; }

  std::string m_dir;
};

}  // namespace

TEST_F(Tool, LeaksAreFoundAtTheirLines) {
  Result r = trace("tracemalloc_leaks", {}, {"--nframes", "8"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("leaks: done"), std::string::npos);
  EXPECT_NE(r.err.find("out.snap"), std::string::npos) << r.err;
  tr::Snapshot snap = tr::Snapshot::load(output());
  EXPECT_EQ(snap.traceback_limit(), 8u);
  auto m = marks(kSources + "/programs/leaks.cpp");
  struct Expect {
    const char* mark;
    std::size_t size, count;
  };
  for (Expect e : {Expect{"leak_malloc", 1000, 10}, Expect{"leak_new_array", 3 * 1024, 3},
                   Expect{"leak_new", 5 * 48, 5}, Expect{"realloc_chain", 4096, 1},
                   Expect{"leak_posix_memalign", 3000, 1}, Expect{"leak_aligned_new", 256, 1},
                   Expect{"leak_calloc", 700, 1}, Expect{"leak_string", 32 + 5001, 2}}) {
    auto stat = stat_at(snap, "programs/leaks.cpp", m.at(e.mark));
    ASSERT_TRUE(stat.has_value()) << e.mark;
    EXPECT_EQ(stat->size, e.size) << e.mark;
    EXPECT_EQ(stat->count, e.count) << e.mark;
  }
  EXPECT_FALSE(stat_at(snap, "programs/leaks.cpp", m.at("freed")).has_value());
  // The site's function is named, and the traceback goes on to main.
  auto stat = stat_at(snap, "programs/leaks.cpp", m.at("leak_malloc"));
  ASSERT_TRUE(stat.has_value());
  auto traced = snap.statistics(tr::KeyType::traceback);
  bool main_seen = false;
  for (const auto& s : traced) {
    if (s.traceback.at(-1).lineno == m.at("leak_malloc")) {
      EXPECT_NE(s.traceback.at(-1).function.find("leak_malloc"), std::string::npos);
      for (const auto& f : s.traceback) {
        main_seen = main_seen || f.function == "main";
      }
    }
  }
  EXPECT_TRUE(main_seen);
}

TEST_F(Tool, ShowPrintsTheTopSites) {
  ASSERT_EQ(trace("tracemalloc_leaks").status, 0);
  auto m = marks(kSources + "/programs/leaks.cpp");
  Result r = run({BATTERIES_CLI, "tracemalloc", "show", output()}, m_dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Top 10 lines"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("leaks.cpp:" + std::to_string(m.at("leak_string"))), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Total allocated size"), std::string::npos) << r.out;
  r = run({BATTERIES_CLI, "tracemalloc", "show", output(), "--key", "traceback", "--limit", "3"},
          m_dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("main"), std::string::npos) << r.out;
  r = run({BATTERIES_CLI, "tracemalloc", "show", output(), "--compare", output()}, m_dir);
  EXPECT_EQ(r.status, 0) << r.err;
  batteries::testing::write_file(m_dir + "/bad.snap", "BTMSNAP\nnot really");
  r = run({BATTERIES_CLI, "tracemalloc", "show", m_dir + "/bad.snap"}, m_dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ValueError"), std::string::npos) << r.err;
}

TEST_F(Tool, EightThreads) {
  Result r = trace("tracemalloc_threads");
  ASSERT_EQ(r.status, 0) << r.err;
  tr::Snapshot snap = tr::Snapshot::load(output());
  auto m = marks(kSources + "/programs/threads.cpp");
  auto stat = stat_at(snap, "programs/threads.cpp", m.at("thread_alloc"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->count, 800u);
  EXPECT_EQ(stat->size, 100u * 16 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8));
}

TEST_F(Tool, ForkedChildWritesItsOwnSnapshot) {
  Result r = trace("tracemalloc_forker");
  ASSERT_EQ(r.status, 0) << r.err;
  auto at = r.out.find("child ");
  ASSERT_NE(at, std::string::npos) << r.out;
  int child = std::atoi(r.out.c_str() + at + 6);
  auto m = marks(kSources + "/programs/forker.cpp");
  tr::Snapshot parent = tr::Snapshot::load(output());
  tr::Snapshot kid = tr::Snapshot::load(output() + "." + std::to_string(child));
  const std::string file = "programs/forker.cpp";
  EXPECT_TRUE(stat_at(parent, file, m.at("before_fork")).has_value());
  EXPECT_TRUE(stat_at(parent, file, m.at("after_fork")).has_value());
  EXPECT_FALSE(stat_at(parent, file, m.at("in_child")).has_value());
  EXPECT_TRUE(stat_at(kid, file, m.at("before_fork")).has_value());
  EXPECT_TRUE(stat_at(kid, file, m.at("in_child")).has_value());
  EXPECT_FALSE(stat_at(kid, file, m.at("after_fork")).has_value());
}

TEST_F(Tool, DlopenedLibraryWithAndWithoutDebugInfo) {
  auto m = marks(kSources + "/programs/plugin.cpp");
  {
    Result r = trace("tracemalloc_dlopener", {kPrograms + "/libtracemalloc_plugin.so"});
    ASSERT_EQ(r.status, 0) << r.err;
    tr::Snapshot snap = tr::Snapshot::load(output());
    auto stat = stat_at(snap, "programs/plugin.cpp", m.at("plugin_allocate"));
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->size, 4u * 1234);
    EXPECT_EQ(stat->traceback.at(-1).function, "plugin_allocate");
    // The inlined helper is a frame of its own, inside the function it was inlined into.
    auto inner = stat_at(snap, "programs/plugin.cpp", m.at("plugin_inline_alloc_inner"));
    ASSERT_TRUE(inner.has_value());
    EXPECT_EQ(inner->size, 777u);
    bool outer = false;
    for (const auto& s : snap.statistics(tr::KeyType::traceback)) {
      if (s.traceback.at(-1).lineno == m.at("plugin_inline_alloc_inner")) {
        ASSERT_GE(s.traceback.size(), 2u);
        outer = s.traceback.at(-2).lineno == m.at("plugin_inline_alloc_outer");
      }
    }
    EXPECT_TRUE(outer);
  }
  {
    std::string stripped = kPrograms + "/libtracemalloc_plugin_stripped.so";
    Result r = trace("tracemalloc_dlopener", {stripped});
    ASSERT_EQ(r.status, 0) << r.err;
    tr::Snapshot snap = tr::Snapshot::load(output());
    bool found = false;
    for (const auto& stat : snap.statistics(tr::KeyType::lineno)) {
      const tr::Frame& f = stat.traceback.at(-1);
      if (f.function == "plugin_allocate") {
        found = true;
        EXPECT_EQ(f.module, stripped);
        EXPECT_EQ(f.filename, stripped);
        EXPECT_EQ(f.lineno, 0);
        EXPECT_EQ(stat.size, 4u * 1234);
        EXPECT_NE(f.str().find("+0x"), std::string::npos) << f.str();
      }
    }
    EXPECT_TRUE(found);
  }
}

TEST_F(Tool, EveryWayOfEnding) {
  auto m = marks(kSources + "/programs/exits.cpp");
  struct Case {
    const char* how;
    int status;
    bool snapshot;
  };
  for (Case c : {Case{"return", 0, true}, Case{"exit", 3, true}, Case{"_exit", 4, true},
                 Case{"_Exit", 5, true}, Case{"abort", 128 + 6, true}, Case{"segv", 128 + 11, true},
                 Case{"term", 128 + 15, true}, Case{"kill", 128 + 9, false}}) {
    std::filesystem::remove(output());
    Result r = trace("tracemalloc_exits", {c.how});
    EXPECT_EQ(r.status, c.status) << c.how << ": " << r.err;
    ASSERT_EQ(std::filesystem::exists(output()), c.snapshot) << c.how << ": " << r.err;
    if (c.snapshot) {
      tr::Snapshot snap = tr::Snapshot::load(output());
      auto stat = stat_at(snap, "programs/exits.cpp", m.at("exits_leak"));
      ASSERT_TRUE(stat.has_value()) << c.how;
      EXPECT_EQ(stat->size, 4242u) << c.how;
    }
    if (c.status > 128) {
      EXPECT_NE(r.err.find("signal"), std::string::npos) << c.how << ": " << r.err;
    }
  }
}

TEST_F(Tool, PeriodicAndSigusr2Snapshots) {
  Result r = trace("tracemalloc_exits", {"sleep"}, {"--interval", "0.1"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(output() + ".1"));
  tr::Snapshot first = tr::Snapshot::load(output() + ".1");
  auto m = marks(kSources + "/programs/exits.cpp");
  EXPECT_TRUE(stat_at(first, "programs/exits.cpp", m.at("exits_leak")).has_value());

  std::filesystem::remove(output() + ".1");
  r = trace("tracemalloc_exits", {"usr2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(output() + ".1"));
  EXPECT_TRUE(std::filesystem::exists(output()));
}

TEST_F(Tool, SamplingEstimates) {
  // A rate of one byte samples every block with weight 1: the sizes are exact.
  Result r = trace("tracemalloc_leaks", {}, {"--sample-rate", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  tr::Snapshot snap = tr::Snapshot::load(output());
  EXPECT_EQ(snap.sample_rate(), 1u);
  auto m = marks(kSources + "/programs/leaks.cpp");
  auto stat = stat_at(snap, "programs/leaks.cpp", m.at("leak_malloc"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->size, 1000u);
  // A large rate keeps few samples, and says so.
  r = trace("tracemalloc_threads", {}, {"--sample-rate", "65536"});
  ASSERT_EQ(r.status, 0) << r.err;
  snap = tr::Snapshot::load(output());
  EXPECT_EQ(snap.sample_rate(), 65536u);
  EXPECT_LT(snap.traces().size(), 400u);
}

TEST_F(Tool, Flamegraph) {
  std::string svg = m_dir + "/flame.svg";
  Result r = trace("tracemalloc_leaks", {}, {"--flamegraph", svg});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string text = read_file(svg);
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("leak_malloc"), std::string::npos);
}

TEST_F(Tool, ProgramThatCannotRun) {
  Result r =
      run({BATTERIES_CLI, "tracemalloc", "--output", output(), "--", m_dir + "/missing"}, m_dir);
  EXPECT_EQ(r.status, 127);
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
}
