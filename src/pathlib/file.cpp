// Python 3.11's open() on a file descriptor: mode parsing, and the raw, buffered and text layers.
//
// The layers are kept as Python stacks them (a TextIOWrapper over a buffered file over a raw
// one), because Python's observable behaviour follows from that stacking: a text write after a
// read lands after the decoder's read-ahead, truncate() in text mode cuts at the buffer's
// position, and each layer words its errors its own way.
#include <batteries/pathlib/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codecs.hpp"
#include "fd.hpp"

namespace batteries::pathlib {

namespace {

constexpr std::size_t k_default_buffer_size = 8192;  // io.DEFAULT_BUFFER_SIZE
constexpr std::size_t k_chunk_size = 8192;           // TextIOWrapper._CHUNK_SIZE
constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

// The type Python's open() returns: FileIO, a Buffered* object, or a TextIOWrapper over one.
enum class Layer : std::uint8_t { raw, buffered, text };

// What the text layer needs to know about an encoding: whether it can be decoded a chunk at a
// time, and whether its encoder writes a BOM at the start of the stream.
enum class Family : std::uint8_t { utf8, utf8_sig, ascii, latin1, utf16, utf32, other };

// newline=None, "", "\n", "\r", "\r\n".
enum class Newline : std::uint8_t { translate, universal, lf, cr, crlf };

// CPython's encoding-name normalisation: ASCII letters lowered, digits and '.' kept, any other
// run of bytes one '_' between kept characters.
std::string normalize_encoding(std::string_view name) {
  std::string out;
  bool punct = false;
  for (const char c : name) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool keep = upper || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.';
    if (!keep) {
      punct = true;
      continue;
    }
    if (punct && !out.empty()) out += '_';
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
    punct = false;
  }
  return out;
}

// Python's names (modules and aliases) for the codecs the text layer treats specially. An
// encoding not listed is "other": decoded whole, which is correct for every codec.
Family family_of(std::string_view encoding) {
  static constexpr std::pair<std::string_view, Family> k_names[] = {
      {"utf_8", Family::utf8},
      {"utf8", Family::utf8},
      {"u8", Family::utf8},
      {"utf", Family::utf8},
      {"utf8_ucs2", Family::utf8},
      {"utf8_ucs4", Family::utf8},
      {"cp65001", Family::utf8},
      {"utf_8_sig", Family::utf8_sig},
      {"ascii", Family::ascii},
      {"646", Family::ascii},
      {"ansi_x3.4_1968", Family::ascii},
      {"ansi_x3.4_1986", Family::ascii},
      {"ansi_x3_4_1968", Family::ascii},
      {"cp367", Family::ascii},
      {"csascii", Family::ascii},
      {"ibm367", Family::ascii},
      {"iso646_us", Family::ascii},
      {"iso_646.irv_1991", Family::ascii},
      {"iso_ir_6", Family::ascii},
      {"us", Family::ascii},
      {"us_ascii", Family::ascii},
      {"latin_1", Family::latin1},
      {"8859", Family::latin1},
      {"cp819", Family::latin1},
      {"csisolatin1", Family::latin1},
      {"ibm819", Family::latin1},
      {"iso8859", Family::latin1},
      {"iso8859_1", Family::latin1},
      {"iso_8859_1", Family::latin1},
      {"iso_8859_1_1987", Family::latin1},
      {"iso_ir_100", Family::latin1},
      {"l1", Family::latin1},
      {"latin", Family::latin1},
      {"latin1", Family::latin1},
      {"utf_16", Family::utf16},
      {"utf16", Family::utf16},
      {"u16", Family::utf16},
      {"utf_32", Family::utf32},
      {"utf32", Family::utf32},
      {"u32", Family::utf32},
  };
  std::string name = normalize_encoding(encoding);
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [known, family] : k_names) {
      if (name == known) return family;
    }
    std::replace(name.begin(), name.end(), '.', '_');
  }
  return Family::other;
}

// The length of the UTF-8 sequence starting at text[i], as Python counts characters: a valid
// sequence is one character, and so is each byte that is not part of one (an escaped byte).
std::size_t char_length(std::string_view text, std::size_t i) noexcept {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return 1;
  std::size_t need = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead < 0xC2) {
    return 1;
  } else if (lead < 0xE0) {
    need = 2;
  } else if (lead < 0xF0) {
    need = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead < 0xF5) {
    need = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 1;
  }
  if (text.size() - i < need) return 1;
  for (std::size_t k = 1; k < need; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if (k == 1 ? (b < low || b > high) : (b & 0xC0) != 0x80) return 1;
  }
  return need;
}

// The number of characters in text when it is all valid UTF-8 (no escaped bytes), else nullopt.
std::optional<std::size_t> valid_utf8_chars(std::string_view text) noexcept {
  constexpr std::uint64_t k_high_bits = 0x8080808080808080ULL;
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.size() - i >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & k_high_bits) == 0) {
        i += 8;
        chars += 8;
        continue;
      }
    }
    const std::size_t length = char_length(text, i);
    if (length == 1 && static_cast<unsigned char>(text[i]) >= 0x80) return std::nullopt;
    i += length;
    ++chars;
  }
  return chars;
}

// Moves `bytes` forward over text until `chars` reaches limit or the text ends.
void advance_chars(std::string_view text, std::size_t& bytes, std::size_t& chars,
                   std::size_t limit) noexcept {
  while (chars < limit && bytes < text.size()) {
    bytes += char_length(text, bytes);
    ++chars;
  }
}

// How much of data a UTF-8 decoder can take now: all of it, less a final sequence that is
// incomplete but could still be completed by the bytes to come (Python's incremental decoder
// keeps exactly those back; an invalid one it reports at once).
std::size_t complete_utf8_prefix(std::string_view data) noexcept {
  const std::size_t n = data.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<unsigned char>(data[n - back]);
    if ((b & 0xC0) == 0x80) continue;
    if (b < 0xC2 || b > 0xF4) return n;
    const std::size_t need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (back >= need) return n;
    if (back >= 2) {
      const auto second = static_cast<unsigned char>(data[n - back + 1]);
      const unsigned char low = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
      const unsigned char high = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
      if (second < low || second > high) return n;
    }
    return n - back;
  }
  return n;
}

