// Fuzz target for tracemalloc's snapshot files: read_dump on hostile bytes, dump round trips.
//
// Input: byte 0 selects, the rest is the data.
//   bits 0-1  0: the data is the file as it is
//             1: the data follows a valid header, and each section's checksum is recomputed
//                (its length cut to what the file holds), so that the parser gets past them
//             2: as 1 without the header
//             3: the data describes a snapshot (frames, tracebacks, traces) that is written
//                with write_dump and read back, which must give the same snapshot; then the
//                file is cut short (bit 3) or has one byte changed, and is read again
//   bit  2    mode 3: the snapshot also has raw tables (addresses), as one taken in-process
//
// The only exception read_dump may raise is ValueError (the file is always readable). A file
// it accepts must be consistent: trace indexes in range, resolved traces matching the raw
// ones, and a resolved snapshot written again and read back must be the same.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracemalloc/dump.hpp"

namespace {

using batteries::ValueError;
using batteries::tracemalloc::Frame;
using batteries::tracemalloc::Trace;
using batteries::tracemalloc::Traceback;
using batteries::tracemalloc::detail::kDumpMagic;
using batteries::tracemalloc::detail::kDumpVersion;
using batteries::tracemalloc::detail::kNoTotal;
using batteries::tracemalloc::detail::RawSnapshot;
using batteries::tracemalloc::detail::RawTrace;
using batteries::tracemalloc::detail::RawTraceback;
using batteries::tracemalloc::detail::read_dump;
using batteries::tracemalloc::detail::SnapshotData;
using batteries::tracemalloc::detail::write_dump;

std::string_view g_input;

[[noreturn]] void fail(std::string_view what, int line) {
  std::fprintf(stderr, "tracemalloc_dump_fuzz: %.*s (tracemalloc_dump_fuzz.cpp:%d)\n",
               static_cast<int>(what.size()), what.data(), line);
  std::fprintf(stderr, "  input (%zu bytes):", g_input.size());
  for (const char c : g_input) std::fprintf(stderr, " %02x", static_cast<unsigned char>(c));
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond)                                     \
  do {                                                       \
    if (!(cond)) fail("invariant broken: " #cond, __LINE__); \
  } while (0)

/// The files this process works in, under $TMPDIR (else /tmp), removed at exit.
const std::string& work_path(int which) {
  static const std::string base = [] {
    const char* tmp = std::getenv("TMPDIR");
    return fmt::format("{}/tracemalloc_dump_fuzz.{}", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                       ::getpid());
  }();
  static const std::string paths[2] = {base + ".a", base + ".b"};
  static const bool registered = [] {
    std::atexit([] {
      for (const std::string& p : paths) ::unlink(p.c_str());
    });
    return true;
  }();
  (void)registered;
  return paths[which];
}

// Files are unlinked rather than truncated or renamed over: ext4 flushes a file replaced
// either way to disk first, which would slow the fuzzer down tenfold.
void put_file(const std::string& path, std::string_view bytes) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create the work file", __LINE__);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) fail("cannot write the work file", __LINE__);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::string get_file(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open the work file", __LINE__);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) fail("cannot read the work file", __LINE__);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::uint64_t get_le(std::string_view s, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
  }
  return v;
}

void put_le(std::string& s, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

/// Recomputes each section's checksum, first cutting its length to what the file holds.
void fix_checksums(std::string& file) {
  std::size_t pos = 16;
  while (pos + 16 + 4 <= file.size()) {
    std::uint64_t length = get_le(file, pos + 8, 8);
    const std::size_t room = file.size() - pos - 16 - 4;
    if (length > room) {
      length = room;
      put_le(file, pos + 8, length, 8);
    }
    const auto n = static_cast<std::size_t>(length);
    const uLong crc =
        ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(file.data() + pos + 16),
                static_cast<uInt>(n));
    put_le(file, pos + 16 + n, crc, 4);
    pos += 16 + n + 4;
  }
}

/// write_dump to a path that does not exist yet (see put_file).
void fresh_dump(const std::string& path, const SnapshotData& data) {
  ::unlink(path.c_str());
  write_dump(path, data);
}

