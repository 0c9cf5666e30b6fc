// A program with known leaks for the tool tests: each allocation's line is marked, and main
// frees everything else.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

void keep(void* p) { asm volatile("" : : "g"(p) : "memory"); }

struct Widget {
  char data[48];
};

struct alignas(64) Aligned {
  char data[200];
};

[[gnu::noinline]] void* leak_malloc() {
  return std::malloc(100);  // MARK: leak_malloc
}

[[gnu::noinline]] int* leak_new_array(int n) {
  return new int[std::size_t(n)];  // MARK: leak_new_array
}

[[gnu::noinline]] Widget* leak_object() {
  return new Widget;  // MARK: leak_new
}

[[gnu::noinline]] void* realloc_chain() {
  void* p = std::malloc(16);
  for (std::size_t n = 32; n <= 4096; n *= 2) {
    p = std::realloc(p, n);  // MARK: realloc_chain
  }
  return p;
}

[[gnu::noinline]] void* leak_aligned() {
  void* p = nullptr;
  if (posix_memalign(&p, 256, 3000) != 0) {  // MARK: leak_posix_memalign
    std::abort();
  }
  return p;
}

[[gnu::noinline]] Aligned* leak_aligned_new() {
  return new Aligned;  // MARK: leak_aligned_new
}

[[gnu::noinline]] void* leak_calloc() {
  return std::calloc(10, 70);  // MARK: leak_calloc
}

[[gnu::noinline]] std::string* leak_string() {
  // libstdc++'s own code allocates the buffer: the site is still this line.
  return new std::string(5000, 'x');  // MARK: leak_string
}

[[gnu::noinline]] void churn() {
  for (int i = 0; i < 10000; ++i) {
    void* p = std::malloc(std::size_t(i % 100 + 1));  // MARK: freed
    keep(p);
    std::free(p);
  }
}

}  // namespace

int main() {
  for (int i = 0; i < 10; ++i) {
    keep(leak_malloc());
  }
  for (int i = 0; i < 3; ++i) {
    keep(leak_new_array(256));
  }
  for (int i = 0; i < 5; ++i) {
    keep(leak_object());
  }
  keep(realloc_chain());
  keep(leak_aligned());
  keep(leak_aligned_new());
  keep(leak_calloc());
  std::string* s = leak_string();
  keep(s);
  churn();
  std::puts("leaks: done");
  return 0;
}