[[noreturn]] void unsupported(std::string message) {
  throw UnsupportedOperation(std::move(message));
}

}  // namespace

struct File::Impl {
  // ---- what open() made ----
  int fd = -1;
  std::string name;
  std::string mode;
  Layer layer = Layer::buffered;
  bool can_read = false;
  bool can_write = false;
  bool closed = false;
  int seekable_state = -1;  // FileIO caches seekable(): -1 not yet asked

  // ---- buffered: Python's BufferedReader/Writer/Random ----
  // One buffer serves reads and writes, as in CPython's bufferedio.c, whose bookkeeping this
  // follows field for field, so that what reaches the file, and when, is what Python does:
  // pos is the logical position in the buffer, raw_pos where the descriptor's offset falls in
  // it, buf[..read_end) is valid for reading (read_end -1: none), buf[write_pos..write_end)
  // waits to be written (write_end -1: none), abs_pos caches the descriptor's offset (-1:
  // unknown).
  std::size_t buffer_size = k_default_buffer_size;
  std::vector<char> buf;
  std::int64_t pos = 0;
  std::int64_t raw_pos = 0;
  std::int64_t read_end = -1;
  std::int64_t write_pos = 0;
  std::int64_t write_end = -1;
  std::int64_t abs_pos = -1;

  // ---- text: Python's TextIOWrapper ----
  std::string encoding;
  std::string errors;
  std::string decode_encoding;  // what decode() is called with (utf-8-sig: "utf-8", the BOM
                                // being stripped here)
  std::string write_encoding;   // the encoder after the start of the stream: no BOM
  Family family = Family::other;
  Newline newline = Newline::translate;
  std::string write_nl;  // what '\n' becomes on writing; empty: left as it is
  bool line_buffering = false;
  bool text_seekable = false;
  bool telling = false;
  bool tell_mappable = false;  // decoded text maps back to byte counts without re-decoding
  bool bom_pending = false;    // the next write starts the stream: the encoder writes a BOM
  bool strip_bom = false;      // utf-8-sig: the decoder is at the start of the stream
  std::string decoded;         // decoded (and translated) text; decoded[dpos..] not yet returned
  std::size_t dpos = 0;
  std::vector<std::size_t> collapsed;  // indexes in decoded of '\n's that were "\r\n"
  std::string pending_bytes;           // the start of a character whose end is yet to come
  bool pending_cr = false;             // a '\r' held back until the next character is known
  // Whether the last chunk decoded gave any text (Python's decoded_chars is set and not empty,
  // even if all of it has been read): readline() decodes a chunk first when it is not.
  bool have_decoded = false;
  std::size_t last_chars = 0;  // characters the last chunk decoded to
  double b2cratio = 0.0;       // its bytes per character, which scales read(n)'s next chunk
  std::string unwritten;       // encoded text not yet given to the buffer (Python's pending_bytes)

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (!closed && fd >= 0) ::close(fd);
  }

  // ---------------------------------------------------------------------------------------
  // Checks, worded as the layer Python would have made words them.

  void check_closed() const {
    if (closed) throw ValueError("I/O operation on closed file");
  }
  void check_closed_dot() const {
    if (closed) throw ValueError("I/O operation on closed file.");
  }

  // ---------------------------------------------------------------------------------------
  // Raw: FileIO's system calls.

  std::size_t raw_read(char* out, std::size_t n) {
    ssize_t got = 0;
    do {
      got = ::read(fd, out, n);
    } while (got < 0 && errno == EINTR);
    if (got < 0) raise_errno();
    return static_cast<std::size_t>(got);
  }

  std::size_t raw_write(const char* data, std::size_t n) {
    ssize_t put = 0;
    do {
      put = ::write(fd, data, n);
    } while (put < 0 && errno == EINTR);
    if (put < 0) raise_errno();
    return static_cast<std::size_t>(put);
  }

  std::int64_t raw_seek(std::int64_t offset, int whence) {
    const off_t got = ::lseek(fd, static_cast<off_t>(offset), whence);
    if (got < 0) raise_errno();
    return got;
  }

  bool raw_seekable() {
    if (seekable_state < 0) seekable_state = ::lseek(fd, 0, SEEK_CUR) >= 0 ? 1 : 0;
    return seekable_state == 1;
  }

  // FileIO.readall(): to the end, sized from fstat where it can be.
  std::string raw_readall() {
    std::string out;
    std::size_t size = k_default_buffer_size;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      const off_t here = ::lseek(fd, 0, SEEK_CUR);
      if (here >= 0 && st.st_size >= here) size = static_cast<std::size_t>(st.st_size - here) + 1;
    }
    for (;;) {
      const std::size_t used = out.size();
      if (out.capacity() - used < size) out.reserve(used + size);
      out.resize(out.capacity());
      const std::size_t got = raw_read(out.data() + used, out.size() - used);
      out.resize(used + got);
      if (got == 0) return out;
      size = std::max(size, k_default_buffer_size);
    }
  }

  // FileIO.truncate(): at the descriptor's offset unless told; the offset does not move.
  std::int64_t raw_truncate(std::optional<std::int64_t> size) {
    const std::int64_t at = size ? *size : raw_seek(0, SEEK_CUR);
    if (::ftruncate(fd, static_cast<off_t>(at)) != 0) raise_errno();
    return at;
  }

  // ---------------------------------------------------------------------------------------
  // Buffered: bufferedio.c's helpers and methods, after their argument and closed checks.

  [[nodiscard]] bool valid_read() const noexcept { return can_read && read_end != -1; }
  [[nodiscard]] bool valid_write() const noexcept { return can_write && write_end != -1; }
  [[nodiscard]] std::int64_t readahead() const noexcept {
    return valid_read() ? read_end - pos : 0;
  }
  [[nodiscard]] std::int64_t raw_offset() const noexcept {
    return (valid_read() || valid_write()) && raw_pos >= 0 ? raw_pos - pos : 0;
  }
  void adjust_position(std::int64_t to) noexcept {
    pos = to;
    if (valid_read() && read_end < pos) read_end = pos;
  }
  void reset_read() noexcept { read_end = -1; }
  void reset_write() noexcept {
    write_pos = 0;
    write_end = -1;
  }
  char* at(std::int64_t index) noexcept { return buf.data() + index; }
  std::string take(std::int64_t from, std::int64_t n) const {
    return {buf.data() + from, static_cast<std::size_t>(n)};
  }

  void init_buffer(std::size_t size) {
    buffer_size = size;
    buf.assign(size, '\0');
    pos = 0;
    raw_pos = 0;
    reset_read();
    reset_write();
    const off_t here = ::lseek(fd, 0, SEEK_CUR);
    abs_pos = here >= 0 ? here : -1;
  }

  std::int64_t tell_raw() {  // _buffered_raw_tell
    abs_pos = raw_seek(0, SEEK_CUR);
    return abs_pos;
  }
  std::int64_t seek_raw(std::int64_t target, int whence) {  // _buffered_raw_seek
    abs_pos = raw_seek(target, whence);
    return abs_pos;
  }
  std::int64_t cached_raw_tell() { return abs_pos != -1 ? abs_pos : tell_raw(); }  // RAW_TELL
  std::int64_t read_raw(char* out, std::int64_t n) {  // _bufferedreader_raw_read
    const auto got = static_cast<std::int64_t>(raw_read(out, static_cast<std::size_t>(n)));
    if (got > 0 && abs_pos != -1) abs_pos += got;
    return got;
  }
  std::int64_t write_raw(const char* data, std::int64_t n) {  // _bufferedwriter_raw_write
    const auto put = static_cast<std::int64_t>(raw_write(data, static_cast<std::size_t>(n)));
    if (put > 0 && abs_pos != -1) abs_pos += put;
    return put;
  }

  // _bufferedwriter_flush_unlocked: what is not written stays pending when write(2) fails.
  void flush_writes() {
    if (valid_write() && write_pos != write_end) {
      const std::int64_t rewind = raw_offset() + (pos - write_pos);
      if (rewind != 0) {
        seek_raw(-rewind, SEEK_CUR);
        raw_pos -= rewind;
      }
      while (write_pos < write_end) {
        write_pos += write_raw(at(write_pos), write_end - write_pos);
        raw_pos = write_pos;
      }
    }
    reset_write();
  }

  // buffered_flush_and_rewind_unlocked: pending writes out, and the descriptor moved back over
  // the read-ahead, so that its offset is the logical position.
  void flush_and_rewind() {
    flush_writes();
    if (can_read) {
      const std::int64_t offset = raw_offset();
      try {
        seek_raw(-offset, SEEK_CUR);
      } catch (...) {
        reset_read();
        throw;
      }
      reset_read();
    }
  }

  std::int64_t fill_buffer() {
    const std::int64_t start = valid_read() ? read_end : 0;
    const std::int64_t got = read_raw(at(start), static_cast<std::int64_t>(buffer_size) - start);
    if (got <= 0) return got;
    read_end = start + got;
    raw_pos = start + got;
    return got;
  }

  std::string buffered_read_all() {
    const std::int64_t current = readahead();
    std::string out = take(pos, current);
    pos += current;
    if (can_write) flush_and_rewind();
    reset_read();
    out += raw_readall();
    abs_pos = -1;  // FileIO.readall() moved the descriptor without telling
    return out;
  }

  // _bufferedreader_read_generic: whole buffers straight from the descriptor, the rest through
  // the buffer; stops early only at the end of the file.
  std::string buffered_read(std::int64_t n) {
    const std::int64_t current = readahead();
    if (n <= current) {
      std::string out = take(pos, n);
      pos += n;
      return out;
    }
    std::string out(static_cast<std::size_t>(n), '\0');
    std::int64_t remaining = n;
    std::int64_t written = 0;
    if (current > 0) {
      std::copy_n(at(pos), current, out.data());
      remaining -= current;
      written += current;
      pos += current;
    }
    if (can_write) flush_and_rewind();
    reset_read();
    const auto size = static_cast<std::int64_t>(buffer_size);
    while (remaining > 0) {
      const std::int64_t block = size * (remaining / size);
      if (block == 0) break;
      const std::int64_t got = read_raw(out.data() + written, block);
      if (got == 0) {
        out.resize(static_cast<std::size_t>(written));
        return out;
      }
      remaining -= got;
      written += got;
    }
    pos = 0;
    raw_pos = 0;
    read_end = 0;
    while (remaining > 0 && read_end < size) {
      const std::int64_t got = fill_buffer();
      if (got == 0) break;
      const std::int64_t part = std::min(remaining, got);
      std::copy_n(at(pos), part, out.data() + written);
      written += part;
      pos += part;
      remaining -= part;
    }
    out.resize(static_cast<std::size_t>(written));
    return out;
  }

  // read1(n): the read-ahead if there is any, else one read(2). Python 3.11's does not write
  // out pending writes first (3.12's does), so they are written later, wherever the descriptor
  // is by then; that is reproduced here.
  std::string buffered_read1(std::int64_t n) {
    if (n == 0) return {};
    const std::int64_t have = readahead();
    if (have > 0) {
      const std::int64_t part = std::min(have, n);
      std::string out = take(pos, part);
      pos += part;
      return out;
    }
    reset_read();
    std::string out(static_cast<std::size_t>(n), '\0');
    out.resize(static_cast<std::size_t>(read_raw(out.data(), n)));
    return out;
  }

  std::string buffered_readline(std::int64_t limit) {
    std::int64_t n = readahead();
    if (limit >= 0 && n > limit) n = limit;
    const std::string_view ahead(at(pos), static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    if (const std::size_t nl = ahead.find('\n'); nl != std::string_view::npos) {
      std::string out(ahead.substr(0, nl + 1));
      pos += static_cast<std::int64_t>(nl) + 1;
      return out;
    }
    std::string out(ahead);
    if (n == limit) {
      pos += n;
      return out;
    }
    if (n > 0) {
      pos += n;
      if (limit >= 0) limit -= n;
    }
    if (can_write) flush_and_rewind();
    for (;;) {
      reset_read();
      n = fill_buffer();
      if (n <= 0) break;
      if (limit >= 0 && n > limit) n = limit;
      const std::string_view chunk(at(0), static_cast<std::size_t>(n));
      if (const std::size_t nl = chunk.find('\n'); nl != std::string_view::npos) {
        out.append(chunk.substr(0, nl + 1));
        pos = static_cast<std::int64_t>(nl) + 1;
        break;
      }
      out.append(chunk);
      if (n == limit) {
        pos = n;
        break;
      }
      if (limit >= 0) limit -= n;
    }
    return out;
  }

  std::size_t buffered_write(std::string_view data) {
    const auto len = static_cast<std::int64_t>(data.size());
    const auto size = static_cast<std::int64_t>(buffer_size);
    if (!valid_read() && !valid_write()) {
      pos = 0;
      raw_pos = 0;
    }
    if (len <= size - pos) {
      std::copy(data.begin(), data.end(), at(pos));
      if (!valid_write() || write_pos > pos) write_pos = pos;
      adjust_position(pos + len);
      if (pos > write_end) write_end = pos;
      return data.size();
    }
    flush_writes();
    // The descriptor may still be past the logical position, over an unmodified read-ahead.
    if (const std::int64_t offset = raw_offset(); offset != 0) {
      seek_raw(-offset, SEEK_CUR);
      raw_pos -= offset;
    }
    std::int64_t remaining = len;
    std::int64_t written = 0;
    while (remaining > size) {
      const std::int64_t put = write_raw(data.data() + written, len - written);
      written += put;
      remaining -= put;
    }
    if (can_read) reset_read();
    std::copy_n(data.data() + written, remaining, at(0));
    write_pos = 0;
    write_end = remaining;
    adjust_position(remaining);
    raw_pos = 0;
    return data.size();
  }

  // buffer.flush(): BufferedReader's is FileIO's, which has nothing to do.
  void buffered_flush() {
    if (can_write) flush_and_rewind();
  }

  std::int64_t buffered_tell() { return tell_raw() - raw_offset(); }

  // _io__Buffered_seek_impl, after its checks: a seek that stays within the read buffer moves
  // in it; anything else writes out what is pending and asks the descriptor.
  std::int64_t buffered_seek(std::int64_t target, int whence) {
    if ((whence == SEEK_SET || whence == SEEK_CUR) && can_read) {
      const std::int64_t current = cached_raw_tell();
      const std::int64_t avail = readahead();
      if (avail > 0) {
        const std::int64_t offset = whence == SEEK_SET ? target - (current - raw_offset()) : target;
        if (offset >= -pos && offset <= avail) {
          // What 3.11 returns, even where a failed seek left its cached offset stale.
          pos += offset;
          return current - avail + offset;
        }
      }
    }
    if (can_write) flush_writes();
    if (whence == SEEK_CUR) target -= raw_offset();
    const std::int64_t position = seek_raw(target, whence);
    raw_pos = -1;
    if (can_read) reset_read();
    return position;
  }

  std::int64_t buffered_truncate(std::optional<std::int64_t> size) {
    flush_and_rewind();
    const std::int64_t at_size = raw_truncate(size);
    try {
      tell_raw();
    } catch (const OSError&) {  // NOLINT(bugprone-empty-catch): only refreshes the cache
      abs_pos = -1;
    }
    return at_size;
  }

  void close_descriptor(std::exception_ptr pending) {
    closed = true;
    const int rc = ::close(fd);
    const int err = errno;
    fd = -1;
    buf = {};
    read_end = 0;
    pos = 0;
    if (pending) std::rethrow_exception(pending);
    if (rc != 0 && err != EINTR) raise_os_error(err);
  }

  // ---------------------------------------------------------------------------------------
  // Text.

  [[nodiscard]] bool incremental() const noexcept {
    return family == Family::utf8 || family == Family::utf8_sig || family == Family::ascii ||
           family == Family::latin1;
  }

  [[nodiscard]] std::string_view unread() const noexcept {
    return std::string_view(decoded).substr(dpos);
  }

  // Forgets decoded text and decoder state (decoder.reset(), or setstate((b'', 0)) when the
  // stream is not at its start).
  void reset_decoder(bool at_start) {
    decoded.clear();
    dpos = 0;
    collapsed.clear();
    pending_bytes.clear();
    pending_cr = false;
    have_decoded = false;
    strip_bom = at_start && family == Family::utf8_sig;
  }

  // Drops the text already returned, so that decoded holds only what is to come.
  void compact() {
    if (dpos == 0) return;
    const auto first = std::lower_bound(collapsed.begin(), collapsed.end(), dpos);
    collapsed.erase(collapsed.begin(), first);
    for (std::size_t& index : collapsed) index -= dpos;
    decoded.erase(0, dpos);
    dpos = 0;
  }

  // Appends freshly decoded text: held-back '\r' first, a trailing '\r' held back unless this is
  // the end, then newline translation (recording where "\r\n" became "\n").
  void append_text(std::string text, bool final) {
    if (pending_cr) {
      text.insert(text.begin(), '\r');
      pending_cr = false;
    }
    const bool universal = newline == Newline::translate || newline == Newline::universal;
    if (universal && !final && !text.empty() && text.back() == '\r') {
      text.pop_back();
      pending_cr = true;
    }
    compact();
    if (newline == Newline::translate && text.find('\r') != std::string::npos) {
      std::size_t w = 0;
      for (std::size_t r = 0; r < text.size(); ++r) {
        if (text[r] != '\r') {
          text[w++] = text[r];
          continue;
        }
        if (r + 1 < text.size() && text[r + 1] == '\n') {
          ++r;
          collapsed.push_back(decoded.size() + w);
        }
        text[w++] = '\n';
      }
      text.resize(w);
    }
    have_decoded = !text.empty();
    // Only surrogateescape leaves bytes that are not UTF-8; other text counts the quick way.
    last_chars =
        errors == "surrogateescape" ? detail::char_count(text) : detail::count_valid_chars(text);
    if (decoded.empty()) {
      decoded = std::move(text);
    } else {
      decoded += text;
    }
  }

  // Decodes bytes read from the file (the end of the file when final).
  void feed(std::string chunk, bool final) {
    if (!incremental()) {
      append_text(detail::decode(chunk, decode_encoding, errors), true);
      return;
    }
    std::string data = pending_bytes.empty() ? std::move(chunk) : pending_bytes + chunk;
    if (strip_bom) {
      if (data.size() < k_utf8_bom.size() && k_utf8_bom.starts_with(data)) {
        // Too short to tell whether it is a BOM: Python's decoder waits, even at the end.
        pending_bytes = std::move(data);
        return;
      }
      strip_bom = false;
      if (data.starts_with(k_utf8_bom)) data.erase(0, k_utf8_bom.size());
    }
    const bool utf8 = family == Family::utf8 || family == Family::utf8_sig;
    const std::size_t split = final || !utf8 ? data.size() : complete_utf8_prefix(data);
    std::string text;
    try {
      text = detail::decode(std::string_view(data).substr(0, split), decode_encoding, errors);
    } catch (const UnicodeDecodeError&) {
      // A sequence cut short at the end of what was decoded may be invalid in view of the bytes
      // held back ("invalid continuation byte", not "unexpected end of data"): let the decoder
      // see them to word the error as Python's does.
      if (split < data.size()) (void)detail::decode(data, decode_encoding, errors);
      throw;
    }
    pending_bytes.assign(data, split);
    append_text(std::move(text), final);
  }

  // TextIOWrapper's read_chunk: decodes more of the file; false at the end of it. Encodings
  // that are not decoded incrementally take the rest of the file at once.
  bool read_chunk(std::size_t size_hint) {
    if (!incremental()) {
      // All the rest, in read1() calls as Python's chunks would take it.
      std::string data;
      for (;;) {
        std::string chunk = buffered_read1(static_cast<std::int64_t>(k_chunk_size));
        if (chunk.empty()) break;
        data += chunk;
      }
      const bool more = !data.empty();
      feed(std::move(data), true);
      return more;
    }
    // As Python: a read(n) asks for n characters' worth of bytes at the last chunk's ratio.
    if (size_hint > 0) {
      size_hint =
          static_cast<std::size_t>(std::max(b2cratio, 1.0) * static_cast<double>(size_hint));
    }
    std::string chunk =
        buffered_read1(static_cast<std::int64_t>(std::max(k_chunk_size, size_hint)));
    const std::size_t nbytes = chunk.size();
    const bool more = nbytes > 0;
    last_chars = 0;
    feed(std::move(chunk), !more);
    b2cratio = last_chars > 0 ? static_cast<double>(nbytes) / static_cast<double>(last_chars) : 0.0;
    return more;
  }

  // read_chunk() for a read that has gathered `gathered` bytes of text: when decoding fails,
  // that text is lost, as it is in Python (it was only in the failed call's hands).
  bool read_chunk_or_drop(std::size_t size_hint, std::size_t gathered) {
    try {
      return read_chunk(size_hint);
    } catch (...) {
      consume(gathered);
      have_decoded = false;
      throw;
    }
  }

  // The bytes the unread text came from (see tell_mappable).
  [[nodiscard]] std::size_t unread_source_bytes() const {
    const std::string_view rest = unread();
    const auto first = std::lower_bound(collapsed.begin(), collapsed.end(), dpos);
    const auto crlfs = static_cast<std::size_t>(collapsed.end() - first);
    return (family == Family::latin1 ? detail::char_count(rest) : rest.size()) + crlfs;
  }

  void consume(std::size_t bytes) {
    dpos += bytes;
    if (dpos == decoded.size()) {
      decoded.clear();
      dpos = 0;
      collapsed.clear();
    }
  }

  std::string text_read(std::int64_t size) {
    write_unwritten();
    if (size < 0) {
      feed(buffered_read_all(), true);
      std::string out = dpos == 0 ? std::move(decoded) : std::string(unread());
      decoded.clear();
      dpos = 0;
      collapsed.clear();
      have_decoded = false;
      return out;
    }
    const auto limit = static_cast<std::size_t>(size);
    std::size_t bytes = 0;
    std::size_t chars = 0;
    bool more = true;
    for (;;) {
      advance_chars(unread(), bytes, chars, limit);
      if (chars == limit || !more) break;
      more = read_chunk_or_drop(limit - chars, bytes);
    }
    std::string out(unread().substr(0, bytes));
    consume(bytes);
    return out;
  }

  // _textiowrapper_readline: the line ends as `newline` says; size limits it in characters.
  std::string text_readline(std::int64_t size) {
    constexpr std::size_t npos = std::string_view::npos;
    const bool limited = size >= 0;
    const auto limit = static_cast<std::size_t>(limited ? size : 0);
    std::size_t start = 0;  // where the search for an ending resumes, relative to dpos
    std::size_t counted_bytes = 0;
    std::size_t counted_chars = 0;
    std::size_t end = 0;
    bool more = true;
    write_unwritten();
    while (!have_decoded && more) more = read_chunk(0);
    for (;;) {
      const std::string_view rest = unread();
      std::size_t found = npos;  // just past the ending
      switch (newline) {
        case Newline::translate:
        case Newline::lf:
        case Newline::cr: {
          const std::size_t p = rest.find(newline == Newline::cr ? '\r' : '\n', start);
          if (p != npos) found = p + 1;
          start = rest.size();
          break;
        }
        case Newline::crlf: {
          const std::size_t p = rest.find("\r\n", start);
          if (p != npos) found = p + 2;
          start = rest.empty() ? 0 : rest.size() - 1;
          break;
        }
        case Newline::universal: {
          const std::size_t p = rest.find_first_of("\r\n", start);
          start = rest.size();
          if (p == npos) break;
          if (rest[p] == '\n') {
            found = p + 1;
          } else if (p + 1 < rest.size()) {
            found = rest[p + 1] == '\n' ? p + 2 : p + 1;
          } else if (!more) {
            found = p + 1;
          } else {
            start = p;  // a '\r' at the end: whether "\n" follows is yet to be read
          }
          break;
        }
      }
      if (limited) {
        advance_chars(rest, counted_bytes, counted_chars, limit);
        if (counted_chars == limit) {
          end = std::min(found, counted_bytes);
          break;
        }
      }
      if (found != npos) {
        end = found;
        break;
      }
      if (!more) {
        end = rest.size();
        if (end == 0) have_decoded = false;
        break;
      }
      more = read_chunk_or_drop(0, rest.size());
    }
    std::string out(unread().substr(0, end));
    consume(end);
    return out;
  }

  // _textiowrapper_writeflush: encoded text on to the buffer.
  void write_unwritten() {
    if (unwritten.empty()) return;
    const std::string bytes = std::move(unwritten);
    unwritten.clear();
    buffered_write(bytes);
  }

  void text_flush() {
    check_closed_dot();
    telling = text_seekable;
    write_unwritten();
    buffered_flush();
  }

  std::size_t text_write(std::string_view text) {
    std::string translated;
    std::string_view out = text;
    if (!write_nl.empty() && text.find('\n') != std::string_view::npos) {
      translated.reserve(text.size() + text.size() / 8);
      for (const char c : text) {
        if (c == '\n') {
          translated += write_nl;
        } else {
          translated += c;
        }
      }
      out = translated;
    }
    const bool needflush = line_buffering && out.find_first_of("\r\n") != std::string_view::npos;
    // Encoded in full first: an encoding error writes nothing. Text that is all valid UTF-8 is
    // its own UTF-8 encoding (and ASCII's, when it is ASCII), whatever the error handler.
    const std::optional<std::size_t> chars = valid_utf8_chars(text);
    const bool identity =
        chars && (family == Family::utf8 || (family == Family::utf8_sig && !bom_pending) ||
                  (family == Family::ascii && *chars == text.size()));
    // Python's encoder leaves the start of the stream before it encodes: a write that fails
    // there loses the BOM for good.
    const bool start = std::exchange(bom_pending, false);
    std::string bytes = identity ? std::string(out)
                                 : detail::encode(out, start ? encoding : write_encoding, errors);
    // As Python: the encoded text waits here until a chunk's worth has gathered.
    if (unwritten.size() + bytes.size() > k_chunk_size) write_unwritten();
    unwritten += bytes;
    if (unwritten.size() >= k_chunk_size || needflush) write_unwritten();
    reset_decoder(true);
    if (needflush) buffered_flush();
    return chars ? *chars : detail::char_count(text);
  }

  std::int64_t text_tell() {
    check_closed_dot();
    if (!text_seekable) unsupported("underlying stream is not seekable");
    if (!telling) throw OSError("telling position disabled by next() call");
    text_flush();
    const std::int64_t position = buffered_tell();
    if (!can_read) return position;
    const bool buffered_text = dpos < decoded.size();
    if (!buffered_text && pending_bytes.empty() && !pending_cr) return position;
    if (buffered_text && !tell_mappable) {
      unsupported(std::string("tell() with decoded text buffered is not supported for encoding ")
                      .append(py_repr(encoding))
                      .append(" with errors ")
                      .append(py_repr(errors)));
    }
    const std::size_t ahead =
        pending_bytes.size() + (pending_cr ? 1 : 0) + (buffered_text ? unread_source_bytes() : 0);
    return position - static_cast<std::int64_t>(ahead);
  }

  std::int64_t text_seek(std::int64_t cookie, int whence) {
    check_closed_dot();
    if (!text_seekable) unsupported("underlying stream is not seekable");
    const bool has_bom =
        family == Family::utf8_sig || family == Family::utf16 || family == Family::utf32;
    switch (whence) {
      case SEEK_SET:
        break;
      case SEEK_CUR:
        if (cookie != 0) unsupported("can't do nonzero cur-relative seeks");
        cookie = text_tell();
        break;
      case SEEK_END: {
        if (cookie != 0) unsupported("can't do nonzero end-relative seeks");
        text_flush();
        reset_decoder(true);
        const std::int64_t position = buffered_seek(0, SEEK_END);
        bom_pending = has_bom && position == 0;
        return position;
      }
      default:
        throw ValueError(std::string("invalid whence (")
                             .append(std::to_string(whence))
                             .append(", should be 0, 1 or 2)"));
    }
    if (cookie < 0) {
      throw ValueError(std::string("negative seek position ").append(std::to_string(cookie)));
    }
    text_flush();
    buffered_seek(cookie, SEEK_SET);
    reset_decoder(cookie == 0);
    bom_pending = has_bom && cookie == 0;
    return cookie;
  }
};

