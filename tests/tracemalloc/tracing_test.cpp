// The in-process tracer: Python's tracemalloc functions, every allocation path, threads, fork,
// dlopen, user domains and sampling, checked against allocations made at known lines.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc.hpp>

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "fs.hpp"
#include "raises.hpp"
#include "tracemalloc/tracer.hpp"

// The tests ask the tracer about addresses after their blocks were freed: only the address is
// used, never the memory.
#pragma GCC diagnostic ignored "-Wuse-after-free"

namespace tr = batteries::tracemalloc;

namespace {

// Keeps the compiler from removing an allocation whose block is never read.
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

class Tracing : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tr::detail::hooks_available()) {
      GTEST_SKIP() << "this build has no malloc hooks (sanitizer build)";
    }
  }
  void TearDown() override { tr::stop(); }
};

/// The most recent frame of the block's traceback.
tr::Frame site_of(const void* ptr) {
  auto tb = tr::get_object_traceback(ptr);
  if (!tb || tb->empty()) {
    ADD_FAILURE() << "no traceback for the block";
    return {};
  }
  return tb->at(-1);
}

/// The statistic of `line` of this file in a snapshot grouped by line, if any.
std::optional<tr::Statistic> stat_at(const tr::Snapshot& snap, int line) {
  for (const auto& stat : snap.statistics(tr::KeyType::lineno)) {
    const tr::Frame& f = stat.traceback.at(-1);
    if (f.filename == __FILE__ && f.lineno == line) {
      return stat;
    }
  }
  return std::nullopt;
}

[[gnu::noinline]] void* allocate_at_known_line(std::size_t n, int& line) {
  line = __LINE__ + 1;
  void* p = std::malloc(n);
  escape(p);
  return p;
}

}  // namespace

TEST_F(Tracing, StartStopAndLimit) {
  EXPECT_FALSE(tr::is_tracing());
  EXPECT_RAISES_MSG(tr::start(0), batteries::ValueError,
                    "the number of frames must be in range [1; 65535]");
  EXPECT_RAISES_MSG(tr::start(65536), batteries::ValueError,
                    "the number of frames must be in range [1; 65535]");
  EXPECT_FALSE(tr::is_tracing());
  tr::start(7);
  EXPECT_TRUE(tr::is_tracing());
  EXPECT_EQ(tr::get_traceback_limit(), 7u);
  EXPECT_GT(tr::get_tracemalloc_memory(), 0u);
  tr::stop();
  EXPECT_FALSE(tr::is_tracing());
  EXPECT_RAISES_MSG((void)tr::take_snapshot(), batteries::RuntimeError,
                    "the tracemalloc module must be tracing memory allocations to take a "
                    "snapshot");
  static int object = 0;
  EXPECT_EQ(tr::get_object_traceback(&object), std::nullopt);
}

TEST_F(Tracing, MallocAtKnownLine) {
  tr::start();
  int line = 0;
  void* p = allocate_at_known_line(1000, line);
  tr::Frame f = site_of(p);
  EXPECT_EQ(f.filename, __FILE__);
  EXPECT_EQ(f.lineno, line);
  EXPECT_NE(f.function.find("allocate_at_known_line"), std::string::npos) << f.function;

  tr::Snapshot snap = tr::take_snapshot();
  auto stat = stat_at(snap, line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->size, 1000u);
  EXPECT_EQ(stat->count, 1u);
  std::free(p);
  EXPECT_FALSE(tr::get_object_traceback(p).has_value());
  EXPECT_FALSE(stat_at(tr::take_snapshot(), line).has_value());
}

