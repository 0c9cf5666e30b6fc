// Starting and stopping the tracer, and what it has seen: Python's tracemalloc functions.
//
// Linking batteries::tracemalloc into a program replaces malloc, calloc, realloc, free, the
// aligned allocators and every operator new and delete with thin hooks that call glibc's
// allocator. They cost one predictable branch while tracing is off; start() turns them on.
//
// Thread-safety: every function here may be called from any thread at any time, including
// while other threads allocate. start() and stop() racing each other leave the tracer in the
// state of whichever ran last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include <batteries/tracemalloc/snapshot.hpp>

namespace batteries::tracemalloc {

/// The most frames a traceback may keep (Python's limit).
inline constexpr std::size_t kMaxFrames = 65535;

/// Options of start() beyond Python's nframes.
struct StartOptions {
  /// Poisson sampling by bytes with this mean distance between samples (0 traces every
  /// allocation). Sampled traces carry unbiased size estimates: size / (1 - exp(-size/rate)).
  std::uint64_t sample_rate = 0;
};

/// Python's tracemalloc.start(nframe=1): starts tracing, storing up to nframe frames per
/// traceback. Raises ValueError("the number of frames must be in range [1; 65535]"). Calling
/// it while tracing changes the limit for new allocations and keeps the existing traces.
void start(std::size_t nframe = 1, StartOptions options = {});
/// Python's stop(): stops tracing and clears every trace.
void stop();
/// Python's is_tracing().
[[nodiscard]] bool is_tracing() noexcept;
/// Python's get_traceback_limit(): the nframe given to start() (1 before the first start()).
[[nodiscard]] std::size_t get_traceback_limit() noexcept;
/// Python's get_traced_memory(): (current, peak) bytes of the traced blocks.
[[nodiscard]] std::pair<std::size_t, std::size_t> get_traced_memory() noexcept;
/// Python's reset_peak(): the peak becomes the current size.
void reset_peak() noexcept;
/// Python's clear_traces(): forgets every trace and resets current and peak to 0.
void clear_traces();
/// Python's get_tracemalloc_memory(): bytes the tracer uses for its own tables.
[[nodiscard]] std::size_t get_tracemalloc_memory() noexcept;
/// Python's take_snapshot(). Raises RuntimeError("the tracemalloc module must be tracing
/// memory allocations to take a snapshot") when not tracing. Taking it costs a copy of the
/// raw traces; file and line names are resolved later, on first use.
[[nodiscard]] Snapshot take_snapshot();
/// Python's get_object_traceback(obj): where the block at `ptr` was allocated, or nullopt
/// when it is not traced (tracing off, allocated before start(), or not a block's start).
[[nodiscard]] std::optional<Traceback> get_object_traceback(const void* ptr);

/// Python's PyTraceMalloc_Track(domain, ptr, size): records a block of a user pool, replacing
/// any trace of (domain, ptr). Returns false when not tracing. Domain 0 is malloc's own.
bool track(Domain domain, std::uintptr_t ptr, std::size_t size);
/// Python's PyTraceMalloc_Untrack(domain, ptr). Returns false when not tracing.
bool untrack(Domain domain, std::uintptr_t ptr);

/// Beyond Python: while an Untraced object lives, allocations made by this thread are not
/// traced (the tracer uses it for its own work). Nests.
class Untraced {
 public:
  Untraced() noexcept;
  ~Untraced();
  Untraced(const Untraced&) = delete;
  Untraced& operator=(const Untraced&) = delete;

 private:
  bool m_previous;
};

}  // namespace batteries::tracemalloc