// ---- File: each method checks as the layer Python made would, then does the work ----

File::File() noexcept = default;
File::File(std::unique_ptr<Impl> impl) noexcept : m_impl(std::move(impl)) {}
File::File(File&& other) noexcept = default;

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): as the destructor, errors are swallowed
    }
    m_impl = std::move(other.m_impl);
    m_line = std::move(other.m_line);
  }
  return *this;
}

File::~File() {
  try {
    close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): Python's __del__ ignores them too
  }
}

void File::check_open() const {
  if (!m_impl || m_impl->closed) throw ValueError("I/O operation on closed file.");
}

File::Impl& File::impl() const {
  if (!m_impl) throw ValueError("I/O operation on closed file.");
  return *m_impl;
}

std::string File::read(std::int64_t size) {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw: {
      f.check_closed();
      if (!f.can_read) unsupported("File not open for reading");
      if (size < 0) return f.raw_readall();
      std::string out(static_cast<std::size_t>(size), '\0');
      out.resize(f.raw_read(out.data(), out.size()));
      return out;
    }
    case Layer::buffered:
      if (!f.can_read) unsupported("read");
      if (size < -1) throw ValueError("read length must be non-negative or -1");
      if (f.closed) throw ValueError("read of closed file");
      return size == -1 ? f.buffered_read_all() : f.buffered_read(size);
    case Layer::text:
      f.check_closed_dot();
      if (!f.can_read) unsupported("not readable");
      return f.text_read(size);
  }
  return {};
}

