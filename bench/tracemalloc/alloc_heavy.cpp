// An allocation-heavy program for bench/tracemalloc/compare.py: PAIRS small new/delete pairs,
// each made DEPTH frames deep, traced by `batteries tracemalloc`, heaptrack and massif.
//
//     alloc_heavy [PAIRS] [DEPTH] [THREADS]    (defaults 5,000,000, 10 and 1)
//
// With THREADS > 1 the pairs are shared out between that many threads, each with its own ring:
// the tracer then takes its multi-threaded path (atomic counters, contended locks).
//
// Built with exactly -O2 -g -fno-omit-frame-pointer (bench/CMakeLists.txt), as the programs a
// tracer meets are, and linked with nothing of batteries: it must not carry the tracer in.
//
// Each pair descends DEPTH frames below main (DEPTH - 1 of four noinline functions, the four
// call sites, then alloc_one), in one of four orders picked by the pair's number: four
// distinct stacks. At the
// bottom it allocates `new unsigned char[size]`, size 16..256 bytes from a fixed LCG, writes
// to it, and puts it in a ring of 64 live blocks, deleting the oldest (FIFO): the allocator
// is not handed back the block it just took. The pointers are escaped with asm volatile, so
// the compiler cannot elide the pairs. At the end the ring is freed, and a few blocks (4 KiB,
// from plant_leak) are kept alive until exit, so that a snapshot taken at exit is not empty.
//
// Prints one JSON line: pairs, depth, checksum, loop_s (the wall time of the loop alone,
// steady_clock), leaked_bytes, and peak_rss_kib: VmHWM from /proc/self/status at the end of
// main, this process's own peak RSS (a tracer's in-process memory included, the work it does
// at exit not), or -1 where there is no /proc.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kRing = 64;
constexpr int kSites = 4;

struct State {
  unsigned char* ring[kRing] = {};
  std::size_t head = 0;
  std::uint64_t rng = 0x9E3779B97F4A7C15ULL;
  std::uint64_t checksum = 0;
  std::uint64_t pair = 0;
};

inline void escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// The bottom of the stack: one new and one delete.
__attribute__((noinline)) void alloc_one(State& s) {
  s.rng = s.rng * 6364136223846793005ULL + 1442695040888963407ULL;
  const std::size_t size = 16 + ((s.rng >> 33) % 16) * 16;  // 16, 32, ..., 256
  auto* p = new unsigned char[size];
  escape(p);
  p[0] = static_cast<unsigned char>(size);
  p[size - 1] = static_cast<unsigned char>(s.pair);
  unsigned char*& slot = s.ring[s.head];
  if (slot != nullptr) {
    s.checksum += slot[0];
    escape(slot);
    delete[] slot;
  }
  slot = p;
  s.head = (s.head + 1) % kRing;
}

void site_a(State& s, int level, int depth);
void site_b(State& s, int level, int depth);
void site_c(State& s, int level, int depth);
void site_d(State& s, int level, int depth);

// One level down, inlined into its caller: the next site, in an order that depends only on
// the pair's number mod 4 (four distinct stacks), or the allocation at the bottom.
[[gnu::always_inline]] inline void descend(State& s, int level, int depth) {
  if (level >= depth) {
    alloc_one(s);
    return;
  }
  switch ((level + static_cast<int>(s.pair % kSites)) % kSites) {
    case 0:
      site_a(s, level, depth);
      break;
    case 1:
      site_b(s, level, depth);
      break;
    case 2:
      site_c(s, level, depth);
      break;
    default:
      site_d(s, level, depth);
      break;
  }
}

// Four call sites, one frame each; each does work after the call, so that none is a tail
// call and every level keeps its frame.
__attribute__((noinline)) void site_a(State& s, int level, int depth) {
  descend(s, level + 1, depth);
  s.checksum += 1;
  escape(&s);
}
__attribute__((noinline)) void site_b(State& s, int level, int depth) {
  descend(s, level + 1, depth);
  s.checksum += 2;
  escape(&s);
}
__attribute__((noinline)) void site_c(State& s, int level, int depth) {
  descend(s, level + 1, depth);
  s.checksum += 3;
  escape(&s);
}
__attribute__((noinline)) void site_d(State& s, int level, int depth) {
  descend(s, level + 1, depth);
  s.checksum += 4;
  escape(&s);
}

// The planted leak: blocks alive at exit, reachable from a global.
unsigned char* g_leak[8] = {};

__attribute__((noinline)) std::size_t plant_leak() {
  std::size_t bytes = 0;
  for (auto& block : g_leak) {
    block = new unsigned char[512];
    escape(block);
    block[0] = 1;
    bytes += 512;
  }
  return bytes;
}

// VmHWM: the peak resident set of this process (not of the one that forked it), in KiB.
long long peak_rss_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %lld kB", &kib) == 1) {
      break;
    }
  }
  std::fclose(f);
  return kib;
}

long long parse(const char* text, const char* what) {
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value < 0) {
    std::fprintf(stderr, "alloc_heavy: bad %s: %s\n", what, text);
    std::exit(2);
  }
  return value;
}

}  // namespace

// One thread's share of the pairs.
void run_pairs(State& s, long long first, long long count, int depth) {
  for (long long i = first; i < first + count; ++i) {
    s.pair = static_cast<std::uint64_t>(i);
    descend(s, 1, depth);  // main, DEPTH - 1 sites, alloc_one: DEPTH frames below main
  }
}

int main(int argc, char** argv) {
  if (argc > 4) {
    std::fprintf(stderr, "usage: alloc_heavy [PAIRS] [DEPTH] [THREADS]\n");
    return 2;
  }
  const long long pairs = argc > 1 ? parse(argv[1], "pairs") : 5'000'000;
  const int depth = argc > 2 ? static_cast<int>(parse(argv[2], "depth")) : 10;
  const long long threads = argc > 3 ? parse(argv[3], "threads") : 1;
  if (threads < 1 || threads > 256) {
    std::fprintf(stderr, "alloc_heavy: threads must be in [1; 256]\n");
    return 2;
  }

  std::vector<State> states(static_cast<std::size_t>(threads));
  const auto start = std::chrono::steady_clock::now();
  if (threads == 1) {
    run_pairs(states[0], 0, pairs, depth);
  } else {
    std::vector<std::thread> workers;
    const long long share = pairs / threads;
    for (long long t = 0; t < threads; ++t) {
      const long long count = t == threads - 1 ? pairs - share * t : share;
      workers.emplace_back(run_pairs, std::ref(states[static_cast<std::size_t>(t)]), share * t,
                           count, depth);
    }
    for (auto& w : workers) {
      w.join();
    }
  }
  const auto stop = std::chrono::steady_clock::now();
  std::uint64_t checksum = 0;
  for (State& s : states) {
    for (auto*& block : s.ring) {
      if (block != nullptr) {
        s.checksum += block[0];
        delete[] block;
        block = nullptr;
      }
    }
    checksum += s.checksum;
  }
  const std::size_t leaked = plant_leak();
  const double loop_s = std::chrono::duration<double>(stop - start).count();
  std::printf(
      "{\"pairs\": %lld, \"depth\": %d, \"checksum\": %llu, \"loop_s\": %.6f, "
      "\"leaked_bytes\": %zu, \"peak_rss_kib\": %lld}\n",
      pairs, depth, static_cast<unsigned long long>(checksum), loop_s, leaked, peak_rss_kib());
  return 0;
}