/// Reads `path`; a ValueError gives nullptr, anything else fails.
std::shared_ptr<SnapshotData> try_read(const std::string& path) {
  try {
    return read_dump(path);
  } catch (const ValueError&) {
    return nullptr;
  } catch (const batteries::BaseException& e) {
    fail(fmt::format("unexpected {}: {}", e.type_name(), e.what()), __LINE__);
  } catch (const std::exception& e) {
    fail(fmt::format("unexpected std::exception: {}", e.what()), __LINE__);
  }
}

bool same_frames(const Traceback& a, const Traceback& b) {
  if (a.size() != b.size() || a.total_nframe() != b.total_nframe()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Frame& x = a[i];
    const Frame& y = b[i];
    if (x.filename != y.filename || x.lineno != y.lineno || x.function != y.function ||
        x.module != y.module || x.offset != y.offset) {
      return false;
    }
  }
  return true;
}

bool same_raw(const RawSnapshot& a, const RawSnapshot& b) {
  return a.pid == b.pid && a.traceback_limit == b.traceback_limit &&
         a.sample_rate == b.sample_rate && a.traced_current == b.traced_current &&
         a.traced_peak == b.traced_peak &&
         std::bit_cast<std::uint64_t>(a.time) == std::bit_cast<std::uint64_t>(b.time) &&
         a.modules == b.modules && a.tracebacks == b.tracebacks && a.traces == b.traces;
}

bool same_traces(const std::vector<Trace>& a, const std::vector<Trace>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].domain != b[i].domain || a[i].size != b[i].size ||
        !same_frames(a[i].traceback, b[i].traceback)) {
      return false;
    }
  }
  return true;
}

/// What every accepted file must satisfy; a resolved one must also survive write and read.
void check_accepted(const SnapshotData& data) {
  const RawSnapshot& raw = data.raw;
  for (const RawTrace& t : raw.traces) FUZZ_CHECK(t.traceback < raw.tracebacks.size());
  FUZZ_CHECK(data.traceback_limit == raw.traceback_limit);
  if (!data.resolved) {
    // Resolving would symbolize the file's modules: paths the input chose. Not here.
    FUZZ_CHECK(data.traces.empty());
    return;
  }
  FUZZ_CHECK(data.traces.size() == raw.traces.size());
  for (std::size_t i = 0; i < raw.traces.size(); ++i) {
    FUZZ_CHECK(data.traces[i].domain == raw.traces[i].domain);
    FUZZ_CHECK(data.traces[i].size == raw.traces[i].size);
    const std::uint32_t total = raw.tracebacks[raw.traces[i].traceback].total_nframe;
    FUZZ_CHECK(data.traces[i].traceback.total_nframe() ==
               (total == kNoTotal ? std::nullopt : std::optional<std::size_t>(total)));
  }
  fresh_dump(work_path(1), data);
  const auto again = try_read(work_path(1));
  FUZZ_CHECK(again != nullptr);
  FUZZ_CHECK(again->resolved);
  FUZZ_CHECK(same_raw(again->raw, raw));
  FUZZ_CHECK(same_traces(again->traces, data.traces));
}

/// Reads values off the input; zeros once it runs out.
class Source {
 public:
  explicit Source(std::string_view data) : m_data(data) {}
  std::uint8_t byte() {
    return m_pos < m_data.size() ? static_cast<std::uint8_t>(m_data[m_pos++]) : 0;
  }
  std::uint64_t number(std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{byte()} << (8 * i);
    return v;
  }
  std::string str() {
    const std::size_t n = byte() % 8;
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(byte()));
    return out;
  }

 private:
  std::string_view m_data;
  std::size_t m_pos = 0;
};