std::string File::readline(std::int64_t size) {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw: {
      // IOBase.readline on a raw file: a byte at a time, so as not to read past the line.
      f.check_closed();
      if (!f.can_read) unsupported("File not open for reading");
      std::string out;
      char c = 0;
      while ((size < 0 || out.size() < static_cast<std::size_t>(size)) && f.raw_read(&c, 1) == 1) {
        out += c;
        if (c == '\n') break;
      }
      return out;
    }
    case Layer::buffered:
      if (!f.can_read) unsupported("read");
      if (f.closed) throw ValueError("readline of closed file");
      return f.buffered_readline(size);
    case Layer::text:
      f.check_closed_dot();
      f.write_unwritten();  // Python's readline() does this before it finds it cannot read
      if (!f.can_read) unsupported("not readable");
      return f.text_readline(size);
  }
  return {};
}

// Python's next(f): readline(), with text mode's tell() switched off until the end is reached.
static_assert(std::ranges::input_range<File>);

File::iterator& File::iterator::operator++() {
  Impl& f = m_file->impl();
  if (f.layer == Layer::text) f.telling = false;
  m_file->m_line = m_file->readline();
  if (m_file->m_line.empty()) {
    if (f.layer == Layer::text) f.telling = f.text_seekable;
    m_file = nullptr;
  }
  return *this;
}

