// Snapshot files: write_dump() and read_dump(), the library's side of the format in dump.hpp.
#include "dump.hpp"

#include <batteries/errors.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace batteries::tracemalloc::detail {

namespace {

static_assert(std::numeric_limits<int>::digits >= 31, "Frame::lineno holds an i32");

constexpr std::size_t kFileHeader = sizeof kDumpMagic + 8;  // magic, u32 version, u32 flags
constexpr std::size_t kSectionHeader = 16;                  // u32 tag, u32 0, u64 length
constexpr std::size_t kChecksum = 4;

std::uint32_t crc_of(std::string_view data) {
  return crc_update(0, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

std::uint64_t get_le(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  }
  return v;
}

std::string section_name(std::uint32_t tag) {
  switch (static_cast<Section>(tag)) {
    case Section::kMeta:
      return "META";
    case Section::kModules:
      return "MODULES";
    case Section::kTracebacks:
      return "TRACEBACKS";
    case Section::kTraces:
      return "TRACES";
    case Section::kFrames:
      return "FRAMES";
    case Section::kTracebackFrames:
      return "TRACEBACK_FRAMES";
    case Section::kEnd:
      return "END";
  }
  return fmt::format("{:#x}", tag);
}

// ---- writing ----

// Frames are told apart by every field, not by Frame's operator== (which ignores the module
// and offset of a frame with a line number), so that a dump keeps all that it is given.
struct FrameHash {
  std::size_t operator()(const Frame* f) const noexcept {
    std::size_t h = std::hash<std::string>()(f->filename);
    const auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(std::hash<int>()(f->lineno));
    mix(std::hash<std::string>()(f->function));
    mix(std::hash<std::string>()(f->module));
    mix(std::hash<std::uint64_t>()(f->offset));
    return h;
  }
};
struct FrameSame {
  bool operator()(const Frame* a, const Frame* b) const noexcept {
    return a->lineno == b->lineno && a->offset == b->offset && a->filename == b->filename &&
           a->function == b->function && a->module == b->module;
  }
};

struct TracebackHash {
  std::size_t operator()(const Traceback* t) const noexcept {
    std::size_t h = t->total_nframe() ? *t->total_nframe() : ~std::size_t{0};
    for (const Frame& f : t->frames()) h = h * 1000003u ^ FrameHash()(&f);
    return h;
  }
};
struct TracebackSame {
  bool operator()(const Traceback* a, const Traceback* b) const noexcept {
    if (a->total_nframe() != b->total_nframe() || a->size() != b->size()) return false;
    const std::vector<Frame>& fa = a->frames();
    const std::vector<Frame>& fb = b->frames();
    if (&fa == &fb) return true;
    for (std::size_t i = 0; i < fa.size(); ++i) {
      if (!FrameSame()(&fa[i], &fb[i])) return false;
    }
    return true;
  }
};

template <class N>
std::uint32_t checked_u32(N n, std::string_view what) {
  if (n > N{0xffffffffu}) {
    throw OverflowError(fmt::format("too many {} for a tracemalloc snapshot file: {}", what, n));
  }
  return static_cast<std::uint32_t>(n);
}

std::uint32_t total_field(std::optional<std::size_t> total) {
  if (!total) return kNoTotal;
  return *total >= kNoTotal ? kNoTotal - 1 : static_cast<std::uint32_t>(*total);
}

/// Everything a dump holds, gathered (and every allocation made) before the file is opened.
/// Not copied or moved: `tracebacks` and `traces` may point at its own members.
struct DumpTables {
  DumpTables() = default;
  DumpTables(const DumpTables&) = delete;
  DumpTables& operator=(const DumpTables&) = delete;

  const std::vector<RawTraceback>* tracebacks = nullptr;
  const std::vector<RawTrace>* traces = nullptr;
  std::vector<RawTraceback> own_tracebacks;  // when the snapshot has no raw tracebacks
  std::vector<RawTrace> own_traces;
  std::vector<const Frame*> frames;
  std::vector<std::uint32_t> frame_counts;   // per traceback
  std::vector<std::uint32_t> frame_indexes;  // all tracebacks', most recent first
};

void gather(const SnapshotData& data, DumpTables& t) {
  const std::vector<Trace>& traces = data.resolved_traces();
  const RawSnapshot& raw = data.raw;

  // The traceback that gives each traceback entry its frames (nullptr: no frames).
  std::vector<const Traceback*> sources;
  bool use_raw = raw.traces.size() == traces.size();
  for (std::size_t i = 0; use_raw && i < raw.traces.size(); ++i) {
    use_raw = raw.traces[i].traceback < raw.tracebacks.size();
  }
  if (use_raw) {
    // Keep the addresses, and take each raw traceback's frames from a trace that uses it.
    t.tracebacks = &raw.tracebacks;
    t.traces = &raw.traces;
    sources.assign(raw.tracebacks.size(), nullptr);
    for (std::size_t i = 0; i < raw.traces.size(); ++i) {
      const Traceback*& source = sources[raw.traces[i].traceback];
      if (source == nullptr) source = &traces[i].traceback;
    }
  } else {
    // Built from Trace values: one entry per distinct traceback, without addresses.
    std::unordered_map<const Traceback*, std::uint32_t, TracebackHash, TracebackSame> index;
    t.own_traces.reserve(traces.size());
    for (const Trace& trace : traces) {
      auto [it, added] = index.try_emplace(&trace.traceback, 0);
      if (added) {
        it->second = checked_u32(sources.size(), "tracebacks");
        sources.push_back(&trace.traceback);
        t.own_tracebacks.push_back(RawTraceback{{}, total_field(trace.traceback.total_nframe())});
      }
      t.own_traces.push_back(
          RawTrace{trace.domain, static_cast<std::uint64_t>(trace.size), it->second});
    }
    t.tracebacks = &t.own_tracebacks;
    t.traces = &t.own_traces;
  }

  std::unordered_map<const Frame*, std::uint32_t, FrameHash, FrameSame> frame_index;
  t.frame_counts.reserve(sources.size());
  for (const Traceback* source : sources) {
    if (source == nullptr) {
      t.frame_counts.push_back(0);
      continue;
    }
    const std::vector<Frame>& frames = source->frames();  // oldest first
    t.frame_counts.push_back(checked_u32(frames.size(), "frames in a traceback"));
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      auto [slot, added] = frame_index.try_emplace(&*it, 0);
      if (added) {
        slot->second = checked_u32(t.frames.size(), "frames");
        t.frames.push_back(&*it);
      }
      t.frame_indexes.push_back(slot->second);
    }
  }

  (void)checked_u32(raw.modules.size(), "modules");
  (void)checked_u32(t.tracebacks->size(), "tracebacks");
  for (const RawTraceback& tb : *t.tracebacks) {
    (void)checked_u32(tb.frames.size(), "addresses in a traceback");
  }
  for (const ModuleInfo& m : raw.modules) {
    (void)checked_u32(m.path.size(), "bytes in a module path");
    (void)checked_u32(m.build_id.size(), "bytes in a build id");
  }
  for (const Frame* f : t.frames) {
    (void)checked_u32(std::max({f->filename.size(), f->function.size(), f->module.size()}),
                      "bytes in a frame's strings");
  }
}

void write_tables(DumpWriter& w, const SnapshotData& data, const DumpTables& t) {
  const RawSnapshot& raw = data.raw;
  w.header();

  put_meta(w, raw.pid, static_cast<std::uint64_t>(data.traceback_limit), raw.sample_rate,
           raw.traced_current, raw.traced_peak, raw.time);

  w.begin_section(Section::kModules);
  w.u32(static_cast<std::uint32_t>(raw.modules.size()));
  for (const ModuleInfo& m : raw.modules) {
    put_module(w, m.path, m.bias, m.start, m.end, m.build_id);
  }
  w.end_section();

  w.begin_section(Section::kTracebacks);
  w.u32(static_cast<std::uint32_t>(t.tracebacks->size()));
  for (const RawTraceback& tb : *t.tracebacks) {
    put_traceback(w, tb.total_nframe, tb.frames.data(),
                  static_cast<std::uint32_t>(tb.frames.size()));
  }
  w.end_section();

  w.begin_section(Section::kTraces);
  w.u64(t.traces->size());
  for (const RawTrace& trace : *t.traces) {
    put_trace(w, trace.domain, trace.size, trace.traceback);
  }
  w.end_section();

  w.begin_section(Section::kFrames);
  w.u32(static_cast<std::uint32_t>(t.frames.size()));
  for (const Frame* f : t.frames) {
    w.str(f->filename);
    w.i32(static_cast<std::int32_t>(f->lineno));
    w.str(f->function);
    w.str(f->module);
    w.u64(f->offset);
  }
  w.end_section();

  w.begin_section(Section::kTracebackFrames);
  std::size_t next = 0;
  for (const std::uint32_t count : t.frame_counts) {
    w.u32(count);
    for (std::uint32_t i = 0; i < count; ++i) w.u32(t.frame_indexes[next++]);
  }
  w.end_section();

  w.finish();
}

/// A new file beside `target` that is renamed over it when complete, and removed otherwise.
class TempFile {
 public:
  explicit TempFile(const std::string& target) {
    static std::atomic<unsigned> counter{0};
    const std::size_t slash = target.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : target.substr(0, slash + 1);
    // Cut so that a name near NAME_MAX still leaves room for the suffix.
    const std::string base = target.substr(slash == std::string::npos ? 0 : slash + 1, 128);
    for (;;) {
      m_path = fmt::format("{}.{}.tmp-{}-{}", dir, base, ::getpid(), counter++);
      m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (m_fd >= 0) return;
      if (errno != EEXIST && errno != EINTR) raise_errno(target);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_path.empty()) ::unlink(m_path.c_str());
  }

