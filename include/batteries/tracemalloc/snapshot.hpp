// Snapshots of traced allocations and the reports built from them: Python's tracemalloc classes.
//
// Frame, Traceback, Trace, Statistic and StatisticDiff are plain values; Snapshot holds the
// traces of one moment and groups them (statistics, compare_to), filters them (Filter,
// DomainFilter) and saves them (dump, load).
//
// Thread-safety: all of these are values. A const Snapshot may be used from many threads at
// once: the symbols of its addresses are resolved once, under a lock, on first use.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

namespace batteries::tracemalloc {

/// A trace's domain: 0 for the C and C++ heap, other numbers for user pools (track/untrack).
using Domain = std::uint32_t;
/// The domain of malloc, operator new and their kin (Python's DEFAULT_DOMAIN).
inline constexpr Domain kDefaultDomain = 0;

/// One frame of a traceback. Python's Frame has filename and lineno; a native frame also knows
/// its function and where its code lies (module and offset), which is all a binary without
/// debug information can say: then filename is the module's path and lineno is 0.
struct Frame {
  std::string filename{};    ///< Source file, or the module's path when there is no line info.
  int lineno = 0;            ///< Line number, 0 when unknown.
  std::string function{};    ///< Demangled function name, "" when unknown.
  std::string module{};      ///< Path of the executable or shared library, "" when unknown.
  std::uint64_t offset = 0;  ///< Address of the call site relative to the module's load base.

  /// Python's str(frame): "filename:lineno"; "module+0xoffset" when there is no line info.
  [[nodiscard]] std::string str() const;
  /// Python's repr(frame): "<Frame filename='a.cpp' lineno=12>".
  [[nodiscard]] std::string repr() const;

  /// Frames compare by (filename, lineno, function), and by offset too when lineno is 0 (two
  /// unknown lines in one module are different places).
  friend bool operator==(const Frame& a, const Frame& b) noexcept;
  friend std::strong_ordering operator<=>(const Frame& a, const Frame& b) noexcept;
};

/// A sequence of frames from the oldest to the most recent, as in Python 3.7+.
class Traceback {
 public:
  Traceback();
  /// Python's Traceback(frames, total_nframe): `frames` is given most recent first, the order
  /// in which stacks are captured, and stored oldest first.
  explicit Traceback(std::vector<Frame> frames_most_recent_first,
                     std::optional<std::size_t> total_nframe = std::nullopt);

  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// frames()[0] is the oldest frame, frames().back() the most recent. Raises IndexError out
  /// of range.
  [[nodiscard]] const Frame& operator[](std::size_t i) const;
  /// Python's negative indexes: at(-1) is the most recent frame. Raises IndexError.
  [[nodiscard]] const Frame& at(std::ptrdiff_t i) const;
  [[nodiscard]] const std::vector<Frame>& frames() const noexcept;
  [[nodiscard]] auto begin() const noexcept { return frames().begin(); }
  [[nodiscard]] auto end() const noexcept { return frames().end(); }
  /// The number of frames the stack had before it was cut to the traceback limit.
  [[nodiscard]] std::optional<std::size_t> total_nframe() const noexcept { return m_total; }
  [[nodiscard]] bool contains(const Frame& frame) const;

  /// Python's Traceback.format(limit, most_recent_first): two lines per frame, the second the
  /// stripped source line when the file can be read. A native frame adds ", in function".
  [[nodiscard]] std::vector<std::string> format(std::optional<std::ptrdiff_t> limit = std::nullopt,
                                                bool most_recent_first = false) const;
  /// Python's str(traceback): str() of the oldest frame (frames()[0]).
  [[nodiscard]] std::string str() const;
  /// "<Traceback (<Frame ...>, ...) total_nframe=N>".
  [[nodiscard]] std::string repr() const;

  friend bool operator==(const Traceback& a, const Traceback& b) noexcept;
  friend std::strong_ordering operator<=>(const Traceback& a, const Traceback& b) noexcept;
  [[nodiscard]] std::size_t hash() const noexcept;

