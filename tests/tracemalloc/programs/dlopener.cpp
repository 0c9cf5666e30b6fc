// Loads the plugin named by argv[1] with dlopen and leaks through its functions.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (lib == nullptr) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto allocate = reinterpret_cast<void* (*)(std::size_t)>(dlsym(lib, "plugin_allocate"));
  auto inline_allocate =
      reinterpret_cast<void* (*)(std::size_t)>(dlsym(lib, "plugin_inline_allocate"));
  if (allocate == nullptr || inline_allocate == nullptr) {
    return 1;
  }
  for (int i = 0; i < 4; ++i) {
    void* p = allocate(1234);
    asm volatile("" : : "g"(p) : "memory");
  }
  void* q = inline_allocate(777);
  asm volatile("" : : "g"(q) : "memory");
  std::puts("dlopener: done");
  return 0;
}