  [[nodiscard]] int fd() const noexcept { return m_fd; }
  /// Closes the descriptor; 0 or the errno of close().
  int close() noexcept {
    const int rc = ::close(m_fd);
    m_fd = -1;
    return rc == 0 || errno == EINTR ? 0 : errno;
  }
  /// rename()s the file to `target`; 0 or the errno.
  int rename_to(const std::string& target) noexcept {
    if (::rename(m_path.c_str(), target.c_str()) != 0) return errno;
    m_path.clear();
    return 0;
  }

 private:
  std::string m_path;
  int m_fd = -1;
};

// ---- reading ----

std::string read_file(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) raise_errno(path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) raise_errno(path);
  if (S_ISDIR(st.st_mode)) raise_os_error(EISDIR, path);

  std::string out;
  std::size_t used = 0;
  // One byte more than the size, so that the read that finds the end needs no more room.
  out.resize(S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) + 1 : 4096);
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      raise_errno(path);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  return out;
}

/// Turns a problem found in the file into a ValueError that names it.
class Problems {
 public:
  explicit Problems(const std::string& path) : m_quoted(py_repr(path)) {}

  [[noreturn]] void not_a_snapshot() const {
    throw ValueError(fmt::format("not a tracemalloc snapshot file: {}", m_quoted));
  }
  [[noreturn]] void unsupported(std::string_view what, std::string_view note = "") const {
    throw ValueError(
        fmt::format("unsupported tracemalloc snapshot {} in {}{}", what, m_quoted, note));
  }
  [[noreturn]] void truncated(std::string_view what) const {
    throw ValueError(fmt::format("truncated tracemalloc snapshot file {}: {}", m_quoted, what));
  }
  [[noreturn]] void corrupt(std::string_view what) const {
    throw ValueError(fmt::format("corrupt tracemalloc snapshot file {}: {}", m_quoted, what));
  }

