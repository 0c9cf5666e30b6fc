// The tracer's raw snapshot (modules, return addresses, traces) and the state a Snapshot shares.
#pragma once

#include <batteries/tracemalloc/snapshot.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace batteries::tracemalloc::detail {

/// One loaded ELF object: the executable, a shared library, or one opened with dlopen.
struct ModuleInfo {
  std::string path;         // absolute path of the file; "" when unknown (the vDSO)
  std::uint64_t bias = 0;   // load bias: runtime address = address in the file + bias
  std::uint64_t start = 0;  // runtime range [start, end) covering its executable segments
  std::uint64_t end = 0;
  std::string build_id;  // raw bytes of the NT_GNU_BUILD_ID note; "" when it has none
  friend bool operator==(const ModuleInfo&, const ModuleInfo&) = default;
};

/// A captured stack: return addresses, the most recent first.
struct RawTraceback {
  std::vector<std::uint64_t> frames;
  std::uint32_t total_nframe = 0;  // kNoTotal when unknown (Python's None)
  friend bool operator==(const RawTraceback&, const RawTraceback&) = default;
};
inline constexpr std::uint32_t kNoTotal = 0xffffffffu;

struct RawTrace {
  std::uint32_t domain = 0;
  std::uint64_t size = 0;
  std::uint32_t traceback = 0;  // index into RawSnapshot::tracebacks
  friend bool operator==(const RawTrace&, const RawTrace&) = default;
};

/// What the tracer copies out at take_snapshot() and what the agent writes at exit.
struct RawSnapshot {
  std::uint64_t pid = 0;
  std::uint64_t traceback_limit = 1;
  std::uint64_t sample_rate = 0;
  std::uint64_t traced_current = 0;
  std::uint64_t traced_peak = 0;
  double time = 0;  // seconds since the epoch
  std::vector<ModuleInfo> modules;
  std::vector<RawTraceback> tracebacks;
  std::vector<RawTrace> traces;
};

/// The state behind a Snapshot. A snapshot taken in-process or loaded from an agent's dump
/// has `raw` filled and resolves `traces` from it on first use; one built from Trace values
/// or loaded from a resolved dump has `traces` filled from the start (resolved = true).
struct SnapshotData {
  RawSnapshot raw;
  std::size_t traceback_limit = 1;

  mutable std::once_flag resolve_once;
  mutable std::vector<Trace> traces;
  mutable bool resolved = false;

  /// Resolves the raw traces (symbolization, inline expansion) once; thread-safe.
  const std::vector<Trace>& resolved_traces() const;
};

}  // namespace batteries::tracemalloc::detail
