// Python's fnmatch rules compiled into a token list and matched by code point.
#include <batteries/pathlib/detail/fnmatch.hpp>

#include <cstddef>

namespace batteries::pathlib::detail {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = p[i];
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
      min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
      min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
      min = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        ok = false;
      } else {
        cp = (cp << 6) | (p[i + k] & 0x3F);
      }
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.push_back(cp);
      i += len;
    } else {
      out.push_back(0xDC00 + b);  // surrogateescape
      ++i;
    }
  }
  return out;
}

Pattern::Pattern(std::string_view text) : m_text(text) {
  const std::u32string pat = decode_utf8(text);
  const std::size_t n = pat.size();
  std::size_t i = 0;
  while (i < n) {
    const char32_t c = pat[i++];
    if (c == U'*') {
      m_literal = false;
      if (m_tokens.empty() || m_tokens.back().kind != Kind::star) m_tokens.push_back({Kind::star});
    } else if (c == U'?') {
      m_literal = false;
      m_tokens.push_back({Kind::any});
    } else if (c == U'[') {
      std::size_t j = i;
      if (j < n && pat[j] == U'!') ++j;
      if (j < n && pat[j] == U']') ++j;
      while (j < n && pat[j] != U']') ++j;
      if (j >= n) {
        m_tokens.push_back({Kind::literal, false, U'['});
        continue;
      }
      m_literal = false;
      const bool negated = pat[i] == U'!';
      add_set(pat.substr(i, j - i), negated);
      i = j + 1;
    } else {
      m_tokens.push_back({Kind::literal, false, c});
    }
  }
  find_shape();
}

void Pattern::find_shape() {
  if (m_literal || m_tokens.size() < 2) return;
  const bool lead = m_tokens.front().kind == Kind::star;
  const bool trail = m_tokens.back().kind == Kind::star;
  const std::size_t first = lead ? 1 : 0;
  const std::size_t last = m_tokens.size() - (trail ? 1 : 0);
  if (first >= last) return;
  std::string affix;
  for (std::size_t t = first; t < last; ++t) {
    if (m_tokens[t].kind != Kind::literal || m_tokens[t].ch >= 0x80) return;
    affix.push_back(static_cast<char>(m_tokens[t].ch));
  }
  m_affix = std::move(affix);
  m_shape = lead && trail ? Shape::contains : lead ? Shape::suffix : Shape::prefix;
}

// The set's text between the brackets, '!' included. Python splits it into chunks at the
// hyphens that make ranges, drops the ranges that run backwards (with their two ends), and
// treats every other character as itself.
void Pattern::add_set(const std::u32string& body, bool negated) {
  std::vector<std::u32string> chunks;
  std::size_t start = 0;
  std::size_t k = negated ? 2 : 1;
  while (true) {
    const std::size_t hyphen = k <= body.size() ? body.find(U'-', k) : std::u32string::npos;
    if (hyphen == std::u32string::npos) break;
    chunks.push_back(body.substr(start, hyphen - start));
    start = hyphen + 1;
    k = hyphen + 3;
  }
  std::u32string rest = body.substr(start);
  if (!rest.empty()) {
    chunks.push_back(std::move(rest));
  } else if (!chunks.empty()) {
    chunks.back().push_back(U'-');
  }
  for (std::size_t c = chunks.size() - 1; c > 0 && !chunks.empty(); --c) {
    if (!chunks[c - 1].empty() && !chunks[c].empty() && chunks[c - 1].back() > chunks[c][0]) {
      chunks[c - 1].pop_back();
      chunks[c - 1].append(chunks[c], 1);
      chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(c));
    }
  }
  if (negated && !chunks.empty() && !chunks[0].empty()) chunks[0].erase(0, 1);  // the '!'
  Token token{Kind::set, negated};
  token.first = static_cast<std::uint32_t>(m_ranges.size());
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const std::u32string& chunk = chunks[c];
    const std::size_t begin = c > 0 ? 1 : 0;                // the end of the range before
    const std::size_t end = c + 1 < chunks.size() ? 1 : 0;  // the start of the range after
    for (std::size_t x = begin; x + end < chunk.size(); ++x)
      m_ranges.emplace_back(chunk[x], chunk[x]);
    if (c > 0 && !chunks[c - 1].empty() && !chunk.empty()) {
      m_ranges.emplace_back(chunks[c - 1].back(), chunk[0]);
    }
  }
  token.last = static_cast<std::uint32_t>(m_ranges.size());
  if (token.first == token.last) {
    // Python: an empty set never matches; a negated empty set matches any character.
    m_tokens.push_back({negated ? Kind::any : Kind::never});
    return;
  }
  m_tokens.push_back(token);
}

bool Pattern::one(const Token& token, char32_t c) const noexcept {
  switch (token.kind) {
    case Kind::literal:
      return token.ch == c;
    case Kind::any:
      return true;
    case Kind::set: {
      bool in = false;
      for (std::uint32_t r = token.first; r < token.last && !in; ++r) {
        in = m_ranges[r].first <= c && c <= m_ranges[r].second;
      }
      return in != token.negated;
    }
    case Kind::never:
    case Kind::star:
      return false;
  }
  return false;
}

bool Pattern::matches(std::string_view name) const {
  // No wildcard: the pattern's own text, and byte equality is code point equality.
  if (m_literal) return name == m_text;
  switch (m_shape) {
    case Shape::suffix:
      return name.ends_with(m_affix);
    case Shape::prefix:
      return name.starts_with(m_affix);
    case Shape::contains:
      return name.find(m_affix) != std::string_view::npos;
    case Shape::general:
      break;
  }
  return matches(decode_utf8(name));
}

// The classic glob matcher: every token but `*` takes exactly one character, so on a
// mismatch it is enough to let the last `*` take one more character and retry.
bool Pattern::matches(std::u32string_view name) const {
  std::size_t t = 0;
  std::size_t s = 0;
  std::size_t star_t = std::u32string_view::npos;
  std::size_t star_s = 0;
  const std::size_t nt = m_tokens.size();
  while (s < name.size()) {
    if (t < nt && m_tokens[t].kind == Kind::star) {
      star_t = t++;
      star_s = s;
    } else if (t < nt && one(m_tokens[t], name[s])) {
      ++t;
      ++s;
    } else if (star_t != std::u32string_view::npos) {
      t = star_t + 1;
      s = ++star_s;
    } else {
      return false;
    }
  }
  while (t < nt && m_tokens[t].kind == Kind::star) ++t;
  return t == nt;
}

}  // namespace batteries::pathlib::detail