 private:
  std::string m_quoted;
};

/// Reads the fields of one section's payload; running past its end or leaving bytes over is
/// corruption (the checksum matched, so the writer wrote it so).
class Payload {
 public:
  Payload(const Problems& problems, std::uint32_t tag, std::string_view data)
      : m_problems(problems), m_name(section_name(tag)), m_data(data) {}

  [[nodiscard]] std::size_t remaining() const noexcept { return m_data.size() - m_pos; }
  [[nodiscard]] const std::string& name() const noexcept { return m_name; }

  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::uint64_t u64() { return take(8); }
  double f64() { return std::bit_cast<double>(take(8)); }
  std::string str() {
    const std::uint32_t n = u32();
    if (n > remaining()) {
      m_problems.corrupt(
          fmt::format("a string of {} bytes runs past the end of the {} section", n, m_name));
    }
    std::string s(m_data.substr(m_pos, n));
    m_pos += n;
    return s;
  }

  /// Checks, before anything is reserved, that `count` entries of at least `min_size` bytes
  /// each can be in what is left of the payload.
  void check_count(std::uint64_t count, std::size_t min_size, std::string_view what) const {
    if (count > remaining() / min_size) {
      m_problems.corrupt(
          fmt::format("the {} section claims {} {} in {} bytes", m_name, count, what, remaining()));
    }
  }