File::iterator File::begin() {
  check_open();
  return iterator(this);
}

std::vector<std::string> File::readlines(std::int64_t hint) {
  check_open();
  std::vector<std::string> lines;
  std::size_t total = 0;
  const bool text = m_impl->layer == Layer::text;
  for (iterator it = begin(); it != end(); ++it) {
    total += text ? detail::char_count(*it) : it->size();
    lines.push_back(std::move(m_line));
    if (hint > 0 && total > static_cast<std::size_t>(hint)) break;
  }
  return lines;
}

std::size_t File::write(std::string_view data) {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw:
      f.check_closed();
      if (!f.can_write) unsupported("File not open for writing");
      return f.raw_write(data.data(), data.size());
    case Layer::buffered:
      if (!f.can_write) unsupported("write");
      if (f.closed) throw ValueError("write to closed file");
      return f.buffered_write(data);
    case Layer::text:
      f.check_closed_dot();
      if (!f.can_write) unsupported("not writable");
      return f.text_write(data);
  }
  return 0;
}

void File::flush() {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw:
      f.check_closed_dot();
      return;
    case Layer::buffered:
      if (f.closed) {
        throw ValueError(f.can_write ? "flush of closed file" : "I/O operation on closed file.");
      }
      f.buffered_flush();
      return;
    case Layer::text:
      f.text_flush();
      return;
  }
}

