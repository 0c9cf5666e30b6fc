// Python's tracemalloc value classes and Snapshot's grouping, filtering and symbol resolution.
#include <batteries/tracemalloc/snapshot.hpp>

#include <batteries/errors.hpp>
#include <batteries/pathlib/detail/fnmatch.hpp>
#include <batteries/tracemalloc/tracing.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "dump.hpp"
#include "raw.hpp"
#include "symbolize.hpp"

namespace batteries::tracemalloc {

namespace detail {

/// The number of leading (most recent) frames of `frames` that belong to the allocation
/// machinery: malloc and its kin, operator new and delete, and libstdc++'s allocator headers
/// inlined into the caller. Never all of them: at least one frame is kept. Declared here only;
/// the tests declare it again to check the rule.
std::size_t allocator_frames(const std::vector<Frame>& most_recent_first);

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

void hash_combine(std::size_t& seed, std::size_t value) noexcept {
  seed ^= value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

const std::shared_ptr<const std::vector<Frame>>& empty_frames() {
  static const auto* const empty =
      new std::shared_ptr<const std::vector<Frame>>(std::make_shared<const std::vector<Frame>>());
  return *empty;
}

const std::vector<Frame>& empty_frame_vector() {
  static const std::vector<Frame>& empty = *empty_frames();
  return empty;
}

// The frame a trace without any frame is grouped and filtered under: CPython's own tracemalloc
// records such a block with the frame ("<unknown>", 0).
const Frame& unknown_frame() {
  static const auto* const frame = new Frame{"<unknown>", 0, "", "", 0};
  return *frame;
}

// Python's tracemalloc._format_size(size, sign).
std::string format_size(double size, bool sign) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  for (std::size_t i = 0; i < kUnits.size(); ++i) {
    const char* unit = kUnits[i];
    if (std::fabs(size) < 100 && i != 0) {
      return sign ? fmt::format("{:+.1f} {}", size, unit) : fmt::format("{:.1f} {}", size, unit);
    }
    if (std::fabs(size) < 10 * 1024 || i + 1 == kUnits.size()) {
      return sign ? fmt::format("{:+.0f} {}", size, unit) : fmt::format("{:.0f} {}", size, unit);
    }
    size /= 1024;
  }
  return {};  // not reached: the last unit always returns
}

std::string format_size(std::size_t size) { return format_size(static_cast<double>(size), false); }

// Python's size / count: the correctly rounded quotient (exact operands below 2^53).
double average(std::size_t size, std::size_t count) {
  constexpr std::size_t kExact = std::size_t{1} << 53;
  if (size < kExact && count < kExact) {
    return static_cast<double>(size) / static_cast<double>(count);
  }
  return static_cast<double>(static_cast<long double>(size) / static_cast<long double>(count));
}

std::string py_bool(bool value) { return value ? "True" : "False"; }

// ---------------------------------------------------------------------------------------------
// linecache: the source lines of files, read once per process, as Python's linecache.getline.

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += len;
  }
  return true;
}

// Python's str.isspace() for one code point.
bool is_py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

// Decodes the code point that starts at text[i] (valid UTF-8), setting its length.
char32_t decode_at(std::string_view text, std::size_t i, std::size_t& len) {
  const auto c = static_cast<unsigned char>(text[i]);
  len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3fu);
  }
  return cp;
}

// Python's str.strip() on valid UTF-8.
std::string_view py_strip(std::string_view text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t len = 0;
    if (!is_py_space(decode_at(text, begin, len))) break;
    begin += len;
  }
  std::size_t end = text.size();
  while (end > begin) {
    std::size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xc0u) == 0x80u) --start;
    std::size_t len = 0;
    if (!is_py_space(decode_at(text, start, len))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

using Lines = std::vector<std::string>;

// Python's linecache.updatecache for a file: its lines as tokenize.open reads them (UTF-8, a
// BOM dropped, universal newlines), or none when it cannot be read or decoded.
Lines read_source_lines(const std::string& filename) {
  Lines lines;
  if (filename.empty() || (filename.front() == '<' && filename.back() == '>')) return lines;
  const int fd = ::open(filename.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lines;
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::array<char, 65536> buffer{};
    for (;;) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n > 0) {
        data.append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        data.clear();
        break;
      }
    }
  }
  ::close(fd);
  std::string_view text = data;
  if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);
  if (!is_utf8(text)) return lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.emplace_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.emplace_back(text.substr(start));
  return lines;
}