  void done() const {
    if (remaining() != 0) {
      m_problems.corrupt(
          fmt::format("{} unexpected bytes at the end of the {} section", remaining(), m_name));
    }
  }

 private:
  std::uint64_t take(std::size_t n) {
    if (remaining() < n) {
      m_problems.corrupt(fmt::format("the {} section is shorter than its contents", m_name));
    }
    const std::uint64_t v = get_le(m_data.data() + m_pos, n);
    m_pos += n;
    return v;
  }

  const Problems& m_problems;
  std::string m_name;
  std::string_view m_data;
  std::size_t m_pos = 0;
};

template <class T>
T to_size(std::uint64_t v, const Problems& problems, std::string_view what) {
  if constexpr (sizeof(T) < sizeof(std::uint64_t)) {
    if (v > std::numeric_limits<T>::max()) {
      problems.corrupt(fmt::format("{} {} does not fit in this platform's size_t", what, v));
    }
  }
  return static_cast<T>(v);
}

constexpr std::size_t kModuleMin = 4 + 8 + 8 + 8 + 4;
constexpr std::size_t kTracebackMin = 4 + 4;
constexpr std::size_t kTraceSize = 4 + 8 + 4;
constexpr std::size_t kFrameMin = 4 + 4 + 4 + 4 + 8;

}  // namespace

void write_dump(const std::string& path, const SnapshotData& data) {
  DumpTables tables;
  gather(data, tables);
  TempFile temp(path);
  auto writer = std::make_unique<DumpWriter>(temp.fd());  // 64 KiB: off the stack
  write_tables(*writer, data, tables);
  int error = writer->error();
  if (error == 0) error = temp.close();
  if (error == 0) error = temp.rename_to(path);
  if (error != 0) raise_os_error(error, path);
}

