// The tracer's core, shared by the in-process library and the LD_PRELOAD agent: the hooks'
// entry points, the sharded table of live blocks, interned tracebacks and stack capture.
//
// Nothing here allocates through malloc: tables live in mmap'd memory, so the hooks may call
// into the tracer from any allocation. A thread-local flag keeps the tracer's own work (and
// anything it calls, such as the unwinder) from being traced, and from deadlocking on itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "raw.hpp"

namespace batteries::tracemalloc::detail {

class DumpWriter;

/// A snapshot asked for at a moment when it could not be written (a signal that arrived
/// inside the tracer): the next traced allocation outside the tracer calls g_dump_callback.
inline std::atomic<bool> g_dump_request{false};
inline void (*g_dump_callback)() = nullptr;

/// True when this build defines the malloc hooks (sanitizer builds do not: their runtime owns
/// malloc).
bool hooks_available() noexcept;

/// This thread's "inside the tracer" flag: while set, allocations are not traced.
bool& busy() noexcept;

// --- Called by the hooks (hooks.cpp) ---------------------------------------------------------
/// Is any tracing on? One relaxed load; the hooks test it before anything else.
bool tracing() noexcept;
/// Records a new block. `ret` is the hook's return address and `fp` its frame address: the
/// stack is walked from there.
void on_alloc(void* ptr, std::size_t size, std::uintptr_t ret, void* fp) noexcept;
/// Forgets a block before it is given back to the allocator.
void on_free(void* ptr) noexcept;
/// A block's trace, taken out before realloc and put back if realloc fails.
struct TakenTrace {
  bool found = false;
  std::uint64_t size = 0;
  const void* traceback = nullptr;
  std::uint64_t generation = 0;
};
TakenTrace take_trace(void* ptr) noexcept;
void restore_trace(void* ptr, const TakenTrace& taken) noexcept;

// --- The API's side (tracing.cpp, agent.cpp) -------------------------------------------------
/// Starts tracing (or changes the limit and the sampling while tracing).
void tracer_start(std::size_t nframes, std::uint64_t sample_rate) noexcept;
/// Stops tracing and forgets every trace.
void tracer_stop() noexcept;
std::size_t tracer_limit() noexcept;
std::uint64_t tracer_sample_rate() noexcept;
std::pair<std::size_t, std::size_t> tracer_traced_memory() noexcept;
void tracer_reset_peak() noexcept;
void tracer_clear() noexcept;
std::size_t tracer_memory() noexcept;

/// Copies the live traces and their tracebacks, and the process's modules.
RawSnapshot tracer_snapshot();
/// The traceback of the block at `ptr` in `domain`, if it is traced.
bool tracer_traceback_of(Domain domain, std::uintptr_t ptr, RawTraceback& out);
bool tracer_track(Domain domain, std::uintptr_t ptr, std::size_t size, std::uintptr_t ret,
                  void* fp) noexcept;
bool tracer_untrack(Domain domain, std::uintptr_t ptr) noexcept;

/// The loaded modules (executable, shared libraries), for symbolization.
std::vector<ModuleInfo> collect_modules();

/// Streams a raw dump of the live traces into `writer` without allocating. With
/// `from_signal`, locks are only tried (a shard held by the interrupted code is skipped)
/// so a signal handler never deadlocks. Returns writer.finish().
bool tracer_write_dump(DumpWriter& writer, std::uint64_t pid, bool from_signal) noexcept;

}  // namespace batteries::tracemalloc::detail