// Python's linecache.getline(filename, lineno).strip(), with the same process-wide caching:
// a file is read the first time one of its lines is asked for.
std::string source_line(const std::string& filename, int lineno) {
  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<const Lines>> files;
  };
  // Never destroyed: tracebacks may be formatted while the program exits.
  static auto* const cache = new Cache;
  if (lineno < 1) return {};  // no line to show: do not read (or keep) the file at all
  std::shared_ptr<const Lines> lines;
  {
    std::lock_guard lock(cache->mutex);
    if (auto it = cache->files.find(filename); it != cache->files.end()) lines = it->second;
  }
  if (!lines) {
    auto read = std::make_shared<const Lines>(read_source_lines(filename));
    std::lock_guard lock(cache->mutex);
    lines = cache->files.try_emplace(filename, std::move(read)).first->second;
  }
  if (static_cast<std::size_t>(lineno) > lines->size()) return {};
  return std::string(py_strip((*lines)[static_cast<std::size_t>(lineno) - 1]));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Frame

std::string Frame::str() const {
  if (lineno > 0 || module.empty()) return fmt::format("{}:{}", filename, lineno);
  return fmt::format("{}+{:#x}", module, offset);
}

std::string Frame::repr() const {
  return fmt::format("<Frame filename={} lineno={}>", py_repr(filename), lineno);
}

bool operator==(const Frame& a, const Frame& b) noexcept {
  return a.lineno == b.lineno && a.filename == b.filename && a.function == b.function &&
         (a.lineno != 0 || a.offset == b.offset);
}

std::strong_ordering operator<=>(const Frame& a, const Frame& b) noexcept {
  if (auto c = a.filename <=> b.filename; c != 0) return c;
  if (auto c = a.lineno <=> b.lineno; c != 0) return c;
  if (auto c = a.function <=> b.function; c != 0) return c;
  if (a.lineno == 0) return a.offset <=> b.offset;
  return std::strong_ordering::equal;
}

// ---------------------------------------------------------------------------------------------
// Traceback

Traceback::Traceback() : m_frames(empty_frames()) {}

Traceback::Traceback(std::vector<Frame> frames_most_recent_first,
                     std::optional<std::size_t> total_nframe)
    : m_total(total_nframe) {
  if (frames_most_recent_first.empty()) {
    m_frames = empty_frames();
  } else {
    std::reverse(frames_most_recent_first.begin(), frames_most_recent_first.end());
    m_frames = std::make_shared<const std::vector<Frame>>(std::move(frames_most_recent_first));
  }
}

// A moved-from Traceback has no vector; it reads as empty.
const std::vector<Frame>& Traceback::frames() const noexcept {
  return m_frames ? *m_frames : empty_frame_vector();
}

std::size_t Traceback::size() const noexcept { return m_frames ? m_frames->size() : 0; }

const Frame& Traceback::operator[](std::size_t i) const {
  if (i >= size()) throw IndexError("tuple index out of range");
  return frames()[i];
}

const Frame& Traceback::at(std::ptrdiff_t i) const {
  const auto n = static_cast<std::ptrdiff_t>(size());
  const std::ptrdiff_t index = i < 0 ? i + n : i;
  if (index < 0 || index >= n) throw IndexError("tuple index out of range");
  return frames()[static_cast<std::size_t>(index)];
}

bool Traceback::contains(const Frame& frame) const {
  const auto& all = frames();
  return std::find(all.begin(), all.end(), frame) != all.end();
}