std::shared_ptr<SnapshotData> read_dump(const std::string& path) {
  const std::string file = read_file(path);
  const Problems problems(path);
  const std::string_view bytes(file);

  // The header.
  if (bytes.size() < sizeof kDumpMagic ||
      std::memcmp(bytes.data(), kDumpMagic, sizeof kDumpMagic) != 0) {
    problems.not_a_snapshot();
  }
  if (bytes.size() < kFileHeader) {
    problems.truncated(
        fmt::format("the header ends after {} of {} bytes", bytes.size(), kFileHeader));
  }
  const auto version = static_cast<std::uint32_t>(get_le(bytes.data() + 8, 4));
  if (version != kDumpVersion) {
    problems.unsupported(fmt::format("version {}", version),
                         fmt::format(" (this build reads version {})", kDumpVersion));
  }
  const auto flags = static_cast<std::uint32_t>(get_le(bytes.data() + 12, 4));
  if (flags != 0) problems.unsupported(fmt::format("flags {:#x}", flags));

  // The sections' framing: lengths, checksums, no duplicates, an end marker.
  constexpr std::size_t kKnown = 7;
  std::array<std::optional<std::string_view>, kKnown> found;  // by tag, 1..6
  std::size_t pos = kFileHeader;
  for (;;) {
    std::size_t left = bytes.size() - pos;
    if (left == 0) problems.truncated("no end marker");
    if (left < kSectionHeader) {
      problems.truncated(fmt::format("the section header at offset {} ends after {} of {} bytes",
                                     pos, left, kSectionHeader));
    }
    const auto tag = static_cast<std::uint32_t>(get_le(bytes.data() + pos, 4));
    const auto reserved = get_le(bytes.data() + pos + 4, 4);
    const std::uint64_t length = get_le(bytes.data() + pos + 8, 8);
    const std::string name = section_name(tag);
    if (reserved != 0) {
      problems.corrupt(fmt::format("bad header of the {} section at offset {}", name, pos));
    }
    left -= kSectionHeader;
    if (length > left) {
      problems.truncated(
          fmt::format("the {} section ends after {} of {} bytes", name, left, length));
    }
    const std::string_view payload = bytes.substr(pos + kSectionHeader, length);
    left -= payload.size();
    if (left < kChecksum) {
      problems.truncated(fmt::format("the checksum of the {} section ends after {} of {} bytes",
                                     name, left, kChecksum));
    }
    const auto crc = static_cast<std::uint32_t>(
        get_le(bytes.data() + pos + kSectionHeader + payload.size(), kChecksum));
    if (crc != crc_of(payload)) {
      problems.corrupt(fmt::format("checksum mismatch in the {} section", name));
    }
    pos += kSectionHeader + payload.size() + kChecksum;
    if (tag == static_cast<std::uint32_t>(Section::kEnd)) {
      if (!payload.empty()) problems.corrupt("the END section is not empty");
      break;
    }
    if (tag == 0 || tag >= kKnown) continue;  // a later version's section: skipped
    if (found[tag]) problems.corrupt(fmt::format("duplicate {} section", name));
    found[tag] = payload;
  }
  if (pos != bytes.size()) {
    problems.corrupt(fmt::format("{} bytes after the end marker", bytes.size() - pos));
  }
  const auto section = [&](Section s) -> std::optional<Payload> {
    const auto tag = static_cast<std::uint32_t>(s);
    if (!found[tag]) return std::nullopt;
    return Payload(problems, tag, *found[tag]);
  };
  for (const Section s :
       {Section::kMeta, Section::kModules, Section::kTracebacks, Section::kTraces}) {
    if (!section(s)) {
      problems.corrupt(fmt::format("no {} section", section_name(static_cast<std::uint32_t>(s))));
    }
  }

  auto data = std::make_shared<SnapshotData>();
  RawSnapshot& raw = data->raw;

  {
    Payload p = *section(Section::kMeta);
    raw.pid = p.u64();
    raw.traceback_limit = p.u64();
    raw.sample_rate = p.u64();
    raw.traced_current = p.u64();
    raw.traced_peak = p.u64();
    raw.time = p.f64();
    p.done();
    data->traceback_limit = to_size<std::size_t>(raw.traceback_limit, problems, "traceback limit");
  }

  {
    Payload p = *section(Section::kModules);
    const std::uint32_t n = p.u32();
    p.check_count(n, kModuleMin, "modules");
    raw.modules.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      ModuleInfo& m = raw.modules.emplace_back();
      m.path = p.str();
      m.bias = p.u64();
      m.start = p.u64();
      m.end = p.u64();
      m.build_id = p.str();
    }
    p.done();
  }

  {
    Payload p = *section(Section::kTracebacks);
    const std::uint32_t n = p.u32();
    p.check_count(n, kTracebackMin, "tracebacks");
    raw.tracebacks.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      RawTraceback& tb = raw.tracebacks.emplace_back();
      tb.total_nframe = p.u32();
      const std::uint32_t k = p.u32();
      p.check_count(k, 8, "addresses");
      tb.frames.reserve(k);
      for (std::uint32_t j = 0; j < k; ++j) tb.frames.push_back(p.u64());
    }
    p.done();
  }

  {
    Payload p = *section(Section::kTraces);
    const std::uint64_t n = p.u64();
    p.check_count(n, kTraceSize, "traces");
    raw.traces.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      RawTrace& trace = raw.traces.emplace_back();
      trace.domain = p.u32();
      trace.size = p.u64();
      trace.traceback = p.u32();
      if (trace.traceback >= raw.tracebacks.size()) {
        problems.corrupt(fmt::format("trace {} refers to traceback {} of {}", i, trace.traceback,
                                     raw.tracebacks.size()));
      }
    }
    p.done();
  }

  std::optional<Payload> frames_section = section(Section::kFrames);
  std::optional<Payload> links_section = section(Section::kTracebackFrames);
  if (frames_section.has_value() != links_section.has_value()) {
    problems.corrupt(frames_section ? "a FRAMES section without a TRACEBACK_FRAMES section"
                                    : "a TRACEBACK_FRAMES section without a FRAMES section");
  }
  if (!frames_section) return data;

  std::vector<Frame> frames;
  {
    Payload& p = *frames_section;
    const std::uint32_t n = p.u32();
    p.check_count(n, kFrameMin, "frames");
    frames.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      Frame& f = frames.emplace_back();
      f.filename = p.str();
      f.lineno = p.i32();
      f.function = p.str();
      f.module = p.str();
      f.offset = p.u64();
    }
    p.done();
  }

  // One Traceback per entry, shared by the traces that use it. A traceback holds its frames by
  // value, so a file that names one long frame from many tracebacks would expand far beyond
  // its size: the expansion is bounded by what a real snapshot needs.
  const std::uint64_t budget = 128 * std::uint64_t(bytes.size()) + (std::uint64_t{64} << 20);
  std::uint64_t expanded = 0;
  std::vector<Traceback> tracebacks;
  {
    Payload& p = *links_section;
    const std::size_t n = raw.tracebacks.size();
    tracebacks.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (p.remaining() == 0) {
        problems.corrupt(
            fmt::format("the TRACEBACK_FRAMES section has {} entries for {} tracebacks", i, n));
      }
      const std::uint32_t k = p.u32();
      p.check_count(k, 4, "frame indexes");
      std::vector<Frame> stack;  // most recent first, as in the file
      stack.reserve(k);
      for (std::uint32_t j = 0; j < k; ++j) {
        const std::uint32_t index = p.u32();
        if (index >= frames.size()) {
          problems.corrupt(
              fmt::format("traceback {} refers to frame {} of {}", i, index, frames.size()));
        }
        const Frame& frame = frames[index];
        expanded +=
            sizeof(Frame) + frame.filename.size() + frame.function.size() + frame.module.size();
        if (expanded > budget) {
          problems.corrupt(fmt::format(
              "its frames would take more than {} bytes of memory for a file of {} bytes", budget,
              bytes.size()));
        }
        stack.push_back(frame);
      }
      const std::uint32_t total = raw.tracebacks[i].total_nframe;
      tracebacks.emplace_back(std::move(stack),
                              total == kNoTotal ? std::nullopt : std::optional<std::size_t>(total));
    }
    if (p.remaining() != 0) {
      problems.corrupt(
          fmt::format("the TRACEBACK_FRAMES section has more entries than the {} tracebacks", n));
    }
  }

  data->traces.reserve(raw.traces.size());
  for (const RawTrace& trace : raw.traces) {
    data->traces.push_back(Trace{trace.domain, to_size<std::size_t>(trace.size, problems, "size"),
                                 tracebacks[trace.traceback]});
  }
  data->resolved = true;
  return data;
}

}  // namespace batteries::tracemalloc::detail