 private:
  std::shared_ptr<const std::vector<Frame>> m_frames;  // oldest first, shared between copies
  std::optional<std::size_t> m_total;
};

/// One traced memory block: Python's Trace.
struct Trace {
  Domain domain = kDefaultDomain;
  std::size_t size = 0;
  Traceback traceback;

  /// Python's str(trace): "a.cpp:12: 64 B".
  [[nodiscard]] std::string str() const;
  /// Python's repr: "<Trace domain=0 size=64 B, traceback=<Traceback ...>>".
  [[nodiscard]] std::string repr() const;
  friend bool operator==(const Trace&, const Trace&) = default;
};

/// Memory allocated at one place (or traceback): Python's Statistic.
struct Statistic {
  Traceback traceback;
  std::size_t size = 0;
  std::size_t count = 0;

  /// "a.cpp:12: size=1024 KiB, count=3, average=341 KiB".
  [[nodiscard]] std::string str() const;
  /// "<Statistic traceback=<Traceback ...> size=1048576 count=3>".
  [[nodiscard]] std::string repr() const;
  friend bool operator==(const Statistic&, const Statistic&) = default;
};

/// The change at one place between an old and a new snapshot: Python's StatisticDiff.
struct StatisticDiff {
  Traceback traceback;
  std::size_t size = 0;
  std::int64_t size_diff = 0;
  std::size_t count = 0;
  std::int64_t count_diff = 0;

  /// "a.cpp:12: size=1024 KiB (+1024 KiB), count=3 (+3), average=341 KiB".
  [[nodiscard]] std::string str() const;
  /// "<StatisticDiff traceback=<Traceback ...> size=1048576 (+1048576) count=3 (+3)>".
  [[nodiscard]] std::string repr() const;
  friend bool operator==(const StatisticDiff&, const StatisticDiff&) = default;
};

/// How Snapshot::statistics groups traces: Python's key_type strings.
enum class KeyType { lineno, filename, traceback };

/// Parses "lineno", "filename" or "traceback"; anything else raises
/// ValueError("unknown key_type: 'x'").
[[nodiscard]] KeyType key_type_from_string(std::string_view name);
[[nodiscard]] std::string_view to_string(KeyType key) noexcept;

/// Python's tracemalloc.Filter: keeps (inclusive) or drops traces by where they were made.
/// The pattern is an fnmatch pattern matched against Frame::filename.
struct Filter {
  bool inclusive = true;
  std::string filename_pattern;
  std::optional<int> lineno = std::nullopt;
  bool all_frames = false;
  std::optional<Domain> domain = std::nullopt;

  [[nodiscard]] std::string repr() const;
};

/// Python's tracemalloc.DomainFilter: keeps or drops the traces of one domain.
struct DomainFilter {
  bool inclusive = true;
  Domain domain = kDefaultDomain;

  [[nodiscard]] std::string repr() const;
};

using AnyFilter = std::variant<Filter, DomainFilter>;

namespace detail {
struct SnapshotData;
}

/// The traces of one moment: Python's tracemalloc.Snapshot.
class Snapshot {
 public:
  /// An empty snapshot with traceback_limit 1.
  Snapshot();
  /// Python's Snapshot(traces, traceback_limit).
  Snapshot(std::vector<Trace> traces, std::size_t traceback_limit);

  /// The traced memory blocks, with their tracebacks resolved to file, line and function.
  /// The first call resolves the symbols of the snapshot's addresses.
  [[nodiscard]] const std::vector<Trace>& traces() const;
  /// The number of frames stored per traceback when the snapshot was taken.
  [[nodiscard]] std::size_t traceback_limit() const noexcept;