std::vector<std::string> Traceback::format(std::optional<std::ptrdiff_t> limit,
                                           bool most_recent_first) const {
  const auto& all = frames();
  const auto n = static_cast<std::ptrdiff_t>(all.size());
  std::ptrdiff_t first = 0;
  std::ptrdiff_t last = n;
  if (limit) {
    if (*limit > 0) {
      first = std::max<std::ptrdiff_t>(0, n - *limit);  // self[-limit:]
    } else {
      last = *limit == 0 ? 0 : std::max<std::ptrdiff_t>(0, n + *limit);  // self[:limit]
    }
  }
  std::vector<const Frame*> slice;
  for (std::ptrdiff_t i = first; i < last; ++i) slice.push_back(&all[static_cast<std::size_t>(i)]);
  if (most_recent_first) std::reverse(slice.begin(), slice.end());

  std::vector<std::string> lines;
  for (const Frame* frame : slice) {
    if (frame->function.empty()) {
      lines.push_back(fmt::format("  File \"{}\", line {}", frame->filename, frame->lineno));
    } else {
      lines.push_back(fmt::format("  File \"{}\", line {}, in {}", frame->filename, frame->lineno,
                                  frame->function));
    }
    std::string line = source_line(frame->filename, frame->lineno);
    if (!line.empty()) lines.push_back("    " + line);
  }
  return lines;
}

std::string Traceback::str() const { return at(0).str(); }

std::string Traceback::repr() const {
  std::string out = "<Traceback (";
  const auto& all = frames();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i != 0) out += ", ";
    out += all[i].repr();
  }
  if (all.size() == 1) out += ',';
  out += ')';
  if (m_total) {
    out += fmt::format(" total_nframe={}>", *m_total);
  } else {
    out += '>';
  }
  return out;
}

bool operator==(const Traceback& a, const Traceback& b) noexcept {
  return a.m_frames == b.m_frames || a.frames() == b.frames();
}

std::strong_ordering operator<=>(const Traceback& a, const Traceback& b) noexcept {
  if (a.m_frames == b.m_frames) return std::strong_ordering::equal;
  const auto& x = a.frames();
  const auto& y = b.frames();
  return std::lexicographical_compare_three_way(x.begin(), x.end(), y.begin(), y.end());
}

