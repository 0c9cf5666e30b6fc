// The snapshot file format: a magic, a version, then sections with lengths and checksums.
//
//   file    := "BTMSNAP\n" u32 version(=1) u32 flags(=0) section* end
//   section := u32 tag, u32 0, u64 payload_length, payload, u32 crc32(payload)
//   end     := a section with tag kEnd and an empty payload
// Integers are little-endian; str := u32 length, bytes. Sections:
//   kMeta       u64 pid, u64 traceback_limit, u64 sample_rate, u64 traced_current,
//               u64 traced_peak, f64 time (IEEE bits as u64)
//   kModules    u32 n; n x (str path, u64 bias, u64 start, u64 end, str build_id)
//   kTracebacks u32 n; n x (u32 total_nframe (0xffffffff = unknown), u32 k, k x u64 address)
//   kTraces     u64 n; n x (u32 domain, u64 size, u32 traceback index)
//   kFrames     optional, resolved symbols: u32 n; n x (str filename, i32 lineno,
//               str function, str module, u64 offset)
//   kTracebackFrames  present with kFrames: one entry per traceback, in order:
//               u32 k, k x u32 frame index (most recent first)
// Meta, modules, tracebacks and traces are required, each once; unknown tags are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "raw.hpp"

namespace batteries::tracemalloc::detail {

enum class Section : std::uint32_t {
  kMeta = 1,
  kModules = 2,
  kTracebacks = 3,
  kTraces = 4,
  kFrames = 5,
  kTracebackFrames = 6,
  kEnd = 0xffff,
};

inline constexpr char kDumpMagic[8] = {'B', 'T', 'M', 'S', 'N', 'A', 'P', '\n'};
inline constexpr std::uint32_t kDumpVersion = 1;

/// Streams a dump into a file descriptor without allocating, so that the LD_PRELOAD agent can
/// write one at exit or from a signal handler. The fd must be a regular file opened for
/// writing at offset 0 (section lengths are patched in with pwrite). Errors are sticky: after
/// a failed write every call does nothing and ok() is false, with the errno kept.
class DumpWriter {
 public:
  explicit DumpWriter(int fd) noexcept;
  DumpWriter(const DumpWriter&) = delete;
  DumpWriter& operator=(const DumpWriter&) = delete;

  /// Writes the magic and version; call once, first.
  void header() noexcept;
  void begin_section(Section tag) noexcept;
  void u32(std::uint32_t v) noexcept;
  void i32(std::int32_t v) noexcept;
  void u64(std::uint64_t v) noexcept;
  void f64(double v) noexcept;
  void str(std::string_view s) noexcept;
  void bytes(const void* data, std::size_t n) noexcept;
  void end_section() noexcept;
  /// Writes the end section and flushes. Returns ok().
  bool finish() noexcept;
  [[nodiscard]] bool ok() const noexcept { return m_errno == 0; }
  [[nodiscard]] int error() const noexcept { return m_errno; }

 private:
  void flush() noexcept;
  int m_fd;
  int m_errno = 0;
  std::uint64_t m_offset = 0;         // file offset of the next byte flushed
  std::uint64_t m_section_start = 0;  // file offset of the open section's header
  std::uint64_t m_payload = 0;        // payload bytes written to the open section
  std::uint32_t m_crc = 0;
  bool m_in_section = false;
  std::size_t m_used = 0;
  unsigned char m_buf[1 << 16];
};

/// The encoding of the sections' contents, shared by the two writers: the agent's, from the
/// live tables (tracer_write_dump, without allocating) and write_dump's, from a SnapshotData.
/// put_meta writes the whole kMeta section; the others write one entry of their section.
void put_meta(DumpWriter& w, std::uint64_t pid, std::uint64_t traceback_limit,
              std::uint64_t sample_rate, std::uint64_t traced_current, std::uint64_t traced_peak,
              double time) noexcept;
void put_module(DumpWriter& w, std::string_view path, std::uint64_t bias, std::uint64_t start,
                std::uint64_t end, std::string_view build_id) noexcept;
void put_traceback(DumpWriter& w, std::uint32_t total_nframe, const std::uint64_t* frames,
                   std::uint32_t n) noexcept;
void put_trace(DumpWriter& w, std::uint32_t domain, std::uint64_t size,
               std::uint32_t traceback) noexcept;

/// zlib's crc32 over any length (crc32() itself takes a uInt length). Starts from 0.
std::uint32_t crc_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept;

/// Writes a whole snapshot (its symbols resolved: kFrames and kTracebackFrames are included)
/// to `path`, through a temporary file renamed into place. Raises OSError.
void write_dump(const std::string& path, const SnapshotData& data);

/// Reads a dump. Raises OSError when the file cannot be read and ValueError, naming the file
/// and what is wrong, when it is not a snapshot, has an unknown version, is cut short, fails
/// a checksum or holds inconsistent counts or indexes. Never allocates more than the file's
/// size justifies.
std::shared_ptr<SnapshotData> read_dump(const std::string& path);

}  // namespace batteries::tracemalloc::detail
