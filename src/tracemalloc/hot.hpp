// The state every hook reads on every call, inline so that the fast paths are a few loads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace batteries::tracemalloc::detail {

enum : int { kModeOff = 0, kModeFull = 1, kModeSampling = 2 };

/// Off, tracing every block, or sampling by bytes.
inline std::atomic<int> g_mode{kModeOff};

/// Sampling: bytes left before this thread's next sample point. The hook counts it down and
/// calls the tracer only when it reaches zero.
inline thread_local std::int64_t t_countdown [[gnu::tls_model("initial-exec")]] = 0;

/// Sampling: a counting filter of the sampled live blocks, so that free() of a block that was
/// not sampled (almost all of them) costs one load and no lock. 16 KiB, so that it stays in
/// the first-level cache; a counter that reaches 255 stays there ("maybe sampled") for good.
inline constexpr std::size_t kFilterSize = std::size_t{1} << 14;
inline std::atomic<std::uint8_t> g_filter[kFilterSize];

inline std::size_t filter_index(std::uintptr_t p) noexcept {
  return std::size_t(((p >> 4) * 0x9e3779b97f4a7c15ULL) >> 50);
}

inline void filter_add(std::uintptr_t p) noexcept {
  auto& counter = g_filter[filter_index(p)];
  std::uint8_t v = counter.load(std::memory_order_relaxed);
  while (v < 255 &&
         !counter.compare_exchange_weak(v, std::uint8_t(v + 1), std::memory_order_relaxed)) {
  }
}

inline void filter_remove(std::uintptr_t p) noexcept {
  auto& counter = g_filter[filter_index(p)];
  std::uint8_t v = counter.load(std::memory_order_relaxed);
  while (v > 0 && v < 255 &&
         !counter.compare_exchange_weak(v, std::uint8_t(v - 1), std::memory_order_relaxed)) {
  }
}

inline std::int64_t& hot_countdown() noexcept { return t_countdown; }

}  // namespace batteries::tracemalloc::detail