TEST_F(Tracing, EveryAllocationPath) {
  struct Case {
    const char* name;
    void* ptr;
    std::size_t size;
    int line;
  };
  std::vector<Case> cases;
  cases.reserve(32);
  tr::start(4);
  std::size_t before = tr::get_traced_memory().first;
  int line = 0;
  void* p = nullptr;

  line = __LINE__ + 1;
  p = std::malloc(11);
  cases.push_back({"malloc", p, 11, line});
  line = __LINE__ + 1;
  p = std::calloc(3, 7);
  cases.push_back({"calloc", p, 21, line});
  line = __LINE__ + 1;
  p = ::memalign(64, 100);
  cases.push_back({"memalign", p, 100, line});
  line = __LINE__ + 1;
  p = ::valloc(200);
  cases.push_back({"valloc", p, 200, line});
  line = __LINE__ + 1;
  p = ::pvalloc(300);
  cases.push_back({"pvalloc", p, 300, line});
  line = __LINE__ + 1;
  p = std::aligned_alloc(128, 256);
  cases.push_back({"aligned_alloc", p, 256, line});
  line = __LINE__ + 1;
  ASSERT_EQ(::posix_memalign(&p, 256, 512), 0);
  cases.push_back({"posix_memalign", p, 512, line});
  line = __LINE__ + 1;
  p = ::operator new(13);
  cases.push_back({"operator new", p, 13, line});
  line = __LINE__ + 1;
  p = ::operator new[](17);
  cases.push_back({"operator new[]", p, 17, line});
  line = __LINE__ + 1;
  p = ::operator new(19, std::nothrow);
  cases.push_back({"operator new nothrow", p, 19, line});
  line = __LINE__ + 1;
  p = ::operator new[](23, std::nothrow);
  cases.push_back({"operator new[] nothrow", p, 23, line});
  line = __LINE__ + 1;
  p = ::operator new (29, std::align_val_t{64});
  cases.push_back({"operator new aligned", p, 29, line});
  line = __LINE__ + 1;
  p = ::operator new[](31, std::align_val_t{128});
  cases.push_back({"operator new[] aligned", p, 31, line});
  line = __LINE__ + 1;
  p = ::operator new (37, std::align_val_t{256}, std::nothrow);
  cases.push_back({"operator new aligned nothrow", p, 37, line});
  line = __LINE__ + 1;
  p = ::operator new[](41, std::align_val_t{512}, std::nothrow);
  cases.push_back({"operator new[] aligned nothrow", p, 41, line});
  line = __LINE__ + 1;
  p = std::realloc(nullptr, 43);
  cases.push_back({"realloc(NULL)", p, 43, line});
  line = __LINE__ + 1;
  p = ::reallocarray(nullptr, 5, 9);
  cases.push_back({"reallocarray", p, 45, line});

  std::size_t total = 0;
  for (const Case& c : cases) {
    ASSERT_NE(c.ptr, nullptr) << c.name;
    escape(c.ptr);
    tr::Frame f = site_of(c.ptr);
    EXPECT_EQ(f.filename, __FILE__) << c.name;
    EXPECT_EQ(f.lineno, c.line) << c.name;
    total += c.size;
  }
  EXPECT_EQ(tr::get_traced_memory().first - before, total);
  tr::Snapshot snap = tr::take_snapshot();
  for (const Case& c : cases) {
    auto stat = stat_at(snap, c.line);
    ASSERT_TRUE(stat.has_value()) << c.name;
    EXPECT_EQ(stat->size, c.size) << c.name;
    EXPECT_EQ(stat->count, 1u) << c.name;
  }

  // Every matching release takes its block out of the traces.
  std::free(cases[0].ptr);
  std::free(cases[1].ptr);
  std::free(cases[2].ptr);
  std::free(cases[3].ptr);
  std::free(cases[4].ptr);
  std::free(cases[5].ptr);
  std::free(cases[6].ptr);
  ::operator delete (cases[7].ptr, std::size_t{13});
  ::operator delete[](cases[8].ptr);
  ::operator delete(cases[9].ptr, std::nothrow);
  ::operator delete[](cases[10].ptr, std::size_t{23});
  ::operator delete (cases[11].ptr, std::align_val_t{64});
  ::operator delete[](cases[12].ptr, std::size_t{31}, std::align_val_t{128});
  ::operator delete (cases[13].ptr, std::align_val_t{256}, std::nothrow);
  ::operator delete[](cases[14].ptr, std::align_val_t{512}, std::nothrow);
  EXPECT_EQ(std::realloc(cases[15].ptr, 0), nullptr);  // glibc: frees, returns NULL
  std::free(cases[16].ptr);
  for (const Case& c : cases) {
    EXPECT_FALSE(tr::get_object_traceback(c.ptr).has_value()) << c.name;
  }
  EXPECT_EQ(tr::get_traced_memory().first, before);
}

TEST_F(Tracing, ReallocChainsMoveAndShrink) {
  std::vector<void*> seen;
  seen.reserve(64);  // before tracing, so that the vector never takes a freed block's address
  tr::start();
  int line = __LINE__ + 1;
  void* p = std::malloc(16);
  seen.push_back(p);
  int realloc_line = 0;
  for (std::size_t n = 32; n <= (1u << 20); n *= 2) {
    realloc_line = __LINE__ + 1;
    p = std::realloc(p, n);
    ASSERT_NE(p, nullptr);
    seen.push_back(p);
    EXPECT_EQ(site_of(p).lineno, realloc_line);
  }
  (void)line;
  // Every block the chain went through and left is gone from the traces; the last holds 1 MiB.
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  std::size_t live = 0;
  for (void* q : seen) {
    live += tr::get_object_traceback(q).has_value();
  }
  EXPECT_EQ(live, 1u);
  EXPECT_EQ(tr::get_traced_memory().first >= (1u << 20), true);
  int shrink_line = __LINE__ + 1;
  p = std::realloc(p, 10);
  EXPECT_EQ(site_of(p).lineno, shrink_line);
  auto stat = stat_at(tr::take_snapshot(), shrink_line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->size, 10u);
  std::free(p);
  EXPECT_FALSE(stat_at(tr::take_snapshot(), shrink_line).has_value());
}