std::size_t Traceback::hash() const noexcept {
  std::size_t seed = size();
  for (const Frame& frame : frames()) hash_combine(seed, std::hash<Frame>{}(frame));
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Trace, Statistic, StatisticDiff

std::string Trace::str() const { return fmt::format("{}: {}", traceback.str(), format_size(size)); }

std::string Trace::repr() const {
  // Python's own spelling, comma included: "<Trace domain=%s size=%s, traceback=%r>".
  return fmt::format("<Trace domain={} size={}, traceback={}>", domain, format_size(size),
                     traceback.repr());
}

std::string Statistic::str() const {
  std::string text =
      fmt::format("{}: size={}, count={}", traceback.str(), format_size(size), count);
  if (count != 0) text += ", average=" + format_size(average(size, count), false);
  return text;
}

std::string Statistic::repr() const {
  return fmt::format("<Statistic traceback={} size={} count={}>", traceback.repr(), size, count);
}

std::string StatisticDiff::str() const {
  std::string text =
      fmt::format("{}: size={} ({}), count={} ({:+})", traceback.str(), format_size(size),
                  format_size(static_cast<double>(size_diff), true), count, count_diff);
  if (count != 0) text += ", average=" + format_size(average(size, count), false);
  return text;
}

std::string StatisticDiff::repr() const {
  return fmt::format("<StatisticDiff traceback={} size={} ({:+}) count={} ({:+})>",
                     traceback.repr(), size, size_diff, count, count_diff);
}

// ---------------------------------------------------------------------------------------------
// KeyType, filters

KeyType key_type_from_string(std::string_view name) {
  if (name == "lineno") return KeyType::lineno;
  if (name == "filename") return KeyType::filename;
  if (name == "traceback") return KeyType::traceback;
  throw ValueError("unknown key_type: " + py_repr(name));
}

std::string_view to_string(KeyType key) noexcept {
  switch (key) {
    case KeyType::lineno:
      return "lineno";
    case KeyType::filename:
      return "filename";
    case KeyType::traceback:
      return "traceback";
  }
  return "?";
}

std::string Filter::repr() const {
  return fmt::format("<Filter inclusive={} filename_pattern={} lineno={} all_frames={} domain={}>",
                     py_bool(inclusive), py_repr(filename_pattern),
                     lineno ? std::to_string(*lineno) : std::string("None"), py_bool(all_frames),
                     domain ? std::to_string(*domain) : std::string("None"));
}

std::string DomainFilter::repr() const {
  return fmt::format("<DomainFilter inclusive={} domain={}>", py_bool(inclusive), domain);
}

namespace {

// Python's _normalize_filename: os.path.normcase is the identity on POSIX; ".pyc" -> ".py".
std::string_view normalize_filename(std::string_view filename) {
  if (filename.ends_with(".pyc")) filename.remove_suffix(1);
  return filename;
}

// A Filter with its pattern compiled once.
class CompiledFilter {
 public:
  explicit CompiledFilter(const Filter& filter)
      : m_filter(filter), m_pattern(normalize_filename(filter.filename_pattern)) {}

  // Python's Filter._match(trace).
  [[nodiscard]] bool match(const Trace& trace) const {
    bool res = match_traceback(trace.traceback);
    if (m_filter.domain) {
      if (m_filter.inclusive) return res && trace.domain == *m_filter.domain;
      return res || trace.domain != *m_filter.domain;
    }
    return res;
  }

 private:
  [[nodiscard]] bool match_frame_impl(const Frame& frame) const {
    if (!m_pattern.matches(normalize_filename(frame.filename))) return false;
    return !m_filter.lineno || frame.lineno == *m_filter.lineno;
  }

  [[nodiscard]] bool match_traceback(const Traceback& traceback) const {
    const auto& frames = traceback.frames();
    if (frames.empty()) {
      return match_frame_impl(unknown_frame()) != !m_filter.inclusive;
    }
    if (m_filter.all_frames) {
      const bool any = std::any_of(frames.begin(), frames.end(),
                                   [&](const Frame& f) { return match_frame_impl(f); });
      return any ? m_filter.inclusive : !m_filter.inclusive;
    }
    // Python's traceback[0] of the raw tuple: the most recent frame.
    return match_frame_impl(frames.back()) != !m_filter.inclusive;
  }

  const Filter& m_filter;
  pathlib::detail::Pattern m_pattern;
};

class CompiledAnyFilter {
 public:
  explicit CompiledAnyFilter(const AnyFilter& filter) {
    if (const auto* f = std::get_if<Filter>(&filter)) {
      m_inclusive = f->inclusive;
      m_filter.emplace(*f);
    } else {
      const auto& d = std::get<DomainFilter>(filter);
      m_inclusive = d.inclusive;
      m_domain = d;
    }
  }

  [[nodiscard]] bool inclusive() const noexcept { return m_inclusive; }

  // Python's BaseFilter._match(trace).
  [[nodiscard]] bool match(const Trace& trace) const {
    if (m_filter) return m_filter->match(trace);
    return (trace.domain == m_domain.domain) != !m_domain.inclusive;
  }

 private:
  bool m_inclusive = true;
  std::optional<CompiledFilter> m_filter;
  DomainFilter m_domain;
};

// ---------------------------------------------------------------------------------------------
// Grouping: Python's Snapshot._group_by.

struct Totals {
  std::size_t size = 0;
  std::size_t count = 0;
};

using Grouped = std::unordered_map<Traceback, Totals>;

Traceback single_frame(Frame frame) {
  std::vector<Frame> frames;
  frames.push_back(std::move(frame));
  return Traceback(std::move(frames));
}

Frame key_frame(const Frame& frame, KeyType key_type) {
  if (key_type == KeyType::lineno) return frame;
  return Frame{frame.filename, 0, "", "", 0};
}

Grouped group_by(const std::vector<Trace>& traces, KeyType key_type, bool cumulative) {
  if (cumulative && key_type == KeyType::traceback) {
    throw ValueError("cumulative mode cannot by used with key type " +
                     py_repr(to_string(key_type)));
  }
  // Traces resolved from one raw traceback share its frames: total them per shared vector
  // first (a pointer hash), so frames are hashed and compared once per distinct traceback.
  std::unordered_map<const std::vector<Frame>*, Totals> by_vector;
  for (const Trace& trace : traces) {
    Totals& totals = by_vector[&trace.traceback.frames()];
    totals.size += trace.size;
    ++totals.count;
  }

  Grouped grouped;
  if (key_type == KeyType::traceback) {
    // Python keys the statistics by new tracebacks, without total_nframe.
    for (const auto& [frames, totals] : by_vector) {
      Traceback key = frames->empty()
                          ? single_frame(unknown_frame())
                          : Traceback(std::vector<Frame>(frames->rbegin(), frames->rend()));
      Totals& into = grouped[std::move(key)];
      into.size += totals.size;
      into.count += totals.count;
    }
    return grouped;
  }

  std::unordered_map<Frame, Totals> by_frame;
  auto add = [&](const Frame& frame, const Totals& totals) {
    Totals& into = by_frame[key_frame(frame, key_type)];
    into.size += totals.size;
    into.count += totals.count;
  };
  for (const auto& [frames, totals] : by_vector) {
    if (frames->empty()) {
      add(unknown_frame(), totals);
    } else if (cumulative) {
      // Every frame counts, a frame seen twice (recursion) twice, as in Python.
      for (const Frame& frame : *frames) add(frame, totals);
    } else {
      add(frames->back(), totals);  // Python's trace_traceback[:1]: the most recent frame
    }
  }
  grouped.reserve(by_frame.size());
  for (auto& [frame, totals] : by_frame) grouped.emplace(single_frame(frame), totals);
  return grouped;
}

// Python's Statistic._sort_key, for reverse=True.
bool statistic_before(const Statistic& a, const Statistic& b) {
  if (a.size != b.size) return a.size > b.size;
  if (a.count != b.count) return a.count > b.count;
  return b.traceback < a.traceback;
}

std::uint64_t magnitude(std::int64_t v) {
  return v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
}

// Python's StatisticDiff._sort_key, for reverse=True.
bool diff_before(const StatisticDiff& a, const StatisticDiff& b) {
  const auto as = magnitude(a.size_diff);
  const auto bs = magnitude(b.size_diff);
  if (as != bs) return as > bs;
  if (a.size != b.size) return a.size > b.size;
  const auto ac = magnitude(a.count_diff);
  const auto bc = magnitude(b.count_diff);
  if (ac != bc) return ac > bc;
  if (a.count != b.count) return a.count > b.count;
  return b.traceback < a.traceback;
}

std::int64_t difference(std::size_t now, std::size_t before) {
  return now >= before ? static_cast<std::int64_t>(now - before)
                       : -static_cast<std::int64_t>(before - now);
}

// Whether a resolved frame is part of the allocator rather than the code that allocates.
bool is_allocator_frame(const Frame& frame) {
  static constexpr std::array<std::string_view, 10> kFunctions = {
      "operator new",  "operator delete", "malloc",   "calloc", "realloc",
      "aligned_alloc", "posix_memalign",  "memalign", "valloc", "pvalloc"};
  const std::string_view function = frame.function;
  for (std::string_view name : kFunctions) {
    if (!function.starts_with(name)) continue;
    // The whole name, not a longer identifier: "malloc" and "operator new[](unsigned long)"
    // but not "malloc_trim" or "calloc_table".
    if (function.size() == name.size()) return true;
    const char next = function[name.size()];
    const bool identifier = (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
                            (next >= '0' && next <= '9') || next == '_';
    if (!identifier) return true;
  }
  return frame.filename.find("/include/c++/") != std::string::npos;
}

}  // namespace

namespace detail {

std::size_t allocator_frames(const std::vector<Frame>& most_recent_first) {
  std::size_t n = 0;
  while (n + 1 < most_recent_first.size() && is_allocator_frame(most_recent_first[n])) ++n;
  return n;
}

const std::vector<Trace>& SnapshotData::resolved_traces() const {
  std::call_once(resolve_once, [this] {
    if (resolved) return;
    const Untraced untraced;  // the symbolizer's own allocations are not the program's
    Symbolizer symbolizer(raw.modules);
    std::vector<Traceback> tracebacks;
    tracebacks.reserve(raw.tracebacks.size());
    for (const RawTraceback& raw_traceback : raw.tracebacks) {
      std::vector<Frame> frames;
      for (std::uint64_t address : raw_traceback.frames) {
        const auto& resolved_frames = symbolizer.resolve(address);
        frames.insert(frames.end(), resolved_frames.begin(), resolved_frames.end());
      }
      frames.erase(frames.begin(),
                   frames.begin() + static_cast<std::ptrdiff_t>(allocator_frames(frames)));
      std::optional<std::size_t> total;
      if (raw_traceback.total_nframe != kNoTotal) total = raw_traceback.total_nframe;
      tracebacks.emplace_back(std::move(frames), total);
    }
    std::vector<Trace> out;
    out.reserve(raw.traces.size());
    for (const RawTrace& raw_trace : raw.traces) {
      Trace trace{raw_trace.domain, static_cast<std::size_t>(raw_trace.size), Traceback()};
      if (raw_trace.traceback < tracebacks.size())
        trace.traceback = tracebacks[raw_trace.traceback];
      out.push_back(std::move(trace));
    }
    traces = std::move(out);
    resolved = true;
  });
  return traces;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Snapshot

namespace {

std::shared_ptr<detail::SnapshotData> resolved_data(std::vector<Trace> traces,
                                                    std::size_t traceback_limit) {
  auto data = std::make_shared<detail::SnapshotData>();
  data->traceback_limit = traceback_limit;
  data->raw.traceback_limit = traceback_limit;
  data->traces = std::move(traces);
  data->resolved = true;
  return data;
}

}  // namespace

Snapshot::Snapshot() : m_data(resolved_data({}, 1)) {}

Snapshot::Snapshot(std::vector<Trace> traces, std::size_t traceback_limit)
    : m_data(resolved_data(std::move(traces), traceback_limit)) {}

Snapshot::Snapshot(std::shared_ptr<const detail::SnapshotData> data) : m_data(std::move(data)) {
  if (!m_data) m_data = resolved_data({}, 1);
}

const std::vector<Trace>& Snapshot::traces() const { return m_data->resolved_traces(); }

std::size_t Snapshot::traceback_limit() const noexcept { return m_data->traceback_limit; }

std::vector<Statistic> Snapshot::statistics(KeyType key_type, bool cumulative) const {
  Grouped grouped = group_by(traces(), key_type, cumulative);
  std::vector<Statistic> out;
  out.reserve(grouped.size());
  for (auto& [traceback, totals] : grouped) out.push_back({traceback, totals.size, totals.count});
  std::sort(out.begin(), out.end(), statistic_before);
  return out;
}

std::vector<Statistic> Snapshot::statistics(std::string_view key_type, bool cumulative) const {
  return statistics(key_type_from_string(key_type), cumulative);
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& old_snapshot, KeyType key_type,
                                                bool cumulative) const {
  Grouped new_group = group_by(traces(), key_type, cumulative);
  Grouped old_group = group_by(old_snapshot.traces(), key_type, cumulative);
  std::vector<StatisticDiff> out;
  out.reserve(new_group.size() + old_group.size());
  for (auto& [traceback, now] : new_group) {
    Totals before;
    if (auto it = old_group.find(traceback); it != old_group.end()) {
      before = it->second;
      old_group.erase(it);
    }
    out.push_back({traceback, now.size, difference(now.size, before.size), now.count,
                   difference(now.count, before.count)});
  }
  for (auto& [traceback, before] : old_group) {
    out.push_back({traceback, 0, difference(0, before.size), 0, difference(0, before.count)});
  }
  std::sort(out.begin(), out.end(), diff_before);
  return out;
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& old_snapshot,
                                                std::string_view key_type, bool cumulative) const {
  return compare_to(old_snapshot, key_type_from_string(key_type), cumulative);
}

Snapshot Snapshot::filter_traces(const std::vector<AnyFilter>& filters) const {
  const auto& all = traces();
  std::vector<Trace> kept;
  if (filters.empty()) {
    kept = all;
  } else {
    std::vector<CompiledAnyFilter> include;
    std::vector<CompiledAnyFilter> exclude;
    for (const AnyFilter& filter : filters) {
      CompiledAnyFilter compiled(filter);
      (compiled.inclusive() ? include : exclude).push_back(std::move(compiled));
    }
    for (const Trace& trace : all) {
      if (!include.empty() && std::none_of(include.begin(), include.end(),
                                           [&](const auto& f) { return f.match(trace); })) {
        continue;
      }
      if (std::any_of(exclude.begin(), exclude.end(),
                      [&](const auto& f) { return !f.match(trace); })) {
        continue;
      }
      kept.push_back(trace);
    }
  }
  auto data = resolved_data(std::move(kept), m_data->traceback_limit);
  // What the tracer knew stays true of the moment the snapshot was taken.
  const detail::RawSnapshot& raw = m_data->raw;
  data->raw.pid = raw.pid;
  data->raw.traceback_limit = raw.traceback_limit;
  data->raw.sample_rate = raw.sample_rate;
  data->raw.traced_current = raw.traced_current;
  data->raw.traced_peak = raw.traced_peak;
  data->raw.time = raw.time;
  return Snapshot(std::shared_ptr<const detail::SnapshotData>(std::move(data)));
}

void Snapshot::dump(const std::string& filename) const { detail::write_dump(filename, *m_data); }

Snapshot Snapshot::load(const std::string& filename) {
  return Snapshot(std::shared_ptr<const detail::SnapshotData>(detail::read_dump(filename)));
}

std::size_t Snapshot::traced_memory() const noexcept {
  return static_cast<std::size_t>(m_data->raw.traced_current);
}

std::size_t Snapshot::peak_traced_memory() const noexcept {
  return static_cast<std::size_t>(m_data->raw.traced_peak);
}

std::uint64_t Snapshot::sample_rate() const noexcept { return m_data->raw.sample_rate; }

// ---------------------------------------------------------------------------------------------
// Printing

std::ostream& operator<<(std::ostream& os, const Frame& v) { return os << v.str(); }
std::ostream& operator<<(std::ostream& os, const Traceback& v) { return os << v.str(); }
std::ostream& operator<<(std::ostream& os, const Trace& v) { return os << v.str(); }
std::ostream& operator<<(std::ostream& os, const Statistic& v) { return os << v.str(); }
std::ostream& operator<<(std::ostream& os, const StatisticDiff& v) { return os << v.str(); }

}  // namespace batteries::tracemalloc

std::size_t std::hash<batteries::tracemalloc::Frame>::operator()(
    const batteries::tracemalloc::Frame& f) const noexcept {
  std::size_t seed = std::hash<std::string>{}(f.filename);
  batteries::tracemalloc::hash_combine(seed, std::hash<int>{}(f.lineno));
  batteries::tracemalloc::hash_combine(seed, std::hash<std::string>{}(f.function));
  if (f.lineno == 0) {
    batteries::tracemalloc::hash_combine(seed, std::hash<std::uint64_t>{}(f.offset));
  }
  return seed;
}