std::int64_t File::seek(std::int64_t offset, int whence) {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw:
      f.check_closed();
      return f.raw_seek(offset, whence);
    case Layer::buffered:
      if (whence < SEEK_SET || (whence > SEEK_END && whence != SEEK_DATA && whence != SEEK_HOLE)) {
        throw ValueError(
            std::string("whence value ").append(std::to_string(whence)).append(" unsupported"));
      }
      if (f.closed) throw ValueError("seek of closed file");
      if (!f.raw_seekable()) unsupported("File or stream is not seekable.");
      return f.buffered_seek(offset, whence);
    case Layer::text:
      return f.text_seek(offset, whence);
  }
  return 0;
}

std::int64_t File::tell() {
  Impl& f = impl();
  switch (f.layer) {
    case Layer::raw:
      f.check_closed();
      return f.raw_seek(0, SEEK_CUR);
    case Layer::buffered:
      f.check_closed();
      return f.buffered_tell();
    case Layer::text:
      return f.text_tell();
  }
  return 0;
}

std::int64_t File::truncate(std::optional<std::int64_t> size) {
  Impl& f = impl();
  if (f.layer == Layer::raw) {
    f.check_closed();
    if (!f.can_write) unsupported("File not open for writing");
    return f.raw_truncate(size);
  }
  if (f.layer == Layer::text) f.text_flush();
  if (f.closed) throw ValueError("truncate of closed file");
  if (!f.can_write) unsupported("truncate");
  return f.buffered_truncate(size);
}