TEST_F(Tracing, TracedMemoryPeakAndClear) {
  tr::start();
  auto [c0, p0] = tr::get_traced_memory();
  EXPECT_GE(p0, c0);
  void* big = std::malloc(1 << 20);
  escape(big);
  auto [c1, p1] = tr::get_traced_memory();
  EXPECT_EQ(c1 - c0, 1u << 20);
  EXPECT_GE(p1, c1);
  std::free(big);
  auto [c2, p2] = tr::get_traced_memory();
  EXPECT_EQ(c2, c0);
  EXPECT_GE(p2, c0 + (1u << 20));
  tr::reset_peak();
  EXPECT_LT(tr::get_traced_memory().second, c0 + (1u << 20));
  void* small = std::malloc(100);
  escape(small);
  tr::clear_traces();
  EXPECT_EQ(tr::get_traced_memory(), (std::pair<std::size_t, std::size_t>{0, 0}));
  EXPECT_FALSE(tr::get_object_traceback(small).has_value());
  std::free(small);  // cleared before: not traced, and nothing goes negative
  EXPECT_EQ(tr::get_traced_memory().first, 0u);
}

// Once a process has a second thread, the shards batch their byte counts: the current size
// must stay exact, and the peak at least the current size.
TEST_F(Tracing, TracedMemoryStaysExactWithThreads) {
  std::thread([] {}).join();  // the process is multi-threaded from now on
  std::vector<void*> blocks;
  blocks.reserve(3000);
  tr::start();
  std::size_t before = tr::get_traced_memory().first;
  for (int i = 0; i < 3000; ++i) {
    blocks.push_back(std::malloc(std::size_t(100 + i)));
  }
  std::size_t added = 0;
  for (int i = 0; i < 3000; ++i) {
    added += std::size_t(100 + i);
  }
  auto [current, peak] = tr::get_traced_memory();
  EXPECT_EQ(current - before, added);
  EXPECT_GE(peak, current);
  std::thread([&] {
    for (void* p : blocks) {
      std::free(p);  // freed by another thread than the one that allocated
    }
  }).join();
  EXPECT_EQ(tr::get_traced_memory().first, before);
}

TEST_F(Tracing, BlocksFromBeforeStartFreedAfter) {
  std::vector<void*> old;
  for (int i = 0; i < 1000; ++i) {
    old.push_back(std::malloc(64));
  }
  tr::start();
  std::size_t before = tr::get_traced_memory().first;
  EXPECT_FALSE(tr::get_object_traceback(old[0]).has_value());
  // An untraced block reallocated becomes a traced one, at the realloc.
  int line = __LINE__ + 1;
  old[0] = std::realloc(old[0], 100000);
  EXPECT_EQ(site_of(old[0]).lineno, line);
  EXPECT_EQ(tr::get_traced_memory().first, before + 100000);
  for (void* p : old) {
    std::free(p);
  }
  EXPECT_EQ(tr::get_traced_memory().first, before);
}

namespace {
[[gnu::noinline]] void* recurse(int depth, int& line) {
  if (depth == 0) {
    line = __LINE__ + 1;
    void* p = std::malloc(8);
    escape(p);
    return p;
  }
  void* p = recurse(depth - 1, line);
  escape(&depth);
  return p;
}
}  // namespace

