// DumpWriter: writes a snapshot file with write(), pwrite() and crc32() only (signal-safe).
//
// Shared by the library and the LD_PRELOAD agent. Nothing here allocates, throws, locks or
// touches stdio: the agent may run it while the process is dying, inside malloc's own locks.
// Bytes go through a fixed buffer; a section's length is patched in when it ends, in the
// buffer when its header has not been flushed yet, else with pwrite() at the header's offset.
#include "dump.hpp"

#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cstring>

namespace batteries::tracemalloc::detail {

namespace {

constexpr std::size_t kSectionHeader = 16;  // u32 tag, u32 0, u64 length

void put_le(unsigned char* out, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

// pwrite() all of [p, p + n) at `offset`, through EINTR and short writes; 0 or an errno.
int pwrite_all(int fd, const unsigned char* p, std::size_t n, std::uint64_t offset) noexcept {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno != 0 ? errno : EIO;
    }
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return 0;
}

}  // namespace

std::uint32_t crc_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  uLong c = crc;
  while (n > 0) {
    const std::size_t piece = n < (std::size_t{1} << 30) ? n : (std::size_t{1} << 30);
    c = ::crc32(c, p, static_cast<uInt>(piece));
    p += piece;
    n -= piece;
  }
  return static_cast<std::uint32_t>(c);
}

DumpWriter::DumpWriter(int fd) noexcept : m_fd(fd) {
  if (fd < 0) m_errno = EBADF;
}

void DumpWriter::flush() noexcept {
  std::size_t done = 0;
  while (m_errno == 0 && done < m_used) {
    const ssize_t w = ::write(m_fd, m_buf + done, m_used - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      m_errno = errno != 0 ? errno : EIO;
    } else if (w == 0) {
      m_errno = EIO;
    } else {
      done += static_cast<std::size_t>(w);
      m_offset += static_cast<std::uint64_t>(w);
    }
  }
  if (m_errno == 0) {
    m_used = 0;
  } else if (done > 0) {
    // Keep what was not written, so that error() and m_offset stay consistent.
    std::memmove(m_buf, m_buf + done, m_used - done);
    m_used -= done;
  }
}

void DumpWriter::bytes(const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  while (m_errno == 0 && n > 0) {
    if (m_used == sizeof m_buf) flush();
    if (m_errno != 0) return;
    const std::size_t room = sizeof m_buf - m_used;
    const std::size_t piece = n < room ? n : room;
    std::memcpy(m_buf + m_used, p, piece);
    if (m_in_section) {
      m_crc = crc_update(m_crc, p, piece);
      m_payload += piece;
    }
    m_used += piece;
    p += piece;
    n -= piece;
  }
}

void DumpWriter::header() noexcept {
  unsigned char out[sizeof kDumpMagic + 8];
  std::memcpy(out, kDumpMagic, sizeof kDumpMagic);
  put_le(out + sizeof kDumpMagic, kDumpVersion, 4);
  put_le(out + sizeof kDumpMagic + 4, 0, 4);  // flags
  bytes(out, sizeof out);
}

void DumpWriter::begin_section(Section tag) noexcept {
  if (m_errno != 0) return;
  if (m_in_section) {
    m_errno = EINVAL;
    return;
  }
  // Keep the header in one piece of the buffer, so that end_section() can patch it there.
  if (sizeof m_buf - m_used < kSectionHeader) flush();
  if (m_errno != 0) return;
  unsigned char out[kSectionHeader];
  put_le(out, static_cast<std::uint32_t>(tag), 4);
  put_le(out + 4, 0, 4);
  put_le(out + 8, 0, 8);  // the payload length, patched in by end_section()
  m_section_start = m_offset + m_used;
  bytes(out, sizeof out);
  m_in_section = true;
  m_payload = 0;
  m_crc = static_cast<std::uint32_t>(::crc32(0L, Z_NULL, 0));
}

void DumpWriter::u32(std::uint32_t v) noexcept {
  unsigned char out[4];
  put_le(out, v, sizeof out);
  bytes(out, sizeof out);
}

void DumpWriter::i32(std::int32_t v) noexcept { u32(static_cast<std::uint32_t>(v)); }

void DumpWriter::u64(std::uint64_t v) noexcept {
  unsigned char out[8];
  put_le(out, v, sizeof out);
  bytes(out, sizeof out);
}

void DumpWriter::f64(double v) noexcept { u64(std::bit_cast<std::uint64_t>(v)); }

void DumpWriter::str(std::string_view s) noexcept {
  if (s.size() > 0xffffffffu) {
    if (m_errno == 0) m_errno = EOVERFLOW;
    return;
  }
  u32(static_cast<std::uint32_t>(s.size()));
  bytes(s.data(), s.size());
}

void DumpWriter::end_section() noexcept {
  if (m_errno != 0) return;
  if (!m_in_section) {
    m_errno = EINVAL;
    return;
  }
  m_in_section = false;
  unsigned char length[8];
  put_le(length, m_payload, sizeof length);
  const std::uint64_t at = m_section_start + 8;
  if (at >= m_offset) {
    // The header is still in the buffer (begin_section() never splits it).
    std::memcpy(m_buf + (at - m_offset), length, sizeof length);
  } else {
    flush();
    if (m_errno != 0) return;
    m_errno = pwrite_all(m_fd, length, sizeof length, at);
    if (m_errno != 0) return;
  }
  u32(m_crc);
}

bool DumpWriter::finish() noexcept {
  if (m_in_section && m_errno == 0) m_errno = EINVAL;
  begin_section(Section::kEnd);
  end_section();
  flush();
  return ok();
}

void put_meta(DumpWriter& w, std::uint64_t pid, std::uint64_t traceback_limit,
              std::uint64_t sample_rate, std::uint64_t traced_current, std::uint64_t traced_peak,
              double time) noexcept {
  w.begin_section(Section::kMeta);
  w.u64(pid);
  w.u64(traceback_limit);
  w.u64(sample_rate);
  w.u64(traced_current);
  w.u64(traced_peak);
  w.f64(time);
  w.end_section();
}

void put_module(DumpWriter& w, std::string_view path, std::uint64_t bias, std::uint64_t start,
                std::uint64_t end, std::string_view build_id) noexcept {
  w.str(path);
  w.u64(bias);
  w.u64(start);
  w.u64(end);
  w.str(build_id);
}

void put_traceback(DumpWriter& w, std::uint32_t total_nframe, const std::uint64_t* frames,
                   std::uint32_t n) noexcept {
  w.u32(total_nframe);
  w.u32(n);
  for (std::uint32_t i = 0; i < n; ++i) w.u64(frames[i]);
}

void put_trace(DumpWriter& w, std::uint32_t domain, std::uint64_t size,
               std::uint32_t traceback) noexcept {
  w.u32(domain);
  w.u64(size);
  w.u32(traceback);
}

}  // namespace batteries::tracemalloc::detail