void File::close() {
  if (!m_impl || m_impl->closed) return;
  Impl& f = *m_impl;
  std::exception_ptr pending;
  if (f.layer != Layer::raw) {
    try {
      if (f.layer == Layer::text) {
        f.telling = f.text_seekable;
        f.write_unwritten();
      }
      f.buffered_flush();
    } catch (...) {
      pending = std::current_exception();
    }
  }
  f.close_descriptor(pending);
}

bool File::closed() const noexcept { return !m_impl || m_impl->closed; }

int File::fileno() const {
  Impl& f = impl();
  f.check_closed();
  return f.fd;
}

const std::string& File::name() const noexcept {
  static const std::string empty;
  return m_impl ? m_impl->name : empty;
}

const std::string& File::mode() const noexcept {
  static const std::string empty;
  return m_impl ? m_impl->mode : empty;
}

bool File::readable() const {
  Impl& f = impl();
  // A buffered or text file that cannot read says so without looking (IOBase.readable);
  // the others ask FileIO, which checks for a closed file first.
  if (f.layer != Layer::raw && !f.can_read) return false;
  f.check_closed();
  return f.can_read;
}

bool File::writable() const {
  Impl& f = impl();
  if (f.layer != Layer::raw && !f.can_write) return false;
  f.check_closed();
  return f.can_write;
}

bool File::seekable() const {
  Impl& f = impl();
  f.check_closed();
  return f.raw_seekable();
}

bool File::isatty() const {
  Impl& f = impl();
  f.check_closed();
  return ::isatty(f.fd) == 1;
}

bool File::binary() const noexcept { return !m_impl || m_impl->layer != Layer::text; }

std::optional<std::string> File::encoding() const {
  if (binary()) return std::nullopt;
  return m_impl->encoding;
}

std::optional<std::string> File::errors() const {
  if (binary()) return std::nullopt;
  return m_impl->errors;
}

bool File::line_buffering() const noexcept { return !binary() && m_impl->line_buffering; }

// ---- open() ----

