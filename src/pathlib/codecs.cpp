// Python 3.11's text codecs (bytes.decode, str.encode) for batteries text.
//
// UTF-8, ASCII, Latin-1, UTF-16 and UTF-32 are implemented here, Python's other character-set
// codecs through iconv, all with Python's error handlers, error ranges and messages.
#include "codecs.hpp"

#include <batteries/errors.hpp>

#include <fmt/format.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

namespace batteries::pathlib::detail {

namespace {

using Byte = unsigned char;

// ---------------------------------------------------------------------------------------------
// UTF-8 structure, as CPython's decoder sees it.

constexpr std::uint64_t k_high_bits = 0x8080808080808080ULL;

std::uint64_t load8(const char* p) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// The index, within a word loaded by load8, of the first byte whose bit is set in `bits`.
std::size_t first_marked_byte(std::uint64_t bits) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<std::size_t>(std::countr_zero(bits)) / 8;
  } else {
    return static_cast<std::size_t>(std::countl_zero(bits)) / 8;
  }
}

// The index of the first byte >= 0x80 in s at or after i, or s.size().
std::size_t first_non_ascii(std::string_view s, std::size_t i) noexcept {
  const std::size_t n = s.size();
  while (n - i >= 8) {
    const std::uint64_t high = load8(s.data() + i) & k_high_bits;
    if (high != 0) {
      return i + first_marked_byte(high);
    }
    i += 8;
  }
  while (i < n && static_cast<Byte>(s[i]) < 0x80) {
    ++i;
  }
  return i;
}

constexpr std::string_view k_invalid_start = "invalid start byte";
constexpr std::string_view k_invalid_continuation = "invalid continuation byte";
constexpr std::string_view k_unexpected_end = "unexpected end of data";

// What CPython's UTF-8 decoder makes of the bytes at p (p < end, *p >= 0x80): a valid
// sequence of `length` bytes (reason empty), or an error over `length` bytes with Python's
// reason. The error ranges are Unicode's maximal subparts: a lead byte and the continuation
// bytes that could still have completed it, so "replace" gives one U+FFFD for each.
struct Utf8Scan {
  std::size_t length;
  std::string_view reason;
};

Utf8Scan scan_utf8(const Byte* p, const Byte* end) noexcept {
  const Byte lead = p[0];
  std::size_t need = 0;
  // The second byte has a narrower range after some leads: that is how overlong forms,
  // UTF-16 surrogates (ED A0..BF) and code points above U+10FFFF are refused.
  Byte low = 0x80;
  Byte high = 0xBF;
  if (lead < 0xC2 || lead >= 0xF5) {
    return {1, k_invalid_start};
  }
  if (lead < 0xE0) {
    need = 2;
  } else if (lead < 0xF0) {
    need = 3;
    if (lead == 0xE0) {
      low = 0xA0;
    }
    if (lead == 0xED) {
      high = 0x9F;
    }
  } else {
    need = 4;
    if (lead == 0xF0) {
      low = 0x90;
    }
    if (lead == 0xF4) {
      high = 0x8F;
    }
  }
  const auto available = static_cast<std::size_t>(end - p);
  for (std::size_t k = 1; k < need; ++k) {
    if (k >= available) {
      return {available, k_unexpected_end};
    }
    const Byte b = p[k];
    const bool fits = k == 1 ? (b >= low && b <= high) : (b & 0xC0) == 0x80;
    if (!fits) {
      return {k, k_invalid_continuation};
    }
  }
  return {need, {}};
}

// The code point of a valid sequence of `length` bytes.
char32_t utf8_value(const Byte* p, std::size_t length) noexcept {
  switch (length) {
    case 1:
      return p[0];
    case 2:
      return (char32_t{p[0] & 0x1Fu} << 6) | (p[1] & 0x3Fu);
    case 3:
      return (char32_t{p[0] & 0x0Fu} << 12) | (char32_t{p[1] & 0x3Fu} << 6) | (p[2] & 0x3Fu);
    default:
      return (char32_t{p[0] & 0x07u} << 18) | (char32_t{p[1] & 0x3Fu} << 12) |
             (char32_t{p[2] & 0x3Fu} << 6) | (p[3] & 0x3Fu);
  }
}

const Byte* bytes_of(std::string_view s) noexcept {
  return reinterpret_cast<const Byte*>(s.data());
}

// The index of the first byte at or after i that does not begin a valid UTF-8 sequence
// (in batteries text: the first escaped byte), or s.size().
std::size_t valid_utf8_end(std::string_view s, std::size_t i) noexcept {
  const Byte* p = bytes_of(s);
  const std::size_t n = s.size();
  const auto continuation = [p](std::size_t k) { return (p[k] & 0xC0) == 0x80; };
  while (i < n) {
    const Byte lead = p[i];
    if (lead < 0x80) {
      i = first_non_ascii(s, i);
      continue;
    }
    // The common two- and three-byte forms inline; the rest, and every error, by scan_utf8.
    if (lead >= 0xC2 && lead < 0xE0 && n - i >= 2 && continuation(i + 1)) {
      i += 2;
      continue;
    }
    if (lead >= 0xE1 && lead < 0xF0 && lead != 0xED && n - i >= 3 && continuation(i + 1) &&
        continuation(i + 2)) {
      i += 3;
      continue;
    }
    const Utf8Scan scan = scan_utf8(p + i, p + n);
    if (!scan.reason.empty()) {
      return i;
    }
    i += scan.length;
  }
  return n;
}

}  // namespace

std::size_t count_valid_chars(std::string_view s) noexcept {
  std::size_t continuations = 0;
  std::size_t i = 0;
  for (; s.size() - i >= 8; i += 8) {
    const std::uint64_t word = load8(s.data() + i);
    continuations += static_cast<std::size_t>(std::popcount(word & ~(word << 1) & k_high_bits));
  }
  for (; i < s.size(); ++i) {
    continuations += (static_cast<Byte>(s[i]) & 0xC0) == 0x80 ? 1 : 0;
  }
  return s.size() - continuations;
}