  /// Python's statistics(key_type, cumulative): sorted by size, count, traceback, largest
  /// first. Raises ValueError for cumulative with KeyType::traceback.
  [[nodiscard]] std::vector<Statistic> statistics(KeyType key_type, bool cumulative = false) const;
  [[nodiscard]] std::vector<Statistic> statistics(std::string_view key_type,
                                                  bool cumulative = false) const;
  /// Python's compare_to(old_snapshot, key_type, cumulative).
  [[nodiscard]] std::vector<StatisticDiff> compare_to(const Snapshot& old_snapshot,
                                                      KeyType key_type,
                                                      bool cumulative = false) const;
  [[nodiscard]] std::vector<StatisticDiff> compare_to(const Snapshot& old_snapshot,
                                                      std::string_view key_type,
                                                      bool cumulative = false) const;
  /// Python's filter_traces(filters): a new snapshot with the traces the filters keep.
  [[nodiscard]] Snapshot filter_traces(const std::vector<AnyFilter>& filters) const;

  /// Python's dump(filename): writes the snapshot, with its symbols resolved, to a binary file
  /// (magic, version, lengths and checksums). Raises OSError.
  void dump(const std::string& filename) const;
  /// Python's Snapshot.load(filename). A file that is not a snapshot, or is corrupt or cut
  /// short, raises ValueError saying what is wrong; OSError when it cannot be read.
  [[nodiscard]] static Snapshot load(const std::string& filename);

  /// Beyond Python: what the tracer knew when the snapshot was taken (0 when unknown).
  [[nodiscard]] std::size_t traced_memory() const noexcept;
  [[nodiscard]] std::size_t peak_traced_memory() const noexcept;
  /// The byte sampling rate the traces were taken with; 0 when every allocation was traced.
  /// Sampled traces carry unbiased size estimates.
  [[nodiscard]] std::uint64_t sample_rate() const noexcept;

  /// Internal: the shared state. Not part of the API.
  explicit Snapshot(std::shared_ptr<const detail::SnapshotData> data);
  [[nodiscard]] const detail::SnapshotData& data() const noexcept { return *m_data; }

 private:
  std::shared_ptr<const detail::SnapshotData> m_data;
};

/// Writes a flame graph of the snapshot's live memory as a standalone SVG (one box per frame,
/// width proportional to bytes), readable in any browser. Raises OSError.
void write_flamegraph(const Snapshot& snapshot, const std::string& filename,
                      std::string_view title = "Live memory");
/// The same SVG as a string.
[[nodiscard]] std::string flamegraph_svg(const Snapshot& snapshot,
                                         std::string_view title = "Live memory");

std::ostream& operator<<(std::ostream& os, const Frame& v);
std::ostream& operator<<(std::ostream& os, const Traceback& v);
std::ostream& operator<<(std::ostream& os, const Trace& v);
std::ostream& operator<<(std::ostream& os, const Statistic& v);
std::ostream& operator<<(std::ostream& os, const StatisticDiff& v);

}  // namespace batteries::tracemalloc

template <>
struct std::hash<batteries::tracemalloc::Frame> {
  std::size_t operator()(const batteries::tracemalloc::Frame& f) const noexcept;
};
template <>
struct std::hash<batteries::tracemalloc::Traceback> {
  std::size_t operator()(const batteries::tracemalloc::Traceback& t) const noexcept {
    return t.hash();
  }
};

#define BATTERIES_TRACEMALLOC_FORMATTER(T)                           \
  template <>                                                        \
  struct fmt::formatter<T> : fmt::formatter<std::string_view> {      \
    auto format(const T& v, fmt::format_context& ctx) const {        \
      return fmt::formatter<std::string_view>::format(v.str(), ctx); \
    }                                                                \
  };
BATTERIES_TRACEMALLOC_FORMATTER(batteries::tracemalloc::Frame)
BATTERIES_TRACEMALLOC_FORMATTER(batteries::tracemalloc::Traceback)
BATTERIES_TRACEMALLOC_FORMATTER(batteries::tracemalloc::Trace)
BATTERIES_TRACEMALLOC_FORMATTER(batteries::tracemalloc::Statistic)
BATTERIES_TRACEMALLOC_FORMATTER(batteries::tracemalloc::StatisticDiff)
#undef BATTERIES_TRACEMALLOC_FORMATTER