namespace detail {

File open_file(const std::string& path, std::string_view mode, const OpenOptions& options) {
  // Python turns these into C strings before anything else.
  for (const auto* text : {&options.encoding, &options.errors, &options.newline}) {
    if (*text && (*text)->find('\0') != std::string::npos) {
      throw ValueError("embedded null character");
    }
  }
  if (mode.find('\0') != std::string_view::npos) throw ValueError("embedded null character");

  bool creating = false;
  bool reading = false;
  bool writing = false;
  bool appending = false;
  bool updating = false;
  bool text = false;
  bool binary = false;
  for (std::size_t i = 0; i < mode.size(); ++i) {
    const char c = mode[i];
    bool* flag = nullptr;
    switch (c) {
      case 'x':
        flag = &creating;
        break;
      case 'r':
        flag = &reading;
        break;
      case 'w':
        flag = &writing;
        break;
      case 'a':
        flag = &appending;
        break;
      case '+':
        flag = &updating;
        break;
      case 't':
        flag = &text;
        break;
      case 'b':
        flag = &binary;
        break;
      default:
        break;
    }
    if (flag == nullptr || mode.find(c, i + 1) != std::string_view::npos) {
      throw ValueError(std::string("invalid mode: '").append(mode).append("'"));
    }
    *flag = true;
  }
  if (text && binary) throw ValueError("can't have text and binary mode at once");
  const int kinds = int{creating} + int{reading} + int{writing} + int{appending};
  if (kinds > 1) throw ValueError("must have exactly one of create/read/write/append mode");
  if (binary && options.encoding) {
    throw ValueError("binary mode doesn't take an encoding argument");
  }
  if (binary && options.errors) throw ValueError("binary mode doesn't take an errors argument");
  if (binary && options.newline) throw ValueError("binary mode doesn't take a newline argument");

  // FileIO.__init__.
  if (path.find('\0') != std::string::npos) throw ValueError("embedded null byte");
  if (kinds == 0) {
    throw ValueError("Must have exactly one of create/read/write/append mode and at most one plus");
  }
  const bool readable = reading || updating;
  const bool writable = !reading || updating;
  int flags = readable && writable ? O_RDWR : readable ? O_RDONLY : O_WRONLY;
  if (creating) flags |= O_EXCL | O_CREAT;
  if (writing) flags |= O_CREAT | O_TRUNC;
  if (appending) flags |= O_APPEND | O_CREAT;
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) raise_errno(path);
  UniqueFd guard(fd);  // open() must not leak it when a later check fails

  auto impl = std::make_unique<File::Impl>();
  File::Impl& f = *impl;
  f.fd = fd;
  f.name = path;
  f.can_read = readable;
  f.can_write = writable;
  std::size_t blksize = k_default_buffer_size;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    // As FileIO: only EBADF counts; some file systems fail fstat() on good descriptors.
    if (errno == EBADF) raise_errno();
  } else {
    if (S_ISDIR(st.st_mode)) raise_os_error(EISDIR, path);
    if (st.st_blksize > 1) blksize = static_cast<std::size_t>(st.st_blksize);
  }
  if (appending) {
    // FileIO moves to the end now, so that tell() is right before the first write.
    if (::lseek(fd, 0, SEEK_END) < 0 && errno != ESPIPE) raise_errno();
  }
  if (creating) {
    f.mode = readable ? "xb+" : "xb";
  } else if (appending) {
    f.mode = readable ? "ab+" : "ab";
  } else if (readable) {
    f.mode = writable ? "rb+" : "rb";
  } else {
    f.mode = "wb";
  }

  // open(): the buffer.
  const int buffering = options.buffering;
  f.line_buffering = buffering == 1 || (buffering < 0 && ::isatty(fd) == 1);
  if (buffering == 0) {
    if (!binary) throw ValueError("can't have unbuffered text I/O");
    f.layer = Layer::raw;
    guard.release();
    return File(std::move(impl));
  }
  if (readable && writable && !f.raw_seekable()) {
    unsupported("File or stream is not seekable.");  // BufferedRandom needs to seek
  }
  f.init_buffer(buffering == 1 || buffering < 0 ? blksize : static_cast<std::size_t>(buffering));
  if (binary) {
    f.line_buffering = false;
    guard.release();
    return File(std::move(impl));
  }

  // TextIOWrapper.__init__.
  f.layer = Layer::text;
  f.mode = std::string(mode);
  if (options.newline) {
    const std::string& nl = *options.newline;
    if (nl.empty()) {
      f.newline = Newline::universal;
    } else if (nl == "\n") {
      f.newline = Newline::lf;
    } else if (nl == "\r") {
      f.newline = Newline::cr;
    } else if (nl == "\r\n") {
      f.newline = Newline::crlf;
    } else {
      throw ValueError(std::string("illegal newline value: ").append(nl));
    }
  }
  if (f.newline == Newline::cr || f.newline == Newline::crlf) f.write_nl = *options.newline;
  f.encoding = options.encoding.value_or("utf-8");
  f.errors = options.errors.value_or("strict");
  try {
    // Python looks the codec up here, after the file is open (and created or truncated).
    (void)detail::encode("", f.encoding, f.errors);
  } catch (const UnicodeError&) {  // NOLINT(bugprone-empty-catch): the codec exists
  }
  f.family = family_of(f.encoding);
  f.decode_encoding = f.family == Family::utf8_sig ? "utf-8" : f.encoding;
  const bool little = std::endian::native == std::endian::little;
  switch (f.family) {
    case Family::utf8_sig:
      f.write_encoding = "utf-8";
      break;
    case Family::utf16:
      f.write_encoding = little ? "utf-16-le" : "utf-16-be";
      break;
    case Family::utf32:
      f.write_encoding = little ? "utf-32-le" : "utf-32-be";
      break;
    default:
      f.write_encoding = f.encoding;
      break;
  }
  const bool identity = f.errors == "strict" || f.errors == "surrogateescape";
  f.tell_mappable = f.family == Family::latin1 ||
                    (identity && (f.family == Family::utf8 || f.family == Family::utf8_sig ||
                                  f.family == Family::ascii));
  f.text_seekable = f.raw_seekable();
  f.telling = f.text_seekable;
  f.strip_bom = f.family == Family::utf8_sig;
  // The encoder starts the stream (writes a BOM) only at offset 0. Python's fast UTF-16 and
  // UTF-32 encoders never do on a stream that cannot seek; utf-8-sig's always does.
  if (f.family == Family::utf8_sig) {
    f.bom_pending = !f.text_seekable || f.buffered_tell() == 0;
  } else if (f.family == Family::utf16 || f.family == Family::utf32) {
    f.bom_pending = f.text_seekable && f.buffered_tell() == 0;
  }
  guard.release();
  return File(std::move(impl));
}

}  // namespace detail

}  // namespace batteries::pathlib