TEST_F(Tracing, TracebackLimitAndDepth) {
  int line = 0;
  tr::start(5);
  void* p = recurse(20, line);
  auto tb = tr::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  EXPECT_GE(tb->size(), 5u);  // 5 captured frames; inlined calls may add frames
  EXPECT_EQ(tb->at(-1).lineno, line);
  EXPECT_FALSE(tb->total_nframe().has_value());  // the stack was deeper than the limit
  std::size_t recursive = 0;
  for (const tr::Frame& f : *tb) {
    recursive += f.function.find("recurse") != std::string::npos;
  }
  EXPECT_EQ(recursive, 5u);
  std::free(p);

  tr::start(200);  // while tracing: a new limit for new blocks
  EXPECT_EQ(tr::get_traceback_limit(), 200u);
  p = recurse(20, line);
  tb = tr::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  recursive = 0;
  for (const tr::Frame& f : *tb) {
    recursive += f.function.find("recurse") != std::string::npos;
  }
  EXPECT_EQ(recursive, 21u);
  EXPECT_TRUE(tb->total_nframe().has_value());
  std::free(p);

  // Deeper than the 128 frames the tracer captures on its own stack: they live elsewhere,
  // and get_object_traceback returns them all.
  p = recurse(150, line);
  tb = tr::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  recursive = 0;
  for (const tr::Frame& f : *tb) {
    recursive += f.function.find("recurse") != std::string::npos;
  }
  EXPECT_EQ(recursive, 151u);
  std::free(p);
}

TEST_F(Tracing, UserDomains) {
  EXPECT_FALSE(tr::track(5, 0x1000, 64));  // not tracing
  tr::start();
  int line = __LINE__ + 1;
  EXPECT_TRUE(tr::track(5, 0x1000, 64));
  EXPECT_TRUE(tr::track(5, 0x2000, 36));
  EXPECT_TRUE(tr::track(6, 0x1000, 1));   // same address, another domain
  EXPECT_TRUE(tr::track(5, 0x2000, 32));  // replaces
  tr::Snapshot snap = tr::take_snapshot();
  std::size_t size5 = 0, count5 = 0, size6 = 0;
  for (const tr::Trace& t : snap.traces()) {
    if (t.domain == 5) {
      size5 += t.size;
      ++count5;
      EXPECT_EQ(t.traceback.at(-1).lineno, line + (t.size == 32 ? 3 : 0));
    } else if (t.domain == 6) {
      size6 += t.size;
    }
  }
  EXPECT_EQ(size5, 96u);
  EXPECT_EQ(count5, 2u);
  EXPECT_EQ(size6, 1u);
  tr::Snapshot only5 = snap.filter_traces({tr::DomainFilter{true, 5}});
  EXPECT_EQ(only5.traces().size(), 2u);
  EXPECT_TRUE(tr::untrack(5, 0x1000));
  EXPECT_TRUE(tr::untrack(5, 0x9999));  // unknown: nothing to do
  std::size_t left = 0;
  for (const tr::Trace& t : tr::take_snapshot().traces()) {
    left += t.domain == 5;
  }
  EXPECT_EQ(left, 1u);
  EXPECT_FALSE(tr::get_object_traceback(reinterpret_cast<void*>(0x2000)).has_value());
}

TEST_F(Tracing, UntracedGuard) {
  tr::start();
  void* p = nullptr;
  {
    tr::Untraced guard;
    p = std::malloc(77);
    escape(p);
  }
  EXPECT_FALSE(tr::get_object_traceback(p).has_value());
  std::free(p);
}

namespace {
[[gnu::noinline]] void* thread_alloc(std::size_t n, int& line) {
  line = __LINE__ + 1;
  void* p = std::malloc(n);
  escape(p);
  return p;
}
}  // namespace

