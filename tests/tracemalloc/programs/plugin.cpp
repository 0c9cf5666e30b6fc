// A shared library with call sites on MARKed lines, for the symbolizer and dlopen tests.
//
// Tests find the lines by scanning this file for the MARK comments, so lines may move freely. The
// empty asm statements after each call keep the compiler from turning the call into a tail call
// (which would drop this library's frame from a stack); `noipa` keeps here() a real, separate
// function that is neither inlined, cloned nor merged with another.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#define PLUGIN_API extern "C" __attribute__((visibility("default")))
// GCC's noipa also rules out cloning and merging; clang lacks it, and noinline does there.
#ifdef __clang__
#define PLUGIN_NOINLINE [[gnu::noinline]]
#else
#define PLUGIN_NOINLINE [[gnu::noipa]]
#endif

namespace {

// Returns its own return address: an address inside the function that called it.
PLUGIN_NOINLINE std::uintptr_t here() {
  asm volatile("");
  return reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
}

}  // namespace

namespace plugin_ns {

// Always inlined into plugin_inline_callsite, so the call to here() has two frames at one address.
[[gnu::always_inline]] inline std::uintptr_t inner_helper() {
  std::uintptr_t address = here();  // MARK: plugin_inline_inner
  asm volatile("" : "+r"(address));
  return address;
}

// Always inlined into plugin_inline_allocate: the traced malloc call has an inlined frame.
[[gnu::always_inline]] inline void* allocate_helper(std::size_t n) {
  void* p = std::malloc(n);  // MARK: plugin_inline_alloc_inner
  asm volatile("" : "+r"(p));
  return p;
}

}  // namespace plugin_ns

PLUGIN_API void* plugin_allocate(std::size_t n) {
  void* p = std::malloc(n);  // MARK: plugin_allocate
  asm volatile("" : "+r"(p));
  return p;
}

PLUGIN_API void plugin_free(void* p) { std::free(p); }

PLUGIN_API std::uintptr_t plugin_callsite() {
  std::uintptr_t address = here();  // MARK: plugin_callsite
  asm volatile("" : "+r"(address));
  return address;
}

PLUGIN_API std::uintptr_t plugin_inline_callsite() {
  std::uintptr_t address = plugin_ns::inner_helper();  // MARK: plugin_inline_outer
  asm volatile("" : "+r"(address));
  return address;
}

PLUGIN_API void* plugin_inline_allocate(std::size_t n) {
  void* p = plugin_ns::allocate_helper(n);  // MARK: plugin_inline_alloc_outer
  asm volatile("" : "+r"(p));
  return p;
}
