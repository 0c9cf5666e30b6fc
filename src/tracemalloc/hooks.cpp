// The allocation hooks: malloc and its kin and every operator new and delete, forwarding to
// glibc's allocator and telling the tracer when it is on.
#include <errno.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "hot.hpp"
#include "tracer.hpp"

// A sanitizer's runtime defines malloc itself; a second definition would take the process's
// allocations away from it. Such builds have no hooks and cannot trace in-process.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BATTERIES_SANITIZED_MALLOC 1  // GCC says so with these macros
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define BATTERIES_SANITIZED_MALLOC 1  // clang with __has_feature
#endif
#endif
#ifndef BATTERIES_SANITIZED_MALLOC
#define BATTERIES_TRACEMALLOC_HOOKS 1
#endif

namespace batteries::tracemalloc::detail {
bool hooks_available() noexcept {
#ifdef BATTERIES_TRACEMALLOC_HOOKS
  return true;
#else
  return false;
#endif
}
}  // namespace batteries::tracemalloc::detail

#ifdef BATTERIES_TRACEMALLOC_HOOKS

extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* ptr);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* ptr, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void* __libc_valloc(std::size_t size);
void* __libc_pvalloc(std::size_t size);
}

namespace {

using namespace batteries::tracemalloc::detail;

// Evaluated in each hook's own body, so that the walk starts at the hook's caller.
#define BATTERIES_CALLER reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))
#define BATTERIES_FRAME __builtin_frame_address(0)

[[gnu::always_inline]] inline void after_alloc(void* p, std::size_t n, std::uintptr_t ret,
                                               void* fp) noexcept {
  int mode = g_mode.load(std::memory_order_relaxed);
  if (mode == kModeOff) [[likely]] {
    return;
  }
  if (mode == kModeSampling && (t_countdown -= std::int64_t(n)) > 0) {
    return;
  }
  on_alloc(p, n, ret, fp);
}

[[gnu::always_inline]] inline void before_free(void* p) noexcept {
  int mode = g_mode.load(std::memory_order_relaxed);
  if (mode == kModeOff || p == nullptr) [[likely]] {
    return;
  }
  if (mode == kModeSampling && g_filter[filter_index(reinterpret_cast<std::uintptr_t>(p))].load(
                                   std::memory_order_relaxed) == 0) {
    return;
  }
  on_free(p);
}

[[gnu::always_inline]] inline void* do_realloc(void* old, std::size_t n, std::uintptr_t ret,
                                               void* fp) noexcept {
  if (g_mode.load(std::memory_order_relaxed) == kModeOff || old == nullptr) [[likely]] {
    void* p = __libc_realloc(old, n);
    if (old == nullptr) {
      after_alloc(p, n, ret, fp);
    }
    return p;
  }
  // The old block's trace is taken out first: once realloc has freed it, another thread may
  // be given the same address and trace it.
  TakenTrace taken = take_trace(old);
  void* p = __libc_realloc(old, n);
  if (p == nullptr) {
    if (n != 0) {
      restore_trace(old, taken);  // failed: the old block is still there
    }
    return p;
  }
  if (g_mode.load(std::memory_order_relaxed) == kModeSampling && !taken.found) {
    after_alloc(p, n, ret, fp);
  } else {
    on_alloc(p, n, ret, fp);
  }
  return p;
}

bool valid_alignment(std::size_t alignment) noexcept {
  return alignment != 0 && (alignment & (alignment - 1)) == 0;
}

void* new_block(std::size_t n) {
  for (;;) {
    if (void* p = __libc_malloc(n)) {
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      throw std::bad_alloc();
    }
    handler();
  }
}

void* new_aligned_block(std::size_t n, std::align_val_t al) {
  auto alignment = static_cast<std::size_t>(al);
  if (!valid_alignment(alignment)) {
    throw std::bad_alloc();
  }
  for (;;) {
    if (void* p = __libc_memalign(alignment, n == 0 ? 1 : n)) {
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      throw std::bad_alloc();
    }
    handler();
  }
}

// The nothrow forms: what the throwing ones give, or nullptr where they would throw (a
// new_handler may throw bad_alloc too).
void* nothrow_block(std::size_t n) noexcept {
  try {
    return new_block(n);
  } catch (...) {
    return nullptr;
  }
}

void* nothrow_aligned_block(std::size_t n, std::align_val_t al) noexcept {
  try {
    return new_aligned_block(n, al);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

#define BATTERIES_EXPORT __attribute__((visibility("default")))

extern "C" {

BATTERIES_EXPORT void* malloc(std::size_t n) {
  void* p = __libc_malloc(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void free(void* p) {
  before_free(p);
  __libc_free(p);
}

BATTERIES_EXPORT void* calloc(std::size_t count, std::size_t size) {
  void* p = __libc_calloc(count, size);
  after_alloc(p, count * size, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* realloc(void* old, std::size_t n) {
  return do_realloc(old, n, BATTERIES_CALLER, BATTERIES_FRAME);
}

BATTERIES_EXPORT void* reallocarray(void* old, std::size_t count, std::size_t size) {
  std::size_t n = 0;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return do_realloc(old, n, BATTERIES_CALLER, BATTERIES_FRAME);
}

BATTERIES_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  if (!valid_alignment(alignment) || alignment % sizeof(void*) != 0) {
    return EINVAL;
  }
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) {
    return ENOMEM;
  }
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  *out = p;
  return 0;
}

BATTERIES_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t n) {
  if (!valid_alignment(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  void* p = __libc_memalign(alignment, n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* memalign(std::size_t alignment, std::size_t n) {
  void* p = __libc_memalign(alignment, n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* valloc(std::size_t n) {
  void* p = __libc_valloc(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* pvalloc(std::size_t n) {
  void* p = __libc_pvalloc(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

}  // extern "C"

// ---- operator new and delete, every form ----------------------------------------------------

BATTERIES_EXPORT void* operator new(std::size_t n) {
  void* p = new_block(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new[](std::size_t n) {
  void* p = new_block(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  void* p = nothrow_block(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  void* p = nothrow_block(n);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new(std::size_t n, std::align_val_t al) {
  void* p = new_aligned_block(n, al);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new[](std::size_t n, std::align_val_t al) {
  void* p = new_aligned_block(n, al);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new(std::size_t n, std::align_val_t al,
                                    const std::nothrow_t&) noexcept {
  void* p = nothrow_aligned_block(n, al);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

BATTERIES_EXPORT void* operator new[](std::size_t n, std::align_val_t al,
                                      const std::nothrow_t&) noexcept {
  void* p = nothrow_aligned_block(n, al);
  after_alloc(p, n, BATTERIES_CALLER, BATTERIES_FRAME);
  return p;
}

#define BATTERIES_DELETE_BODY \
  before_free(p);             \
  __libc_free(p);

BATTERIES_EXPORT void operator delete(void* p) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT
    void
    operator delete[](void* p) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete(void* p, std::size_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete[](void* p, std::size_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete(void* p,
                    const std::nothrow_t&) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete[](void* p,
                      const std::nothrow_t&) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete(void* p, std::align_val_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT
    void
    operator delete[](void* p, std::align_val_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT
    void
    operator delete(void* p, std::size_t,
                    std::align_val_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete[](void* p, std::size_t,
                      std::align_val_t) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete(void* p, std::align_val_t,
                    const std::nothrow_t&) noexcept {BATTERIES_DELETE_BODY} BATTERIES_EXPORT void
    operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  BATTERIES_DELETE_BODY
}

#endif  // BATTERIES_TRACEMALLOC_HOOKS