TEST_F(Tracing, EightThreadsAllocatingAndFreeingAcrossThreads) {
  tr::start(8);
  constexpr int kThreads = 8;
  constexpr int kBlocks = 20000;
  constexpr int kKept = 100;
  std::vector<std::vector<void*>> handed(kThreads);
  std::vector<std::vector<void*>> kept(kThreads);
  std::atomic<int> line{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int l = 0;
      for (int i = 0; i < kBlocks; ++i) {
        void* p = thread_alloc(std::size_t(16 * (t + 1)), l);
        if (i < kKept) {
          kept[t].push_back(p);
        } else if (i % 2 == 0) {
          handed[t].push_back(p);  // freed by the next thread
        } else {
          std::free(p);
        }
      }
      line = l;
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      for (void* p : handed[(t + 1) % kThreads]) {
        std::free(p);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  tr::Snapshot snap = tr::take_snapshot();
  std::size_t count = 0, size = 0;
  for (const tr::Trace& t : snap.traces()) {
    if (t.traceback.at(-1).filename == __FILE__ && t.traceback.at(-1).lineno == line) {
      ++count;
      size += t.size;
    }
  }
  EXPECT_EQ(count, std::size_t(kThreads * kKept));
  EXPECT_EQ(size, std::size_t(kKept * 16 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8)));
  for (auto& v : kept) {
    for (void* p : v) {
      std::free(p);
    }
  }
  EXPECT_FALSE(stat_at(tr::take_snapshot(), line).has_value());
}

TEST_F(Tracing, ForkKeepsTracingInBothProcesses) {
  tr::start();
  int line = 0;
  void* before = allocate_at_known_line(111, line);
  std::atomic<bool> stop{false};
  // Another thread allocating while we fork: the child must not inherit a held lock.
  std::thread busy([&] {
    while (!stop) {
      void* p = std::malloc(32);
      escape(p);
      std::free(p);
    }
  });
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    if (!tr::is_tracing()) code |= 1;
    if (!tr::get_object_traceback(before).has_value()) code |= 2;
    int child_line = 0;
    void* mine = allocate_at_known_line(222, child_line);
    auto stat = stat_at(tr::take_snapshot(), child_line);
    if (!stat || stat->size != 111 + 222) code |= 4;
    std::free(mine);
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  stop = true;
  busy.join();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto stat = stat_at(tr::take_snapshot(), line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->size, 111u);
  std::free(before);
}

TEST_F(Tracing, DlopenedLibrary) {
  std::string path = std::string(BATTERIES_TEST_PROGRAMS) + "/libtracemalloc_plugin.so";
  void* lib = ::dlopen(path.c_str(), RTLD_NOW);
  ASSERT_NE(lib, nullptr) << ::dlerror();
  auto allocate = reinterpret_cast<void* (*)(std::size_t)>(::dlsym(lib, "plugin_allocate"));
  auto release = reinterpret_cast<void (*)(void*)>(::dlsym(lib, "plugin_free"));
  ASSERT_NE(allocate, nullptr);
  tr::start(4);
  void* p = allocate(4321);
  tr::Frame f = site_of(p);
  EXPECT_EQ(f.function, "plugin_allocate");
  EXPECT_NE(f.filename.find("plugin.cpp"), std::string::npos) << f.filename;
  EXPECT_GT(f.lineno, 0);
  EXPECT_EQ(f.module, path);
  release(p);
}

TEST_F(Tracing, CompareToFindsAPlantedLeak) {
  tr::start();
  tr::Snapshot first = tr::take_snapshot();
  std::vector<void*> leak;
  int line = 0;
  for (int i = 0; i < 10; ++i) {
    leak.push_back(allocate_at_known_line(1000, line));
  }
  tr::Snapshot second = tr::take_snapshot();
  auto diffs = second.compare_to(first, "lineno");
  bool found = false;
  for (const auto& d : diffs) {
    if (d.traceback.at(-1).lineno == line && d.traceback.at(-1).filename == __FILE__) {
      found = true;
      EXPECT_EQ(d.size_diff, 10000);
      EXPECT_EQ(d.count_diff, 10);
    }
  }
  EXPECT_TRUE(found);
  for (void* p : leak) {
    std::free(p);
  }
}

TEST_F(Tracing, DumpAndLoadARealSnapshot) {
  tr::start(3);
  int line = 0;
  void* p = allocate_at_known_line(4096, line);
  tr::Snapshot snap = tr::take_snapshot();
  std::string dir = batteries::testing::make_temp_dir("tracemalloc");
  snap.dump(dir + "/s.snap");
  tr::Snapshot loaded = tr::Snapshot::load(dir + "/s.snap");
  EXPECT_EQ(loaded.traces(), snap.traces());
  EXPECT_EQ(loaded.traceback_limit(), 3u);
  auto stat = stat_at(loaded, line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->size, 4096u);
  batteries::testing::remove_tree(dir);
  std::free(p);
}

TEST_F(Tracing, SamplingGivesUnbiasedEstimates) {
  tr::start(1, {.sample_rate = 4096});
  std::vector<void*> blocks;
  blocks.reserve(100000);
  int line = 0;
  for (int i = 0; i < 100000; ++i) {
    blocks.push_back(allocate_at_known_line(256, line));
  }
  tr::Snapshot snap = tr::take_snapshot();
  EXPECT_EQ(snap.sample_rate(), 4096u);
  auto stat = stat_at(snap, line);
  ASSERT_TRUE(stat.has_value());
  // About 6250 samples of 256 bytes, each standing for 4096.5 bytes on average: the estimate
  // of 25.6 MB is within 10% (more than 7 standard deviations).
  double estimate = double(stat->size);
  EXPECT_NEAR(estimate, 25.6e6, 2.56e6);
  EXPECT_LT(stat->count, 20000u);
  for (void* p : blocks) {
    std::free(p);
  }
  EXPECT_FALSE(stat_at(tr::take_snapshot(), line).has_value());
  EXPECT_EQ(tr::get_traced_memory().first < 1000000u, true);
}
