// Eight threads allocating and freeing across threads, each leaving a known number of blocks.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 8;
constexpr int kBlocks = 50000;
constexpr int kKept = 100;

void keep(void* p) { asm volatile("" : : "g"(p) : "memory"); }

[[gnu::noinline]] void* thread_alloc(std::size_t n) {
  return std::malloc(n);  // MARK: thread_alloc
}

}  // namespace

int main() {
  std::vector<std::vector<void*>> handed(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlocks; ++i) {
        void* p = thread_alloc(std::size_t(16 * (t + 1)));
        if (i < kKept) {
          keep(p);  // leaked on purpose
        } else if (i % 2 == 0) {
          handed[std::size_t(t)].push_back(p);
        } else {
          std::free(p);
        }
      }
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      for (void* p : handed[std::size_t((t + 1) % kThreads)]) {
        std::free(p);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  std::puts("threads: done");
  return 0;
}