void round_trip(std::string_view data, unsigned selector) {
  Source in(data);
  auto snapshot = std::make_shared<SnapshotData>();
  RawSnapshot& raw = snapshot->raw;
  raw.pid = in.number(4);
  raw.traceback_limit = in.byte();
  raw.sample_rate = in.number(2);
  raw.traced_current = in.number(8);
  raw.traced_peak = in.number(8);
  raw.time = std::bit_cast<double>(in.number(8));
  snapshot->traceback_limit = static_cast<std::size_t>(raw.traceback_limit);
  for (std::size_t n = in.byte() % 3; n > 0; --n) {
    raw.modules.push_back({in.str(), in.number(8), in.number(8), in.number(8), in.str()});
  }
  std::vector<Frame> pool(in.byte() % 6);
  for (Frame& f : pool) {
    f.filename = in.str();
    f.lineno = static_cast<int>(static_cast<std::int32_t>(in.number(4)));
    f.function = in.str();
    f.module = in.str();
    f.offset = in.number(8);
  }
  std::vector<Traceback> tracebacks;
  std::vector<RawTraceback> raw_tracebacks;
  for (std::size_t n = 1 + in.byte() % 4; n > 0; --n) {
    std::vector<Frame> frames;
    RawTraceback raw_traceback;
    for (std::size_t k = pool.empty() ? 0 : in.byte() % 5; k > 0; --k) {
      frames.push_back(pool[in.byte() % pool.size()]);
      raw_traceback.frames.push_back(in.number(8));
    }
    const std::uint8_t total = in.byte();
    std::optional<std::size_t> total_nframe;
    if (total % 4 != 0) total_nframe = total;
    raw_traceback.total_nframe = total_nframe ? total : kNoTotal;
    tracebacks.emplace_back(std::move(frames), total_nframe);
    raw_tracebacks.push_back(std::move(raw_traceback));
  }
  for (std::size_t n = in.byte() % 8; n > 0; --n) {
    const auto domain = static_cast<std::uint32_t>(in.number(4));
    const std::uint64_t size = in.number(8);
    const auto index = static_cast<std::uint32_t>(in.byte() % tracebacks.size());
    snapshot->traces.push_back(Trace{domain, static_cast<std::size_t>(size), tracebacks[index]});
    raw.traces.push_back(RawTrace{domain, size, index});
  }
  const bool with_raw = (selector & 4) != 0;
  if (with_raw) {
    raw.tracebacks = std::move(raw_tracebacks);
  } else {
    raw.traces.clear();  // built from Trace values: no raw tables
  }
  snapshot->resolved = true;

  fresh_dump(work_path(0), *snapshot);
  const auto loaded = try_read(work_path(0));
  FUZZ_CHECK(loaded != nullptr);
  FUZZ_CHECK(loaded->resolved);
  FUZZ_CHECK(same_traces(loaded->traces, snapshot->traces));
  FUZZ_CHECK(loaded->traces == snapshot->traces);
  FUZZ_CHECK(loaded->raw.modules == raw.modules);
  FUZZ_CHECK(loaded->raw.pid == raw.pid && loaded->raw.traced_peak == raw.traced_peak);
  if (with_raw) FUZZ_CHECK(same_raw(loaded->raw, raw));
  check_accepted(*loaded);

  // Damaged: cut short, or one byte changed.
  std::string file = get_file(work_path(0));
  const std::size_t at = static_cast<std::size_t>(in.number(4)) % file.size();
  if ((selector & 8) != 0) {
    file.resize(at);
    put_file(work_path(0), file);
    FUZZ_CHECK(try_read(work_path(0)) == nullptr);
  } else {
    file[at] = static_cast<char>(file[at] ^ (in.byte() | 1));
    put_file(work_path(0), file);
    if (const auto damaged = try_read(work_path(0))) check_accepted(*damaged);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g_input = std::string_view(reinterpret_cast<const char*>(data), size);
  if (g_input.empty()) return 0;
  const auto selector = static_cast<unsigned char>(g_input[0]);
  const std::string_view rest = g_input.substr(1);
  try {
    if ((selector & 3) == 3) {
      round_trip(rest, selector);
      return 0;
    }
    std::string file;
    if ((selector & 3) == 1) {
      file.assign(kDumpMagic, sizeof kDumpMagic);
      file.append("\0\0\0\0\0\0\0\0", 8);
      put_le(file, 8, kDumpVersion, 4);
    }
    file.append(rest);
    if ((selector & 3) != 0) fix_checksums(file);
    put_file(work_path(0), file);
    if (const auto accepted = try_read(work_path(0))) check_accepted(*accepted);
  } catch (const batteries::BaseException& e) {
    fail(fmt::format("unexpected {}: {}", e.type_name(), e.what()), __LINE__);
  } catch (const std::exception& e) {
    fail(fmt::format("unexpected std::exception: {}", e.what()), __LINE__);
  }
  return 0;
}