namespace {

// One character of batteries text: a code point from a valid sequence, or an escaped byte,
// which is the surrogate U+DC00 + byte.
struct Char {
  char32_t code_point;
  std::size_t length;
  bool escaped;
};

Char char_at(std::string_view text, std::size_t i) noexcept {
  const Byte* p = bytes_of(text);
  if (p[i] < 0x80) {
    return {p[i], 1, false};
  }
  const Utf8Scan scan = scan_utf8(p + i, p + text.size());
  if (!scan.reason.empty()) {
    return {char32_t{0xDC00} + p[i], 1, true};
  }
  return {utf8_value(p + i, scan.length), scan.length, false};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---------------------------------------------------------------------------------------------
// Python's exceptions.

std::string decode_error_message(std::string_view encoding, std::string_view data,
                                 std::size_t start, std::size_t end, std::string_view reason) {
  if (end == start + 1) {
    return fmt::format("'{}' codec can't decode byte 0x{:02x} in position {}: {}", encoding,
                       static_cast<Byte>(data[start]), start, reason);
  }
  return fmt::format("'{}' codec can't decode bytes in position {}-{}: {}", encoding, start,
                     end - 1, reason);
}

[[noreturn]] void raise_decode_error(std::string_view encoding, std::string_view data,
                                     std::size_t start, std::size_t end, std::string_view reason) {
  throw UnicodeDecodeError(decode_error_message(encoding, data, start, end, reason));
}

// Python's escape for one character in an encode error message and in backslashreplace.
std::string escape_char(char32_t cp) {
  const auto value = static_cast<std::uint32_t>(cp);
  if (value <= 0xFF) {
    return fmt::format("\\x{:02x}", value);
  }
  if (value <= 0xFFFF) {
    return fmt::format("\\u{:04x}", value);
  }
  return fmt::format("\\U{:08x}", value);
}

// ---------------------------------------------------------------------------------------------
// Error handlers.

enum class Handler : std::uint8_t {
  strict,
  ignore,
  replace,
  backslashreplace,
  xmlcharrefreplace,
  namereplace,
  surrogateescape,
  surrogatepass,
  unknown,
};

Handler parse_handler(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, Handler>, 8> k_handlers{{
      {"strict", Handler::strict},
      {"ignore", Handler::ignore},
      {"replace", Handler::replace},
      {"backslashreplace", Handler::backslashreplace},
      {"xmlcharrefreplace", Handler::xmlcharrefreplace},
      {"namereplace", Handler::namereplace},
      {"surrogateescape", Handler::surrogateescape},
      {"surrogatepass", Handler::surrogatepass},
  }};
  for (const auto& [known, handler] : k_handlers) {
    if (known == name) {
      return handler;
    }
  }
  return Handler::unknown;
}

// The encodings surrogatepass knows, chosen as CPython does from the name in the error.
struct SurrogateForm {
  std::size_t width = 0;  // 0: surrogatepass does not apply
  bool utf8 = false;
  bool little_endian = false;
};

SurrogateForm surrogate_form(std::string_view encoding) noexcept {
  constexpr bool native_little = std::endian::native == std::endian::little;
  if (encoding == "utf-8") {
    return {3, true, false};
  }
  if (encoding == "utf-16") {
    return {2, false, native_little};
  }
  if (encoding == "utf-16-le") {
    return {2, false, true};
  }
  if (encoding == "utf-16-be") {
    return {2, false, false};
  }
  if (encoding == "utf-32") {
    return {4, false, native_little};
  }
  if (encoding == "utf-32-le") {
    return {4, false, true};
  }
  if (encoding == "utf-32-be") {
    return {4, false, false};
  }
  return {};
}

// Bytes a decoder could not decode: data[start, end), with Python's codec name and reason.
struct DecodeFault {
  std::string_view encoding;
  std::string_view reason;
  std::size_t start;
  std::size_t end;
};

// Characters an encoder could not encode: text[begin, end) in bytes, which is `count`
// characters from character `position`.
struct EncodeFault {
  std::string_view encoding;
  std::string_view reason;
  std::size_t begin;
  std::size_t end;
  std::size_t position;
  std::size_t count;
  // CPython's ASCII and Latin-1 encoders apply surrogateescape to the leading escaped bytes
  // of the range themselves and report only the rest; the generic handler refuses the range.
  bool escape_leading = false;
};

// Where an encoder's output goes, and how it writes the ASCII text a handler substitutes.
enum class Target : std::uint8_t { bytes, utf16_le, utf16_be, utf32_le, utf32_be, converter };

class Iconv;

struct Sink {
  std::string& out;
  Target target = Target::bytes;
  Iconv* converter = nullptr;
};

// The bytes in one code unit of a UTF-16 or UTF-32 target; 1 for the others.
std::size_t unit_width(Target target) noexcept {
  switch (target) {
    case Target::utf16_le:
    case Target::utf16_be:
      return 2;
    case Target::utf32_le:
    case Target::utf32_be:
      return 4;
    default:
      return 1;
  }
}

bool put_ascii(Sink& sink, std::string_view ascii);

[[noreturn]] void raise_encode_error(std::string_view text, const EncodeFault& fault) {
  if (fault.count == 1) {
    throw UnicodeEncodeError(fmt::format(
        "'{}' codec can't encode character '{}' in position {}: {}", fault.encoding,
        escape_char(char_at(text, fault.begin).code_point), fault.position, fault.reason));
  }
  throw UnicodeEncodeError(fmt::format("'{}' codec can't encode characters in position {}-{}: {}",
                                       fault.encoding, fault.position,
                                       fault.position + fault.count - 1, fault.reason));
}

// Python's error handler named by `errors`. The name is checked only when an error happens,
// as Python looks the handler up only then.
class ErrorPolicy {
 public:
  explicit ErrorPolicy(std::string_view name) : m_name(name), m_handler(parse_handler(name)) {}

  [[nodiscard]] Handler handler() const noexcept { return m_handler; }

  // Appends what the handler puts in place of the bytes to `out` and returns the offset in
  // `data` where decoding resumes, or throws.
  std::size_t on_decode(std::string_view data, const DecodeFault& fault, std::string& out) const {
    switch (m_handler) {
      case Handler::strict:
        break;
      case Handler::ignore:
        return fault.end;
      case Handler::replace:
        out += "\xEF\xBF\xBD";
        return fault.end;
      case Handler::backslashreplace:
        for (std::size_t i = fault.start; i < fault.end; ++i) {
          out += fmt::format("\\x{:02x}", static_cast<Byte>(data[i]));
        }
        return fault.end;
      case Handler::surrogateescape: {
        // Up to four bytes, none of them ASCII: in batteries text the escaped bytes are the
        // bytes themselves.
        std::size_t consumed = 0;
        while (consumed < 4 && consumed < fault.end - fault.start &&
               static_cast<Byte>(data[fault.start + consumed]) >= 0x80) {
          ++consumed;
        }
        if (consumed == 0) {
          break;
        }
        out.append(data.substr(fault.start, consumed));
        return fault.start + consumed;
      }
      case Handler::surrogatepass: {
        // One encoded surrogate. Only U+DC80..U+DCFF has a batteries spelling (the escaped
        // byte); for the others the original error stands.
        const SurrogateForm form = surrogate_form(fault.encoding);
        if (form.width == 0 || data.size() - fault.start < form.width) {
          break;
        }
        const Byte* p = bytes_of(data) + fault.start;
        char32_t cp = 0;
        if (form.utf8) {
          // Any three-byte form: Python's handler does not check the lead byte further.
          if ((p[0] & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            cp = (char32_t{p[0] & 0x0Fu} << 12) | (char32_t{p[1] & 0x3Fu} << 6) | (p[2] & 0x3Fu);
          }
        } else {
          for (std::size_t k = 0; k < form.width; ++k) {
            cp = (cp << 8) | p[form.little_endian ? form.width - 1 - k : k];
          }
        }
        if (cp < 0xD800 || cp > 0xDFFF) {
          break;
        }
        if (cp >= 0xDC80 && cp <= 0xDCFF) {
          out += static_cast<char>(cp & 0xFF);
        } else if (!m_held) {
          // Python decodes it, and may still fail further on; batteries has no spelling for
          // this surrogate, so the first such error is raised if nothing else is.
          m_held = UnicodeDecodeError(
              decode_error_message(fault.encoding, data, fault.start, fault.end, fault.reason));
        }
        return fault.start + form.width;
      }
      case Handler::xmlcharrefreplace:
      case Handler::namereplace:
        throw TypeError("don't know how to handle UnicodeDecodeError in error callback");
      case Handler::unknown:
        raise_unknown();
    }
    raise_decode_error(fault.encoding, data, fault.start, fault.end, fault.reason);
  }

  // Writes what the handler puts in place of the characters to the sink and returns the
  // byte offset in `text` where encoding resumes, or throws.
  std::size_t on_encode(std::string_view text, const EncodeFault& fault, Sink& sink) const {
    switch (m_handler) {
      case Handler::strict:
        break;
      case Handler::ignore:
        return fault.end;
      case Handler::replace:
        if (!put_ascii(sink, std::string(fault.count, '?'))) {
          break;
        }
        return fault.end;
      case Handler::backslashreplace:
      case Handler::xmlcharrefreplace:
      case Handler::namereplace: {
        std::string replacement;
        for (std::size_t i = fault.begin; i < fault.end;) {
          const Char c = char_at(text, i);
          if (m_handler == Handler::xmlcharrefreplace) {
            replacement += fmt::format("&#{};", static_cast<std::uint32_t>(c.code_point));
          } else if (m_handler == Handler::backslashreplace || c.escaped) {
            // namereplace falls back to the escape for characters without a name, as the
            // surrogates are.
            replacement += escape_char(c.code_point);
          } else {
            throw NotImplementedError(
                "the namereplace error handler needs the Unicode character names, which "
                "batteries does not carry");
          }
          i += c.length;
        }
        if (!put_ascii(sink, replacement)) {
          break;
        }
        return fault.end;
      }
      case Handler::surrogateescape:
        return escape_bytes(text, fault, sink);
      case Handler::surrogatepass: {
        const SurrogateForm form = surrogate_form(fault.encoding);
        if (form.width == 0) {
          break;
        }
        for (std::size_t i = fault.begin; i < fault.end; ++i) {
          if (!char_at(text, i).escaped) {
            raise_encode_error(text, fault);
          }
        }
        for (std::size_t i = fault.begin; i < fault.end; ++i) {
          const char32_t cp = 0xDC00 + static_cast<Byte>(text[i]);
          if (form.utf8) {
            append_utf8_surrogate(sink.out, cp);
          } else {
            for (std::size_t k = 0; k < form.width; ++k) {
              const std::size_t shift = 8 * (form.little_endian ? k : form.width - 1 - k);
              sink.out += static_cast<char>((cp >> shift) & 0xFF);
            }
          }
        }
        return fault.end;
      }
      case Handler::unknown:
        raise_unknown();
    }
    raise_encode_error(text, fault);
  }

  // Raises the error surrogatepass held back, if any: call after decoding.
  void raise_held() const {
    if (m_held) {
      throw *m_held;
    }
  }

 private:
  [[noreturn]] void raise_unknown() const {
    throw LookupError(fmt::format("unknown error handler name '{}'", m_name));
  }

  static void append_utf8_surrogate(std::string& out, char32_t cp) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }

  // surrogateescape on encode: the escaped bytes go out as they are.
  static std::size_t escape_bytes(std::string_view text, const EncodeFault& fault, Sink& sink) {
    if (fault.escape_leading) {
      std::size_t position = fault.position;
      for (std::size_t i = fault.begin; i < fault.end; ++i, ++position) {
        if (!char_at(text, i).escaped) {
          const std::size_t skipped = position - fault.position;
          raise_encode_error(
              text, {fault.encoding, fault.reason, i, fault.end, position, fault.count - skipped});
        }
        sink.out += text[i];
      }
      return fault.end;
    }
    for (std::size_t i = fault.begin; i < fault.end; ++i) {
      if (!char_at(text, i).escaped) {
        raise_encode_error(text, fault);
      }
    }
    // CPython's UTF-16 and UTF-32 encoders take bytes from a handler only in whole code units.
    if (fault.count % unit_width(sink.target) != 0) {
      raise_encode_error(text, fault);
    }
    sink.out.append(text.substr(fault.begin, fault.end - fault.begin));
    return fault.end;
  }

  std::string_view m_name;
  Handler m_handler;
  mutable std::optional<UnicodeDecodeError> m_held;
};

// ---------------------------------------------------------------------------------------------
// iconv.

// One iconv conversion descriptor, owned.
class Iconv {
 public:
  Iconv(const char* to, const char* from) : m_cd(::iconv_open(to, from)) {}
  ~Iconv() {
    if (valid()) {
      ::iconv_close(m_cd);
    }
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;

  [[nodiscard]] bool valid() const noexcept {
    // iconv_open's failure value is (iconv_t)-1.
    return m_cd != reinterpret_cast<iconv_t>(  // NOLINT(performance-no-int-to-ptr)
                       static_cast<std::intptr_t>(-1));
  }

  // Converts from `in` on, appending to `out`, until the input is used up (returns 0) or
  // iconv stops at bytes it cannot convert (returns EILSEQ, or EINVAL for an incomplete
  // sequence at the end); `in` and `left` then say where.
  int convert(const char*& in, std::size_t& left, std::string& out) {
    if (left == 0) {
      return 0;
    }
    char* in_ptr = const_cast<char*>(in);
    const int error = run(&in_ptr, &left, out);
    in = in_ptr;
    return error;
  }

  // Writes the sequence that returns a stateful encoding to its initial shift state.
  void finish(std::string& out) { run(nullptr, nullptr, out); }

  void reset() noexcept { ::iconv(m_cd, nullptr, nullptr, nullptr, nullptr); }

 private:
  // One iconv() call, repeated with more room while the output does not fit.
  int run(char** in, std::size_t* left, std::string& out) {
    std::size_t used = out.size();
    for (;;) {
      const std::size_t room = std::max<std::size_t>(64, left == nullptr ? 0 : *left * 2);
      out.resize(used + room);
      char* out_ptr = out.data() + used;
      std::size_t out_left = room;
      const std::size_t rc = ::iconv(m_cd, in, left, &out_ptr, &out_left);
      const int error = rc == static_cast<std::size_t>(-1) ? errno : 0;
      used = static_cast<std::size_t>(out_ptr - out.data());
      out.resize(used);
      if (error != E2BIG) {
        return error;
      }
    }
  }

  iconv_t m_cd;
};

bool put_ascii(Sink& sink, std::string_view ascii) {
  switch (sink.target) {
    case Target::bytes:
      sink.out += ascii;
      return true;
    case Target::converter: {
      const char* in = ascii.data();
      std::size_t left = ascii.size();
      return sink.converter->convert(in, left, sink.out) == 0;
    }
    default:
      break;
  }
  const std::size_t width = unit_width(sink.target);
  const bool little = sink.target == Target::utf16_le || sink.target == Target::utf32_le;
  for (const char c : ascii) {
    for (std::size_t k = 0; k < width; ++k) {
      const bool low_byte = little ? k == 0 : k == width - 1;
      sink.out += low_byte ? c : '\0';
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The codec table: Python's codecs by module name, and Python's aliases for them.

enum class Kind : std::uint8_t {
  utf8,
  utf8_sig,
  ascii,
  latin1,
  utf16,
  utf16_le,
  utf16_be,
  utf32,
  utf32_le,
  utf32_be,
  undefined,
  iconv_charmap,    // a single-byte table codec: Python's errors say 'charmap'
  iconv_multibyte,  // a CJK or other multibyte codec: Python's errors name the codec
  not_text,         // base64, zlib, rot13, ...: not for str.encode/bytes.decode
  unsupported,      // a Python codec batteries has no implementation of
};

struct Codec {
  std::string_view module;  // the module in Python's encodings package
  Kind kind;
  std::string_view iconv;    // the C library's name for it
  std::string_view message;  // the codec name in Python's error messages (iconv kinds)
};

// Every text codec of CPython 3.11's encodings package, by module name, sorted. The
// Windows-only mbcs and oem are absent, as they are from Python on Linux.
//
// glibc's tables match Python's byte for byte (all single bytes, all two-byte sequences, the
// whole BMP both ways) for the ISO 8859 family, the Windows code pages but 1255 and 1258, the
// DOS code pages but 856, KOI8-R/U/T, cp949, gb2312 and iso2022_jp. shift_jis matches once
// fix_shift_jis() below restores 0x5C and 0x7E. The others differ in a handful of characters
// (cp1026, cp1140, cp273, cp424, cp856, cp875, mac_cyrillic, mac_roman, tis_620, gb18030,
// gbk, euc_jis_2004, euc_jisx0213, shift_jis_2004, shift_jisx0213, mac_iceland; cp1255 and
// cp1258, where glibc also encodes by decomposing, and cp1258 composes combining marks when
// decoding) or in more (big5, cp950, cp932, euc_jp, euc_kr, johab, iso2022_jp_2/3,
// iso2022_kr, and utf_7, which glibc writes with more base64 and reads controls differently).
constexpr Codec k_codecs[] = {
    {"ascii", Kind::ascii, "", ""},
    {"base64_codec", Kind::not_text, "", ""},
    {"big5", Kind::iconv_multibyte, "BIG5", "big5"},
    {"big5hkscs", Kind::iconv_multibyte, "BIG5-HKSCS", "big5hkscs"},
    {"bz2_codec", Kind::not_text, "", ""},
    {"charmap", Kind::latin1, "", ""},
    {"cp037", Kind::iconv_charmap, "IBM037", "charmap"},
    {"cp1006", Kind::unsupported, "", ""},
    {"cp1026", Kind::iconv_charmap, "IBM1026", "charmap"},
    {"cp1125", Kind::iconv_charmap, "CP1125", "charmap"},
    {"cp1140", Kind::iconv_charmap, "IBM1140", "charmap"},
    {"cp1250", Kind::iconv_charmap, "CP1250", "charmap"},
    {"cp1251", Kind::iconv_charmap, "CP1251", "charmap"},
    {"cp1252", Kind::iconv_charmap, "CP1252", "charmap"},
    {"cp1253", Kind::iconv_charmap, "CP1253", "charmap"},
    {"cp1254", Kind::iconv_charmap, "CP1254", "charmap"},
    {"cp1255", Kind::iconv_charmap, "CP1255", "charmap"},
    {"cp1256", Kind::iconv_charmap, "CP1256", "charmap"},
    {"cp1257", Kind::iconv_charmap, "CP1257", "charmap"},
    {"cp1258", Kind::iconv_charmap, "CP1258", "charmap"},
    {"cp273", Kind::iconv_charmap, "IBM273", "charmap"},
    {"cp424", Kind::iconv_charmap, "IBM424", "charmap"},
    {"cp437", Kind::iconv_charmap, "IBM437", "charmap"},
    {"cp500", Kind::iconv_charmap, "IBM500", "charmap"},
    {"cp720", Kind::unsupported, "", ""},
    {"cp737", Kind::iconv_charmap, "CP737", "charmap"},
    {"cp775", Kind::iconv_charmap, "CP775", "charmap"},
    {"cp850", Kind::iconv_charmap, "IBM850", "charmap"},
    {"cp852", Kind::iconv_charmap, "IBM852", "charmap"},
    {"cp855", Kind::iconv_charmap, "IBM855", "charmap"},
    {"cp856", Kind::iconv_charmap, "IBM856", "charmap"},
    {"cp857", Kind::iconv_charmap, "IBM857", "charmap"},
    {"cp858", Kind::iconv_charmap, "IBM858", "charmap"},
    {"cp860", Kind::iconv_charmap, "IBM860", "charmap"},
    {"cp861", Kind::iconv_charmap, "IBM861", "charmap"},
    {"cp862", Kind::iconv_charmap, "IBM862", "charmap"},
    {"cp863", Kind::iconv_charmap, "IBM863", "charmap"},
    {"cp864", Kind::iconv_charmap, "IBM864", "charmap"},
    {"cp865", Kind::iconv_charmap, "IBM865", "charmap"},
    {"cp866", Kind::iconv_charmap, "IBM866", "charmap"},
    {"cp869", Kind::iconv_charmap, "IBM869", "charmap"},
    {"cp874", Kind::iconv_charmap, "CP874", "charmap"},
    {"cp875", Kind::iconv_charmap, "IBM875", "charmap"},
    {"cp932", Kind::iconv_multibyte, "CP932", "cp932"},
    {"cp949", Kind::iconv_multibyte, "CP949", "cp949"},
    {"cp950", Kind::iconv_multibyte, "CP950", "cp950"},
    {"euc_jis_2004", Kind::iconv_multibyte, "EUC-JISX0213", "euc_jis_2004"},
    {"euc_jisx0213", Kind::iconv_multibyte, "EUC-JISX0213", "euc_jisx0213"},
    {"euc_jp", Kind::iconv_multibyte, "EUC-JP", "euc_jp"},
    {"euc_kr", Kind::iconv_multibyte, "EUC-KR", "euc_kr"},
    {"gb18030", Kind::iconv_multibyte, "GB18030", "gb18030"},
    {"gb2312", Kind::iconv_multibyte, "EUC-CN", "gb2312"},
    {"gbk", Kind::iconv_multibyte, "GBK", "gbk"},
    {"hex_codec", Kind::not_text, "", ""},
    {"hp_roman8", Kind::iconv_charmap, "HP-ROMAN8", "charmap"},
    {"hz", Kind::unsupported, "", ""},
    {"idna", Kind::unsupported, "", ""},
    {"iso2022_jp", Kind::iconv_multibyte, "ISO-2022-JP", "iso2022_jp"},
    {"iso2022_jp_1", Kind::unsupported, "", ""},
    {"iso2022_jp_2", Kind::iconv_multibyte, "ISO-2022-JP-2", "iso2022_jp_2"},
    {"iso2022_jp_2004", Kind::unsupported, "", ""},
    {"iso2022_jp_3", Kind::iconv_multibyte, "ISO-2022-JP-3", "iso2022_jp_3"},
    {"iso2022_jp_ext", Kind::unsupported, "", ""},
    {"iso2022_kr", Kind::iconv_multibyte, "ISO-2022-KR", "iso2022_kr"},
    {"iso8859_10", Kind::iconv_charmap, "ISO-8859-10", "charmap"},
    {"iso8859_11", Kind::iconv_charmap, "ISO-8859-11", "charmap"},
    {"iso8859_13", Kind::iconv_charmap, "ISO-8859-13", "charmap"},
    {"iso8859_14", Kind::iconv_charmap, "ISO-8859-14", "charmap"},
    {"iso8859_15", Kind::iconv_charmap, "ISO-8859-15", "charmap"},
    {"iso8859_16", Kind::iconv_charmap, "ISO-8859-16", "charmap"},
    {"iso8859_2", Kind::iconv_charmap, "ISO-8859-2", "charmap"},
    {"iso8859_3", Kind::iconv_charmap, "ISO-8859-3", "charmap"},
    {"iso8859_4", Kind::iconv_charmap, "ISO-8859-4", "charmap"},
    {"iso8859_5", Kind::iconv_charmap, "ISO-8859-5", "charmap"},
    {"iso8859_6", Kind::iconv_charmap, "ISO-8859-6", "charmap"},
    {"iso8859_7", Kind::iconv_charmap, "ISO-8859-7", "charmap"},
    {"iso8859_8", Kind::iconv_charmap, "ISO-8859-8", "charmap"},
    {"iso8859_9", Kind::iconv_charmap, "ISO-8859-9", "charmap"},
    {"johab", Kind::iconv_multibyte, "JOHAB", "johab"},
    {"koi8_r", Kind::iconv_charmap, "KOI8-R", "charmap"},
    {"koi8_t", Kind::iconv_charmap, "KOI8-T", "charmap"},
    {"koi8_u", Kind::iconv_charmap, "KOI8-U", "charmap"},
    {"kz1048", Kind::iconv_charmap, "RK1048", "charmap"},
    {"latin_1", Kind::latin1, "", ""},
    {"mac_arabic", Kind::unsupported, "", ""},
    {"mac_croatian", Kind::unsupported, "", ""},
    {"mac_cyrillic", Kind::iconv_charmap, "MAC-CYRILLIC", "charmap"},
    {"mac_farsi", Kind::unsupported, "", ""},
    {"mac_greek", Kind::unsupported, "", ""},
    {"mac_iceland", Kind::iconv_charmap, "MAC-IS", "charmap"},
    {"mac_latin2", Kind::iconv_charmap, "MAC-CENTRALEUROPE", "charmap"},
    {"mac_roman", Kind::iconv_charmap, "MACINTOSH", "charmap"},
    {"mac_romanian", Kind::unsupported, "", ""},
    {"mac_turkish", Kind::unsupported, "", ""},
    {"palmos", Kind::unsupported, "", ""},
    {"ptcp154", Kind::iconv_charmap, "PT154", "charmap"},
    {"punycode", Kind::unsupported, "", ""},
    {"quopri_codec", Kind::not_text, "", ""},
    {"raw_unicode_escape", Kind::unsupported, "", ""},
    {"rot_13", Kind::not_text, "", ""},
    {"shift_jis", Kind::iconv_multibyte, "SHIFT_JIS", "shift_jis"},
    {"shift_jis_2004", Kind::iconv_multibyte, "SHIFT_JISX0213", "shift_jis_2004"},
    {"shift_jisx0213", Kind::iconv_multibyte, "SHIFT_JISX0213", "shift_jisx0213"},
    {"tis_620", Kind::iconv_charmap, "TIS-620", "charmap"},
    {"undefined", Kind::undefined, "", ""},
    {"unicode_escape", Kind::unsupported, "", ""},
    {"utf_16", Kind::utf16, "", ""},
    {"utf_16_be", Kind::utf16_be, "", ""},
    {"utf_16_le", Kind::utf16_le, "", ""},
    {"utf_32", Kind::utf32, "", ""},
    {"utf_32_be", Kind::utf32_be, "", ""},
    {"utf_32_le", Kind::utf32_le, "", ""},
    {"utf_7", Kind::iconv_multibyte, "UTF-7", "utf7"},
    {"utf_8", Kind::utf8, "", ""},
    {"utf_8_sig", Kind::utf8_sig, "", ""},
    {"uu_codec", Kind::not_text, "", ""},
    {"zlib_codec", Kind::not_text, "", ""},
};

// encodings.aliases.aliases, sorted, less the aliases Python itself can never reach.
constexpr std::pair<std::string_view, std::string_view> k_aliases[] = {
    {"037", "cp037"},
    {"1026", "cp1026"},
    {"1125", "cp1125"},
    {"1140", "cp1140"},
    {"1250", "cp1250"},
    {"1251", "cp1251"},
    {"1252", "cp1252"},
    {"1253", "cp1253"},
    {"1254", "cp1254"},
    {"1255", "cp1255"},
    {"1256", "cp1256"},
    {"1257", "cp1257"},
    {"1258", "cp1258"},
    {"273", "cp273"},
    {"424", "cp424"},
    {"437", "cp437"},
    {"500", "cp500"},
    {"646", "ascii"},
    {"775", "cp775"},
    {"850", "cp850"},
    {"852", "cp852"},
    {"855", "cp855"},
    {"857", "cp857"},
    {"858", "cp858"},
    {"860", "cp860"},
    {"861", "cp861"},
    {"862", "cp862"},
    {"863", "cp863"},
    {"864", "cp864"},
    {"865", "cp865"},
    {"866", "cp866"},
    {"869", "cp869"},
    {"8859", "latin_1"},
    {"932", "cp932"},
    {"936", "gbk"},
    {"949", "cp949"},
    {"950", "cp950"},
    {"ansi_x3.4_1968", "ascii"},
    {"ansi_x3.4_1986", "ascii"},
    {"ansi_x3_4_1968", "ascii"},
    {"arabic", "iso8859_6"},
    {"asmo_708", "iso8859_6"},
    {"base64", "base64_codec"},
    {"base_64", "base64_codec"},
    {"big5_hkscs", "big5hkscs"},
    {"big5_tw", "big5"},
    {"bz2", "bz2_codec"},
    {"chinese", "gb2312"},
    {"cp1051", "hp_roman8"},
    {"cp1361", "johab"},
    {"cp154", "ptcp154"},
    {"cp367", "ascii"},
    {"cp65001", "utf_8"},
    {"cp819", "latin_1"},
    {"cp866u", "cp1125"},
    {"cp936", "gbk"},
    {"cp_gr", "cp869"},
    {"cp_is", "cp861"},
    {"csascii", "ascii"},
    {"csbig5", "big5"},
    {"csibm037", "cp037"},
    {"csibm1026", "cp1026"},
    {"csibm273", "cp273"},
    {"csibm424", "cp424"},
    {"csibm500", "cp500"},
    {"csibm855", "cp855"},
    {"csibm857", "cp857"},
    {"csibm858", "cp858"},
    {"csibm860", "cp860"},
    {"csibm861", "cp861"},
    {"csibm863", "cp863"},
    {"csibm864", "cp864"},
    {"csibm865", "cp865"},
    {"csibm866", "cp866"},
    {"csibm869", "cp869"},
    {"csiso2022jp", "iso2022_jp"},
    {"csiso2022kr", "iso2022_kr"},
    {"csiso58gb231280", "gb2312"},
    {"csisolatin1", "latin_1"},
    {"csisolatin2", "iso8859_2"},
    {"csisolatin3", "iso8859_3"},
    {"csisolatin4", "iso8859_4"},
    {"csisolatin5", "iso8859_9"},
    {"csisolatin6", "iso8859_10"},
    {"csisolatinarabic", "iso8859_6"},
    {"csisolatincyrillic", "iso8859_5"},
    {"csisolatingreek", "iso8859_7"},
    {"csisolatinhebrew", "iso8859_8"},
    {"cskoi8r", "koi8_r"},
    {"cspc775baltic", "cp775"},
    {"cspc850multilingual", "cp850"},
    {"cspc862latinhebrew", "cp862"},
    {"cspc8codepage437", "cp437"},
    {"cspcp852", "cp852"},
    {"csptcp154", "ptcp154"},
    {"csshiftjis", "shift_jis"},
    {"cyrillic", "iso8859_5"},
    {"cyrillic_asian", "ptcp154"},
    {"ebcdic_cp_be", "cp500"},
    {"ebcdic_cp_ca", "cp037"},
    {"ebcdic_cp_ch", "cp500"},
    {"ebcdic_cp_he", "cp424"},
    {"ebcdic_cp_nl", "cp037"},
    {"ebcdic_cp_us", "cp037"},
    {"ebcdic_cp_wt", "cp037"},
    {"ecma_114", "iso8859_6"},
    {"ecma_118", "iso8859_7"},
    {"elot_928", "iso8859_7"},
    {"euc_cn", "gb2312"},
    {"euc_jis2004", "euc_jis_2004"},
    {"euccn", "gb2312"},
    {"eucgb2312_cn", "gb2312"},
    {"eucjis2004", "euc_jis_2004"},
    {"eucjisx0213", "euc_jisx0213"},
    {"eucjp", "euc_jp"},
    {"euckr", "euc_kr"},
    {"gb18030_2000", "gb18030"},
    {"gb2312_1980", "gb2312"},
    {"gb2312_80", "gb2312"},
    {"greek", "iso8859_7"},
    {"greek8", "iso8859_7"},
    {"hebrew", "iso8859_8"},
    {"hex", "hex_codec"},
    {"hkscs", "big5hkscs"},
    {"hz_gb", "hz"},
    {"hz_gb_2312", "hz"},
    {"hzgb", "hz"},
    {"ibm037", "cp037"},
    {"ibm039", "cp037"},
    {"ibm1026", "cp1026"},
    {"ibm1051", "hp_roman8"},
    {"ibm1125", "cp1125"},
    {"ibm1140", "cp1140"},
    {"ibm273", "cp273"},
    {"ibm367", "ascii"},
    {"ibm424", "cp424"},
    {"ibm437", "cp437"},
    {"ibm500", "cp500"},
    {"ibm775", "cp775"},
    {"ibm819", "latin_1"},
    {"ibm850", "cp850"},
    {"ibm852", "cp852"},
    {"ibm855", "cp855"},
    {"ibm857", "cp857"},
    {"ibm858", "cp858"},
    {"ibm860", "cp860"},
    {"ibm861", "cp861"},
    {"ibm862", "cp862"},
    {"ibm863", "cp863"},
    {"ibm864", "cp864"},
    {"ibm865", "cp865"},
    {"ibm866", "cp866"},
    {"ibm869", "cp869"},
    {"iso2022jp", "iso2022_jp"},
    {"iso2022jp_1", "iso2022_jp_1"},
    {"iso2022jp_2", "iso2022_jp_2"},
    {"iso2022jp_2004", "iso2022_jp_2004"},
    {"iso2022jp_3", "iso2022_jp_3"},
    {"iso2022jp_ext", "iso2022_jp_ext"},
    {"iso2022kr", "iso2022_kr"},
    {"iso646_us", "ascii"},
    {"iso8859", "latin_1"},
    {"iso8859_1", "latin_1"},
    {"iso_2022_jp", "iso2022_jp"},
    {"iso_2022_jp_1", "iso2022_jp_1"},
    {"iso_2022_jp_2", "iso2022_jp_2"},
    {"iso_2022_jp_2004", "iso2022_jp_2004"},
    {"iso_2022_jp_3", "iso2022_jp_3"},
    {"iso_2022_jp_ext", "iso2022_jp_ext"},
    {"iso_2022_kr", "iso2022_kr"},
    {"iso_646.irv_1991", "ascii"},
    {"iso_8859_1", "latin_1"},
    {"iso_8859_10", "iso8859_10"},
    {"iso_8859_10_1992", "iso8859_10"},
    {"iso_8859_11", "iso8859_11"},
    {"iso_8859_11_2001", "iso8859_11"},
    {"iso_8859_13", "iso8859_13"},
    {"iso_8859_14", "iso8859_14"},
    {"iso_8859_14_1998", "iso8859_14"},
    {"iso_8859_15", "iso8859_15"},
    {"iso_8859_16", "iso8859_16"},
    {"iso_8859_16_2001", "iso8859_16"},
    {"iso_8859_1_1987", "latin_1"},
    {"iso_8859_2", "iso8859_2"},
    {"iso_8859_2_1987", "iso8859_2"},
    {"iso_8859_3", "iso8859_3"},
    {"iso_8859_3_1988", "iso8859_3"},
    {"iso_8859_4", "iso8859_4"},
    {"iso_8859_4_1988", "iso8859_4"},
    {"iso_8859_5", "iso8859_5"},
    {"iso_8859_5_1988", "iso8859_5"},
    {"iso_8859_6", "iso8859_6"},
    {"iso_8859_6_1987", "iso8859_6"},
    {"iso_8859_7", "iso8859_7"},
    {"iso_8859_7_1987", "iso8859_7"},
    {"iso_8859_8", "iso8859_8"},
    {"iso_8859_8_1988", "iso8859_8"},
    {"iso_8859_9", "iso8859_9"},
    {"iso_8859_9_1989", "iso8859_9"},
    {"iso_celtic", "iso8859_14"},
    {"iso_ir_100", "latin_1"},
    {"iso_ir_101", "iso8859_2"},
    {"iso_ir_109", "iso8859_3"},
    {"iso_ir_110", "iso8859_4"},
    {"iso_ir_126", "iso8859_7"},
    {"iso_ir_127", "iso8859_6"},
    {"iso_ir_138", "iso8859_8"},
    {"iso_ir_144", "iso8859_5"},
    {"iso_ir_148", "iso8859_9"},
    {"iso_ir_157", "iso8859_10"},
    {"iso_ir_166", "tis_620"},
    {"iso_ir_199", "iso8859_14"},
    {"iso_ir_226", "iso8859_16"},
    {"iso_ir_58", "gb2312"},
    {"iso_ir_6", "ascii"},
    {"jisx0213", "euc_jis_2004"},
    {"korean", "euc_kr"},
    {"ks_c_5601", "euc_kr"},
    {"ks_c_5601_1987", "euc_kr"},
    {"ks_x_1001", "euc_kr"},
    {"ksc5601", "euc_kr"},
    {"ksx1001", "euc_kr"},
    {"kz_1048", "kz1048"},
    {"l1", "latin_1"},
    {"l10", "iso8859_16"},
    {"l2", "iso8859_2"},
    {"l3", "iso8859_3"},
    {"l4", "iso8859_4"},
    {"l5", "iso8859_9"},
    {"l6", "iso8859_10"},
    {"l7", "iso8859_13"},
    {"l8", "iso8859_14"},
    {"l9", "iso8859_15"},
    {"latin", "latin_1"},
    {"latin1", "latin_1"},
    {"latin10", "iso8859_16"},
    {"latin2", "iso8859_2"},
    {"latin3", "iso8859_3"},
    {"latin4", "iso8859_4"},
    {"latin5", "iso8859_9"},
    {"latin6", "iso8859_10"},
    {"latin7", "iso8859_13"},
    {"latin8", "iso8859_14"},
    {"latin9", "iso8859_15"},
    {"mac_centeuro", "mac_latin2"},
    {"maccentraleurope", "mac_latin2"},
    {"maccyrillic", "mac_cyrillic"},
    {"macgreek", "mac_greek"},
    {"maciceland", "mac_iceland"},
    {"macintosh", "mac_roman"},
    {"maclatin2", "mac_latin2"},
    {"macroman", "mac_roman"},
    {"macturkish", "mac_turkish"},
    {"ms1361", "johab"},
    {"ms932", "cp932"},
    {"ms936", "gbk"},
    {"ms949", "cp949"},
    {"ms950", "cp950"},
    {"ms_kanji", "cp932"},
    {"mskanji", "cp932"},
    {"pt154", "ptcp154"},
    {"quopri", "quopri_codec"},
    {"quoted_printable", "quopri_codec"},
    {"quotedprintable", "quopri_codec"},
    {"r8", "hp_roman8"},
    {"rk1048", "kz1048"},
    {"roman8", "hp_roman8"},
    {"rot13", "rot_13"},
    {"ruscii", "cp1125"},
    {"s_jis", "shift_jis"},
    {"s_jis_2004", "shift_jis_2004"},
    {"s_jisx0213", "shift_jisx0213"},
    {"shiftjis", "shift_jis"},
    {"shiftjis2004", "shift_jis_2004"},
    {"shiftjisx0213", "shift_jisx0213"},
    {"sjis", "shift_jis"},
    {"sjis_2004", "shift_jis_2004"},
    {"sjisx0213", "shift_jisx0213"},
    {"strk1048_2002", "kz1048"},
    {"thai", "iso8859_11"},
    {"tis620", "tis_620"},
    {"tis_620_0", "tis_620"},
    {"tis_620_2529_0", "tis_620"},
    {"tis_620_2529_1", "tis_620"},
    {"u16", "utf_16"},
    {"u32", "utf_32"},
    {"u7", "utf_7"},
    {"u8", "utf_8"},
    {"u_jis", "euc_jp"},
    {"uhc", "cp949"},
    {"ujis", "euc_jp"},
    {"unicode_1_1_utf_7", "utf_7"},
    {"unicodebigunmarked", "utf_16_be"},
    {"unicodelittleunmarked", "utf_16_le"},
    {"us", "ascii"},
    {"us_ascii", "ascii"},
    {"utf", "utf_8"},
    {"utf16", "utf_16"},
    {"utf32", "utf_32"},
    {"utf7", "utf_7"},
    {"utf8", "utf_8"},
    {"utf8_ucs2", "utf_8"},
    {"utf8_ucs4", "utf_8"},
    {"utf_16be", "utf_16_be"},
    {"utf_16le", "utf_16_le"},
    {"utf_32be", "utf_32_be"},
    {"utf_32le", "utf_32_le"},
    {"uu", "uu_codec"},
    {"windows_1250", "cp1250"},
    {"windows_1251", "cp1251"},
    {"windows_1252", "cp1252"},
    {"windows_1253", "cp1253"},
    {"windows_1254", "cp1254"},
    {"windows_1255", "cp1255"},
    {"windows_1256", "cp1256"},
    {"windows_1257", "cp1257"},
    {"windows_1258", "cp1258"},
    {"x_mac_japanese", "shift_jis"},
    {"x_mac_korean", "euc_kr"},
    {"x_mac_simp_chinese", "gb2312"},
    {"x_mac_trad_chinese", "big5"},
    {"zip", "zlib_codec"},
    {"zlib", "zlib_codec"},
};

// CPython's _Py_normalize_encoding: ASCII letters lowered, digits and '.' kept, any other
// run of bytes becomes one '_' between kept characters.
std::string normalize_encoding(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool punct = false;
  for (const char c : name) {
    const auto b = static_cast<Byte>(c);
    const bool alnum = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    if (alnum || c == '.') {
      if (punct && !out.empty()) {
        out += '_';
      }
      out += static_cast<char>(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
      punct = false;
    } else {
      punct = true;
    }
  }
  return out;
}

const Codec* find_module(std::string_view module) noexcept {
  const auto* it =
      std::lower_bound(std::begin(k_codecs), std::end(k_codecs), module,
                       [](const Codec& entry, std::string_view key) { return entry.module < key; });
  return it != std::end(k_codecs) && it->module == module ? it : nullptr;
}

std::optional<std::string_view> find_alias(std::string_view alias) noexcept {
  const auto* it =
      std::lower_bound(std::begin(k_aliases), std::end(k_aliases), alias,
                       [](const auto& entry, std::string_view key) { return entry.first < key; });
  if (it != std::end(k_aliases) && it->first == alias) {
    return it->second;
  }
  return std::nullopt;
}

[[noreturn]] void raise_unsupported(std::string_view encoding, const Codec& codec) {
  throw LookupError(
      fmt::format("unknown encoding: {} (batteries has no implementation of Python's '{}' codec)",
                  encoding, codec.module));
}

// Python's codecs.lookup() as encodings.search_function does it: the alias of the normalised
// name (or of the name with '.' as '_'), else the module of that name. Like Python's
// str.encode and bytes.decode, refuses the codecs that are not text encodings.
const Codec& lookup(std::string_view encoding, const std::string& name, std::string_view use) {
  std::optional<std::string_view> alias = find_alias(name);
  if (!alias) {
    std::string dotless = name;
    std::replace(dotless.begin(), dotless.end(), '.', '_');
    alias = find_alias(dotless);
  }
  const std::array<std::string_view, 2> candidates{alias.value_or(std::string_view{}), name};
  for (const std::string_view module : candidates) {
    if (module.empty() || module.find('.') != std::string_view::npos) {
      continue;
    }
    const Codec* codec = find_module(module);
    if (codec == nullptr) {
      continue;
    }
    if (codec->kind == Kind::not_text) {
      throw LookupError(fmt::format(
          "'{}' is not a text encoding; use {} to handle arbitrary codecs", encoding, use));
    }
    if (codec->kind == Kind::unsupported) {
      raise_unsupported(encoding, *codec);
    }
    return *codec;
  }
  throw LookupError(fmt::format("unknown encoding: {}", encoding));
}

// Whether CPython's str.encode/bytes.decode take the name straight to a built-in codec;
// for any other name the codec runs through the registry, which wraps simple exceptions.
bool is_fast_path(std::string_view name) noexcept {
  if (name.substr(0, 3) == "utf") {
    std::string_view rest = name.substr(3);
    if (!rest.empty() && rest[0] == '_') {
      rest.remove_prefix(1);
    }
    return rest == "8" || rest == "16" || rest == "32";
  }
  return name == "ascii" || name == "us_ascii" || name == "latin1" || name == "latin_1" ||
         name == "iso_8859_1" || name == "iso8859_1";
}

// Runs a codec. CPython's registry re-raises a simple exception from inside a codec (an
// unknown error handler's LookupError, the undefined codec's UnicodeError, ...) as the same
// type with "decoding with 'NAME' codec failed (Type: message)"; the Unicode*Errors, whose
// constructors take more than a message, pass through as they are.
template <class Function>
std::string run_codec(bool registry, std::string_view operation, std::string_view encoding,
                      const Function& function) {
  if (!registry) {
    return function();
  }
  const auto wrapped = [&](const BaseException& e) {
    return fmt::format("{} with '{}' codec failed ({}: {})", operation, encoding, e.type_name(),
                       e.what());
  };
  try {
    return function();
  } catch (const UnicodeDecodeError&) {
    throw;
  } catch (const UnicodeEncodeError&) {
    throw;
  } catch (const UnicodeError& e) {
    throw UnicodeError(wrapped(e));
  } catch (const LookupError& e) {
    throw LookupError(wrapped(e));
  } catch (const TypeError& e) {
    throw TypeError(wrapped(e));
  }
}

void check_argument(std::string_view argument) {
  if (argument.find('\0') != std::string_view::npos) {
    throw ValueError("embedded null character");
  }
}

// ---------------------------------------------------------------------------------------------
// Decoders.

std::string decode_utf8(std::string_view data, const ErrorPolicy& errors) {
  // Escaped bytes are the bytes themselves, and the ranges Python escapes never join into
  // a valid sequence, so surrogateescape keeps the data as it is.
  if (errors.handler() == Handler::surrogateescape) {
    return std::string(data);
  }
  const Byte* p = bytes_of(data);
  const std::size_t n = data.size();
  std::string out;
  std::size_t copied = 0;  // data[0, copied) has been dealt with in `out`
  std::size_t i = valid_utf8_end(data, 0);
  if (i == n) {
    return std::string(data);
  }
  out.reserve(n + 16);
  while (i < n) {
    out.append(data.substr(copied, i - copied));
    const Utf8Scan scan = scan_utf8(p + i, p + n);
    copied = errors.on_decode(data, {"utf-8", scan.reason, i, i + scan.length}, out);
    i = valid_utf8_end(data, copied);
  }
  out.append(data.substr(copied));
  return out;
}

std::string decode_ascii(std::string_view data, const ErrorPolicy& errors) {
  std::size_t i = first_non_ascii(data, 0);
  if (i == data.size()) {
    return std::string(data);
  }
  std::string out;
  out.reserve(data.size() + 16);
  std::size_t copied = 0;
  while (i < data.size()) {
    out.append(data.substr(copied, i - copied));
    copied = errors.on_decode(data, {"ascii", "ordinal not in range(128)", i, i + 1}, out);
    i = first_non_ascii(data, copied);
  }
  out.append(data.substr(copied));
  return out;
}

std::string decode_latin1(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 4);
  std::size_t i = 0;
  while (i < data.size()) {
    const std::size_t ascii_end = first_non_ascii(data, i);
    out.append(data.substr(i, ascii_end - i));
    for (i = ascii_end; i < data.size() && static_cast<Byte>(data[i]) >= 0x80; ++i) {
      append_utf8(out, static_cast<Byte>(data[i]));
    }
  }
  return out;
}

enum class Order : std::uint8_t { little, big };

// Reads a `width`-byte code unit in the given byte order.
std::uint32_t read_unit(const Byte* p, std::size_t width, Order order) noexcept {
  std::uint32_t value = 0;
  for (std::size_t k = 0; k < width; ++k) {
    value = (value << 8) | p[order == Order::little ? width - 1 - k : k];
  }
  return value;
}

std::string decode_utf16(std::string_view data, Order order, bool detect_bom,
                         const ErrorPolicy& errors) {
  const Byte* p = bytes_of(data);
  const std::size_t n = data.size();
  std::size_t i = 0;
  if (detect_bom && n >= 2) {
    if (p[0] == 0xFF && p[1] == 0xFE) {
      order = Order::little, i = 2;
    } else if (p[0] == 0xFE && p[1] == 0xFF) {
      order = Order::big, i = 2;
    }
  }
  const std::string_view name = order == Order::little ? "utf-16-le" : "utf-16-be";
  std::string out;
  out.reserve(n);
  while (i < n) {
    if (n - i < 2) {
      i = errors.on_decode(data, {name, "truncated data", i, n}, out);
      continue;
    }
    const std::uint32_t unit = read_unit(p + i, 2, order);
    if (unit < 0xD800 || unit > 0xDFFF) {
      append_utf8(out, unit);
      i += 2;
    } else if (unit >= 0xDC00) {
      i = errors.on_decode(data, {name, "illegal encoding", i, i + 2}, out);
    } else if (n - i < 4) {
      i = errors.on_decode(data, {name, "unexpected end of data", i, n}, out);
    } else {
      const std::uint32_t low = read_unit(p + i + 2, 2, order);
      if (low < 0xDC00 || low > 0xDFFF) {
        i = errors.on_decode(data, {name, "illegal UTF-16 surrogate", i, i + 2}, out);
      } else {
        append_utf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
        i += 4;
      }
    }
  }
  return out;
}

std::string decode_utf32(std::string_view data, Order order, bool detect_bom,
                         const ErrorPolicy& errors) {
  const Byte* p = bytes_of(data);
  const std::size_t n = data.size();
  std::size_t i = 0;
  if (detect_bom && n >= 4) {
    const std::uint32_t bom = read_unit(p, 4, Order::little);
    if (bom == 0x0000FEFF) {
      order = Order::little, i = 4;
    } else if (bom == 0xFFFE0000) {
      order = Order::big, i = 4;
    }
  }
  const std::string_view name = order == Order::little ? "utf-32-le" : "utf-32-be";
  std::string out;
  out.reserve(n / 2);
  while (i < n) {
    if (n - i < 4) {
      i = errors.on_decode(data, {name, "truncated data", i, n}, out);
      continue;
    }
    const std::uint32_t cp = read_unit(p + i, 4, order);
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      i = errors.on_decode(
          data, {name, "code point in surrogate code point range(0xd800, 0xe000)", i, i + 4}, out);
    } else if (cp > 0x10FFFF) {
      i = errors.on_decode(data, {name, "code point not in range(0x110000)", i, i + 4}, out);
    } else {
      append_utf8(out, cp);
      i += 4;
    }
  }
  return out;
}

// glibc's SHIFT_JIS reads bytes 0x5C and 0x7E as JIS X 0201 (YEN SIGN, OVERLINE); Python's
// shift_jis reads them as ASCII, and glibc produces those two characters from nothing else.
void fix_shift_jis(std::string& out, std::size_t from) {
  std::size_t write = from;
  for (std::size_t read = from; read < out.size();) {
    if (out.compare(read, 2, "\xC2\xA5") == 0) {
      out[write++] = '\\';
      read += 2;
    } else if (out.compare(read, 3, "\xE2\x80\xBE") == 0) {
      out[write++] = '~';
      read += 3;
    } else {
      out[write++] = out[read++];
    }
  }
  out.resize(write);
}

std::string decode_iconv(std::string_view data, Iconv& converter, const Codec& codec,
                         const ErrorPolicy& errors) {
  const bool charmap = codec.kind == Kind::iconv_charmap;
  const std::string_view illegal =
      charmap ? "character maps to <undefined>" : "illegal multibyte sequence";
  std::string out;
  out.reserve(data.size() + data.size() / 2);
  std::size_t i = 0;
  while (i < data.size()) {
    const char* in = data.data() + i;
    std::size_t left = data.size() - i;
    const std::size_t before = out.size();
    const int error = converter.convert(in, left, out);
    if (codec.module == "shift_jis") {
      fix_shift_jis(out, before);
    }
    i = static_cast<std::size_t>(in - data.data());
    if (error == 0) {
      // Some converters hold back the last character (glibc's CP1255 and CP1258 wait for a
      // combining mark); this hands it over.
      const std::size_t held = out.size();
      converter.finish(out);
      if (codec.module == "shift_jis") {
        fix_shift_jis(out, held);
      }
      break;
    }
    const DecodeFault fault =
        error == EINVAL
            ? DecodeFault{codec.message, "incomplete multibyte sequence", i, data.size()}
            : DecodeFault{codec.message, illegal, i, i + 1};
    i = errors.on_decode(data, fault, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoders.

std::string encode_utf8(std::string_view text, const ErrorPolicy& errors, std::string_view bom) {
  const std::size_t n = text.size();
  std::size_t i = valid_utf8_end(text, 0);
  std::string out;
  out.reserve(bom.size() + n);
  out += bom;
  if (i == n) {
    out += text;
    return out;
  }
  Sink sink{out, Target::bytes};
  std::size_t copied = 0;
  std::size_t position = 0;  // characters in text[0, copied)
  while (i < n) {
    out.append(text.substr(copied, i - copied));
    position += count_valid_chars(text.substr(copied, i - copied));
    std::size_t end = i + 1;  // the run of escaped bytes: the surrogates Python would see
    while (end < n && char_at(text, end).escaped) {
      ++end;
    }
    copied = errors.on_encode(text, {"utf-8", "surrogates not allowed", i, end, position, end - i},
                              sink);
    position += end - i;
    i = valid_utf8_end(text, copied);
  }
  out.append(text.substr(copied));
  return out;
}

// ASCII (limit 128) and Latin-1 (limit 256), as CPython's unicode_encode_ucs1.
std::string encode_ucs1(std::string_view text, const ErrorPolicy& errors, char32_t limit,
                        std::string_view name) {
  const std::string_view reason =
      limit == 128 ? "ordinal not in range(128)" : "ordinal not in range(256)";
  const std::size_t n = text.size();
  std::string out;
  out.reserve(n);
  Sink sink{out, Target::bytes};
  std::size_t i = 0;
  std::size_t position = 0;
  while (i < n) {
    const std::size_t ascii_end = first_non_ascii(text, i);
    out.append(text.substr(i, ascii_end - i));
    position += ascii_end - i;
    i = ascii_end;
    if (i == n) {
      break;
    }
    const Char c = char_at(text, i);
    if (!c.escaped && c.code_point < limit) {
      out += static_cast<char>(c.code_point);
      i += c.length;
      ++position;
      continue;
    }
    std::size_t end = i;
    std::size_t count = 0;
    while (end < n) {
      const Char next = char_at(text, end);
      if (!next.escaped && next.code_point < limit) {
        break;
      }
      end += next.length;
      ++count;
    }
    i = errors.on_encode(text, {name, reason, i, end, position, count, true}, sink);
    position += count;
  }
  return out;
}

void put_unit(std::string& out, std::uint32_t value, std::size_t width, Order order) {
  for (std::size_t k = 0; k < width; ++k) {
    const std::size_t shift = 8 * (order == Order::little ? k : width - 1 - k);
    out += static_cast<char>((value >> shift) & 0xFF);
  }
}

// UTF-16 (width 2) and UTF-32 (width 4); `bom` writes the byte order mark first.
std::string encode_utf16_32(std::string_view text, const ErrorPolicy& errors, std::size_t width,
                            Order order, bool bom, std::string_view name) {
  std::string out;
  out.reserve(width * (text.size() + 1));
  if (bom) {
    put_unit(out, 0xFEFF, width, order);
  }
  const Target target = width == 2 ? (order == Order::little ? Target::utf16_le : Target::utf16_be)
                                   : (order == Order::little ? Target::utf32_le : Target::utf32_be);
  Sink sink{out, target};
  std::size_t position = 0;
  for (std::size_t i = 0; i < text.size(); ++position) {
    const Char c = char_at(text, i);
    if (c.escaped) {
      i = errors.on_encode(text, {name, "surrogates not allowed", i, i + 1, position, 1}, sink);
      continue;
    }
    if (width == 2 && c.code_point >= 0x10000) {
      put_unit(out, 0xD800 + ((c.code_point - 0x10000) >> 10), 2, order);
      put_unit(out, 0xDC00 + ((c.code_point - 0x10000) & 0x3FF), 2, order);
    } else {
      put_unit(out, c.code_point, width, order);
    }
    i += c.length;
  }
  return out;
}

std::string encode_iconv(std::string_view text, Iconv& converter, const Codec& codec,
                         const ErrorPolicy& errors) {
  const bool charmap = codec.kind == Kind::iconv_charmap;
  const std::string_view reason =
      charmap ? "character maps to <undefined>" : "illegal multibyte sequence";
  // Whether a character on its own can be encoded: Python's charmap encoder reports a run
  // of characters it cannot encode as one error.
  std::optional<Iconv> probe;
  std::string scratch;
  auto encodable = [&](std::string_view character) {
    if (!probe) {
      probe.emplace(std::string(codec.iconv).c_str(), "UTF-8");
    }
    probe->reset();
    const char* in = character.data();
    std::size_t left = character.size();
    scratch.clear();
    return probe->convert(in, left, scratch) == 0;
  };

  const std::size_t n = text.size();
  std::string out;
  out.reserve(n);
  Sink sink{out, Target::converter, &converter};
  std::size_t i = 0;
  std::size_t position = 0;
  while (i < n) {
    const std::size_t valid_end = valid_utf8_end(text, i);
    if (valid_end > i) {
      const char* in = text.data() + i;
      std::size_t left = valid_end - i;
      const int error = converter.convert(in, left, out);
      const auto done = static_cast<std::size_t>(in - text.data());
      position += count_valid_chars(text.substr(i, done - i));
      i = done;
      if (error == 0) {
        continue;
      }
    }
    // text[i] begins a character the codec cannot encode (escaped bytes never can be).
    std::size_t end = i + char_at(text, i).length;
    std::size_t count = 1;
    while (charmap && end < n) {
      const Char next = char_at(text, end);
      if (!next.escaped && encodable(text.substr(end, next.length))) {
        break;
      }
      end += next.length;
      ++count;
    }
    i = errors.on_encode(text, {codec.message, reason, i, end, position, count}, sink);
    position += count;
  }
  converter.finish(out);
  return out;
}

constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

}  // namespace

std::string decode(std::string_view data, std::string_view encoding, std::string_view errors) {
  check_argument(encoding);
  check_argument(errors);
  if (data.empty()) {
    return {};  // Python returns '' before it looks the codec up
  }
  const std::string normalized = normalize_encoding(encoding);
  const Codec& codec = lookup(encoding, normalized, "codecs.decode()");
  std::optional<Iconv> converter;
  if (codec.kind == Kind::iconv_charmap || codec.kind == Kind::iconv_multibyte) {
    converter.emplace("UTF-8", std::string(codec.iconv).c_str());
    if (!converter->valid()) {
      raise_unsupported(encoding, codec);
    }
  }
  const ErrorPolicy policy(errors);
  return run_codec(!is_fast_path(normalized), "decoding", encoding, [&]() -> std::string {
    std::string text;
    switch (codec.kind) {
      case Kind::utf8:
        text = decode_utf8(data, policy);
        break;
      case Kind::utf8_sig:
        // The positions in errors count from after the BOM, as Python's utf_8_sig does.
        if (data.substr(0, 3) == k_utf8_bom) {
          data.remove_prefix(3);
        }
        text = decode_utf8(data, policy);
        break;
      case Kind::ascii:
        return decode_ascii(data, policy);
      case Kind::latin1:
        return decode_latin1(data);
      case Kind::utf16:
      case Kind::utf16_le:
        text = decode_utf16(data, Order::little, codec.kind == Kind::utf16, policy);
        break;
      case Kind::utf16_be:
        text = decode_utf16(data, Order::big, false, policy);
        break;
      case Kind::utf32:
      case Kind::utf32_le:
        text = decode_utf32(data, Order::little, codec.kind == Kind::utf32, policy);
        break;
      case Kind::utf32_be:
        text = decode_utf32(data, Order::big, false, policy);
        break;
      case Kind::iconv_charmap:
      case Kind::iconv_multibyte:
        return decode_iconv(data, *converter, codec, policy);
      case Kind::undefined:
      case Kind::not_text:
      case Kind::unsupported:
        throw UnicodeError("undefined encoding");
    }
    policy.raise_held();
    return text;
  });
}

std::string encode(std::string_view text, std::string_view encoding, std::string_view errors) {
  check_argument(encoding);
  check_argument(errors);
  const std::string normalized = normalize_encoding(encoding);
  const Codec& codec = lookup(encoding, normalized, "codecs.encode()");
  std::optional<Iconv> converter;
  if (codec.kind == Kind::iconv_charmap || codec.kind == Kind::iconv_multibyte) {
    converter.emplace(std::string(codec.iconv).c_str(), "UTF-8");
    if (!converter->valid()) {
      raise_unsupported(encoding, codec);
    }
  }
  const ErrorPolicy policy(errors);
  // UTF-16 and UTF-32 with a BOM write the machine's byte order after it, as Python does:
  // little-endian on x86 and ARM.
  constexpr Order native = std::endian::native == std::endian::big ? Order::big : Order::little;
  return run_codec(!is_fast_path(normalized), "encoding", encoding, [&]() -> std::string {
    switch (codec.kind) {
      case Kind::utf8:
        return encode_utf8(text, policy, {});
      case Kind::utf8_sig:
        return encode_utf8(text, policy, k_utf8_bom);
      case Kind::ascii:
        return encode_ucs1(text, policy, 128, "ascii");
      case Kind::latin1:
        return encode_ucs1(text, policy, 256, "latin-1");
      case Kind::utf16:
        return encode_utf16_32(text, policy, 2, native, true, "utf-16");
      case Kind::utf16_le:
        return encode_utf16_32(text, policy, 2, Order::little, false, "utf-16-le");
      case Kind::utf16_be:
        return encode_utf16_32(text, policy, 2, Order::big, false, "utf-16-be");
      case Kind::utf32:
        return encode_utf16_32(text, policy, 4, native, true, "utf-32");
      case Kind::utf32_le:
        return encode_utf16_32(text, policy, 4, Order::little, false, "utf-32-le");
      case Kind::utf32_be:
        return encode_utf16_32(text, policy, 4, Order::big, false, "utf-32-be");
      case Kind::iconv_charmap:
      case Kind::iconv_multibyte:
        return encode_iconv(text, *converter, codec, policy);
      case Kind::undefined:
      case Kind::not_text:
      case Kind::unsupported:
        break;
    }
    throw UnicodeError("undefined encoding");
  });
}

std::size_t char_count(std::string_view text) noexcept {
  const Byte* p = bytes_of(text);
  const std::size_t n = text.size();
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < n) {
    const std::size_t valid_end = valid_utf8_end(text, i);
    count += count_valid_chars(text.substr(i, valid_end - i));
    if (valid_end == n) {
      break;
    }
    // Every byte of an invalid range is one escaped byte, one character.
    const std::size_t invalid = scan_utf8(p + valid_end, p + n).length;
    count += invalid;
    i = valid_end + invalid;
  }
  return count;
}

}  // namespace batteries::pathlib::detail
