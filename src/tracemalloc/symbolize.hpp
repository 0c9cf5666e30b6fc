// Return addresses to file:line:function through elfutils' libdwfl, inlined calls expanded.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "raw.hpp"

namespace batteries::tracemalloc::detail {

/// Resolves the addresses of one process image, described by its module list. Not
/// thread-safe: one Symbolizer per thread. Allocations it makes are not traced.
class Symbolizer {
 public:
  explicit Symbolizer(const std::vector<ModuleInfo>& modules);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// The frames of the call that `return_address` returns from (the call site is the byte
  /// before it), most recent first: the innermost inlined function first, then the functions
  /// it was inlined into, then the real function. Always at least one frame. Results are
  /// cached per address.
  const std::vector<Frame>& resolve(std::uint64_t return_address);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace batteries::tracemalloc::detail
