// Shell patterns compiled once into a matcher: Python's fnmatch rules, for match() and glob.
//
// Thread-safety: a compiled Pattern is immutable; matching from many threads is safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batteries::pathlib::detail {

/// Decodes UTF-8 into code points. A byte that is not part of valid UTF-8 becomes
/// U+DC80..U+DCFF, as Python's surrogateescape decodes file names.
std::u32string decode_utf8(std::string_view text);

/// Python's fnmatch.fnmatchcase(name, pattern) for one pattern, compiled once: `*` (any run,
/// even empty), `?` (one character), `[seq]` and `[!seq]` with ranges, and everything else
/// literal. A `[` without its `]` is literal, as are `\`, and `^` at the start of a set.
/// Matching is by code point and case-sensitive; callers lower both sides to ignore case.
class Pattern {
 public:
  explicit Pattern(std::string_view pattern);

  [[nodiscard]] bool matches(std::string_view name) const;
  [[nodiscard]] bool matches(std::u32string_view name) const;
  /// True when the pattern has no wildcard: it matches its own text only.
  [[nodiscard]] bool is_literal() const noexcept { return m_literal; }
  /// True for `*` alone, which matches every name.
  [[nodiscard]] bool matches_everything() const noexcept {
    return m_tokens.size() == 1 && m_tokens[0].kind == Kind::star;
  }

 private:
  enum class Kind : std::uint8_t { literal, any, star, set, never };
  struct Token {
    Kind kind;
    bool negated = false;
    char32_t ch = 0;          // literal
    std::uint32_t first = 0;  // set: its ranges in m_ranges[first, last)
    std::uint32_t last = 0;
  };
  // Shapes that match on bytes without decoding: `*lit`, `lit*` and `*lit*` with an ASCII
  // literal (an ASCII byte is one code point and never part of another, so byte and code
  // point matching agree).
  enum class Shape : std::uint8_t { general, suffix, prefix, contains };
  [[nodiscard]] bool one(const Token& token, char32_t c) const noexcept;
  void add_set(const std::u32string& body, bool negated);
  void find_shape();

  std::string m_text;  // the pattern as given
  std::vector<Token> m_tokens;
  std::vector<std::pair<char32_t, char32_t>> m_ranges;
  bool m_literal = true;
  Shape m_shape = Shape::general;
  std::string m_affix;  // the literal of a suffix, prefix or contains shape
};

}  // namespace batteries::pathlib::detail
