// Text codecs for Path.read_text/write_text: Python 3.11's bytes.decode() and str.encode().
//
// batteries text is a std::string in UTF-8. A byte that is not part of a valid UTF-8 sequence
// stands for the lone surrogate U+DC80..U+DCFF that Python's surrogateescape gives it, so a
// file name decoded with surrogateescape survives the round trip. decode() produces text in
// that form and encode() reads it: encoding such a byte is encoding a surrogate, which is an
// error for every codec unless the error handler says otherwise.
//
// Encoding names are looked up as Python looks them up (case-insensitive, punctuation runs
// equivalent, Python's alias table). UTF-8, UTF-8-sig, ASCII, Latin-1, UTF-16 and UTF-32 are
// implemented here; Python's other character-set codecs go through the C library's iconv,
// whose tables are the C library's (for most codecs the same as Python's; codecs.cpp lists the
// ones that differ). Python codecs with no implementation here (idna, punycode, the
// unicode_escape pair, and the few that glibc lacks: hz, mac_greek, cp720, ...) raise
// LookupError saying so. Error handlers are Python's: strict, ignore, replace,
// backslashreplace, surrogateescape, surrogatepass, xmlcharrefreplace and namereplace, looked
// up only when an error happens; namereplace raises NotImplementedError for a character with
// a Unicode name, as batteries does not carry the name table.
//
// Thread-safety: the functions keep no shared state and may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace batteries::pathlib::detail {

/// bytes in `encoding` -> batteries text (UTF-8): Python's data.decode(encoding, errors).
/// Throws UnicodeDecodeError with Python's message, LookupError for an unknown encoding or
/// error handler, ValueError for a name with an embedded NUL.
[[nodiscard]] std::string decode(std::string_view data, std::string_view encoding,
                                 std::string_view errors);

/// batteries text (UTF-8) -> bytes in `encoding`: Python's text.encode(encoding, errors).
/// Throws UnicodeEncodeError with Python's message (positions counted in characters),
/// LookupError for an unknown encoding or error handler.
[[nodiscard]] std::string encode(std::string_view text, std::string_view encoding,
                                 std::string_view errors);

/// The number of characters (code points) Python's len() gives for the text: one per valid
/// UTF-8 sequence and one per byte that is not part of one.
[[nodiscard]] std::size_t char_count(std::string_view text) noexcept;

/// char_count for text known to be valid UTF-8 (no escaped bytes): the bytes that are not
/// continuation bytes, eight at a time.
[[nodiscard]] std::size_t count_valid_chars(std::string_view text) noexcept;

}  // namespace batteries::pathlib::detail
