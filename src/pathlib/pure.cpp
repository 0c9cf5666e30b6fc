// Pure paths: Python 3.11's parse_parts, splitroot and join rules for both flavours, on one
// canonical string per path.
#include <batteries/pathlib/detail/fnmatch.hpp>
#include <batteries/pathlib/pure.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace batteries::pathlib::detail {

namespace {

struct CodePair {
  char32_t first;
  char32_t second;
};
#include "lower_table.inc"

constexpr char separator(Flavour f) noexcept { return f == Flavour::posix ? '/' : '\\'; }

// ---- Python's str.lower() ----

bool in_ranges(const CodePair* begin, const CodePair* end, char32_t c) noexcept {
  const CodePair* it =
      std::upper_bound(begin, end, c, [](char32_t v, const CodePair& r) { return v < r.first; });
  return it != begin && c <= (it - 1)->second;
}
bool case_ignorable(char32_t c) noexcept {
  return in_ranges(std::begin(kCaseIgnorable), std::end(kCaseIgnorable), c);
}
bool cased(char32_t c) noexcept {
  return in_ranges(std::begin(kCasedOther), std::end(kCasedOther), c);
}

char32_t lower_one(char32_t c) noexcept {
  const CodePair* it = std::lower_bound(std::begin(kLower), std::end(kLower), c,
                                        [](const CodePair& p, char32_t v) { return p.first < v; });
  return it != std::end(kLower) && it->first == c ? it->second : c;
}

void put_utf8(std::string& out, char32_t c) {
  if (c >= 0xDC80 && c <= 0xDCFF) {  // a byte that was not UTF-8: back as it was
    out.push_back(static_cast<char>(c - 0xDC00));
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// U+03A3 lowers to final sigma after a cased letter (case-ignorable ones between) that no
// cased letter follows: CPython's handle_capital_sigma.
char32_t lower_sigma(const std::u32string& s, std::size_t i) noexcept {
  std::size_t j = i;
  char32_t c = 0;
  bool found = false;
  while (j > 0) {
    c = s[--j];
    if (!case_ignorable(c)) {
      found = true;
      break;
    }
  }
  bool final_sigma = found && cased(c);
  if (final_sigma) {
    for (j = i + 1; j < s.size(); ++j) {
      if (!case_ignorable(s[j])) break;
    }
    final_sigma = j == s.size() || !cased(s[j]);
  }
  return final_sigma ? 0x3C2 : 0x3C3;
}

// ---- splitting ----

struct Split {
  std::string drv;       // the drive (for "\\?\" paths not always a prefix of the text)
  std::size_t root = 0;  // the root's length: 0, 1, or 2 for POSIX's "//"
  std::size_t rel = 0;   // the rest of the text starts here
};

// Python's splitroot, on text whose '/' a Windows caller has already turned into '\'.
Split splitroot(Flavour f, std::string_view part) {
  Split out;
  if (f == Flavour::posix) {
    if (!part.empty() && part[0] == '/') {
      const std::size_t stripped = part.find_first_not_of('/');
      const std::size_t slashes = stripped == std::string_view::npos ? part.size() : stripped;
      out.root = slashes == 2 ? 2 : 1;  // "//" is kept, as POSIX allows; more is one
      out.rel = slashes;
    }
    return out;
  }
  constexpr char sep = '\\';
  // Python strips an extended prefix "\\?\" (and "\\?\UNC", the rest then read as
  // "\\server..."), and works on what is left: view[k] is part[off + k] for k >= 1.
  std::size_t prefix = 0;
  std::size_t off = 0;
  std::string unc;
  std::string_view view = part;
  if (part.starts_with("\\\\?\\")) {
    prefix = off = 4;
    view = part.substr(4);
    if (view.starts_with("UNC\\")) {
      prefix = 7;
      off = 6;
      unc = std::string("\\").append(part.substr(7));
      view = unc;
    }
  }
  const char first = !view.empty() ? view[0] : '\0';
  const char second = view.size() > 1 ? view[1] : '\0';
  const char third = view.size() > 2 ? view[2] : '\0';
  if (second == sep && first == sep && third != sep) {
    const std::size_t index = view.find(sep, 2);
    if (index != std::string_view::npos) {
      std::size_t index2 = view.find(sep, index + 1);
      if (index2 != index + 1) {
        if (index2 == std::string_view::npos) index2 = view.size();
        if (prefix > 0) {
          out.drv.assign(part.substr(0, prefix));
          out.drv.append(part.substr(off + 1, index2 - 1));
        } else {
          out.drv.assign(part.substr(0, index2));
        }
        out.root = 1;
        out.rel = std::min(off + index2 + 1, part.size());
        return out;
      }
    }
  }
  out.drv.assign(part.substr(0, prefix));
  std::size_t at = 0;  // in view
  if (second == ':' && ((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) {
    out.drv.append(view.substr(0, 2));
    at = 2;
  }
  if (at < view.size() && view[at] == sep) {
    out.root = 1;
    const std::size_t stripped = view.find_first_not_of(sep, at);
    at = stripped == std::string_view::npos ? view.size() : stripped;
  }
  out.rel = std::min(off + at, part.size());
  return out;
}

// Appends the parts of rel (skipping empty ones and ".") to out, separated by sep.
void append_parts(std::string& out, std::size_t anchor_end, std::string_view rel, char sep) {
  std::size_t i = 0;
  while (i <= rel.size()) {
    std::size_t j = rel.find(sep, i);
    if (j == std::string_view::npos) j = rel.size();
    const std::string_view piece = rel.substr(i, j - i);
    if (!piece.empty() && piece != ".") {
      if (out.size() > anchor_end) out.push_back(sep);
      out.append(piece);
    }
    i = j + 1;
  }
}

// The rel parts of a canonical path, as views.
template <class Fn>
void for_each_rel(const RawPath& path, char sep, Fn&& fn) {
  const std::string_view rel = path.rel();
  if (rel.empty()) return;
  std::size_t i = 0;
  while (true) {
    const std::size_t j = rel.find(sep, i);
    if (j == std::string_view::npos) {
      fn(rel.substr(i));
      return;
    }
    fn(rel.substr(i, j - i));
    i = j + 1;
  }
}

// Python's _cparts: the parts, lowered for Windows.
std::vector<std::string> cparts(Flavour f, const RawPath& path) {
  std::vector<std::string> out = parts(f, path);
  if (f == Flavour::windows) {
    for (std::string& part : out) part = lower(part);
  }
  return out;
}

bool equal_fold(Flavour f, std::string_view a, std::string_view b) {
  return f == Flavour::posix ? a == b : lower(a) == lower(b);
}

}  // namespace

std::string lower(std::string_view text) {
  const bool ascii = std::all_of(text.begin(), text.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  std::string out;
  out.reserve(text.size());
  if (ascii) {
    for (char c : text) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return out;
  }
  const std::u32string s = decode_utf8(text);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x130) {  // capital I with dot above: i + combining dot above
      put_utf8(out, U'i');
      put_utf8(out, 0x307);
    } else if (c == 0x3A3) {
      put_utf8(out, lower_sigma(s, i));
    } else {
      put_utf8(out, lower_one(c));
    }
  }
  return out;
}

RawPath parse(Flavour f, const std::string_view* segments, std::size_t count) {
  const char sep = separator(f);
  // Windows reads '/' as '\': such segments get a converted copy.
  std::vector<std::string> converted;
  std::vector<std::string_view> segs(segments, segments + count);
  if (f == Flavour::windows) {
    converted.reserve(count);
    for (std::string_view& s : segs) {
      if (s.find('/') != std::string_view::npos) {
        std::string& c = converted.emplace_back(s);
        std::replace(c.begin(), c.end(), '/', '\\');
        s = c;
      }
    }
  }
  // The last anchored segment starts the path; a root without a drive takes the drive of
  // the nearest segment before it that has one (Python: ("C:", "/", "a") is "C:/a").
  std::size_t start = 0;
  Split split;
  std::string drive;
  bool anchored = false;
  for (std::size_t i = count; i-- > 0;) {
    if (segs[i].empty()) continue;
    Split s = splitroot(f, segs[i]);
    if (!s.drv.empty() || s.root > 0) {
      start = i;
      anchored = true;
      drive = s.drv;
      if (s.drv.empty()) {
        for (std::size_t j = i; j-- > 0;) {
          if (segs[j].empty()) continue;
          Split d = splitroot(f, segs[j]);
          if (!d.drv.empty()) {
            drive = std::move(d.drv);
            break;
          }
        }
      }
      split = std::move(s);
      break;
    }
  }
  RawPath out;
  std::size_t total = drive.size() + 2;
  for (std::size_t i = start; i < count; ++i) total += segs[i].size() + 1;
  out.str.reserve(total);
  if (anchored) {
    out.str.append(drive);
    out.str.append(split.root, f == Flavour::posix ? '/' : '\\');
    out.drv = static_cast<std::uint32_t>(drive.size());
    out.root = static_cast<std::uint32_t>(split.root);
  }
  const std::size_t anchor_end = out.str.size();
  for (std::size_t i = start; i < count; ++i) {
    std::string_view rel = segs[i];
    if (anchored && i == start) rel.remove_prefix(std::min(split.rel, rel.size()));
    append_parts(out.str, anchor_end, rel, sep);
  }
  return out;
}

RawPath join(Flavour f, const RawPath& base, RawPath other) {
  const char sep = separator(f);
  auto append = [&](std::string_view rel) {
    RawPath out = base;
    if (!rel.empty()) {
      if (!base.rel().empty()) out.str.push_back(sep);
      out.str.append(rel);
    }
    return out;
  };
  if (other.root > 0) {
    if (other.drv == 0 && base.drv > 0) {
      RawPath out;
      out.str.assign(base.drive());
      out.str.append(other.str);
      out.drv = base.drv;
      out.root = other.root;
      return out;
    }
    return other;
  }
  if (other.drv > 0) {
    if (equal_fold(f, base.drive(), other.drive())) return append(other.rel());
    return other;
  }
  return append(other.str);
}

std::vector<std::string> parts(Flavour f, const RawPath& path) {
  std::vector<std::string> out;
  if (path.drv + path.root > 0) out.emplace_back(path.anchor());
  for_each_rel(path, separator(f), [&](std::string_view part) { out.emplace_back(part); });
  return out;
}

namespace {

// Python compares str by code point, and a byte that is not UTF-8 is a surrogate there
// (U+DC80..U+DCFF), which sorts between U+D7FF and U+E000. Bytes order valid UTF-8 the same
// way, so only text with bytes above 0x7F needs decoding.
std::strong_ordering compare_text(std::string_view a, std::string_view b) {
  const auto high = [](std::string_view t) {
    return std::any_of(t.begin(), t.end(), [](char c) { return (c & 0x80) != 0; });
  };
  if (!high(a) && !high(b)) return a <=> b;
  const std::u32string da = decode_utf8(a);
  const std::u32string db = decode_utf8(b);
  return std::u32string_view(da) <=> std::u32string_view(db);
}

template <class V>
std::strong_ordering compare_parts(const std::vector<V>& a, const std::vector<V>& b) {
  return std::lexicographical_compare_three_way(
      a.begin(), a.end(), b.begin(), b.end(),
      [](const V& x, const V& y) { return compare_text(x, y); });
}

}  // namespace

std::strong_ordering compare(Flavour f, const RawPath& a, const RawPath& b) {
  if (f == Flavour::posix) {
    // Part by part, the anchor first: "a/b" sorts before "a-b", as Python's lists do.
    std::vector<std::string_view> pa;
    std::vector<std::string_view> pb;
    if (a.drv + a.root > 0) pa.push_back(a.anchor());
    if (b.drv + b.root > 0) pb.push_back(b.anchor());
    for_each_rel(a, '/', [&](std::string_view p) { pa.push_back(p); });
    for_each_rel(b, '/', [&](std::string_view p) { pb.push_back(p); });
    return compare_parts(pa, pb);
  }
  return compare_parts(cparts(f, a), cparts(f, b));
}

std::size_t hash(Flavour f, const RawPath& path) noexcept {
  try {
    std::size_t h = 0;
    auto mix = [&](std::string_view part) {
      h ^= std::hash<std::string_view>()(part) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    };
    if (f == Flavour::posix) {
      mix(path.str);  // the canonical text stands for the parts one to one
    } else {
      for (const std::string& part : cparts(f, path)) mix(part);
    }
    return h;
  } catch (...) {
    return 0;  // out of memory while lowering: a poor hash, never a wrong equality
  }
}

std::string name(Flavour f, const RawPath& path) {
  const std::string_view rel = path.rel();
  const std::size_t cut = rel.rfind(separator(f));
  return std::string(cut == std::string_view::npos ? rel : rel.substr(cut + 1));
}

std::string suffix(Flavour f, const RawPath& path) {
  const std::string n = name(f, path);
  const std::size_t i = n.rfind('.');
  if (i != std::string::npos && i > 0 && i < n.size() - 1) return n.substr(i);
  return {};
}

std::vector<std::string> suffixes(Flavour f, const RawPath& path) {
  std::string n = name(f, path);
  if (n.ends_with('.')) return {};
  n.erase(0, n.find_first_not_of('.') == std::string::npos ? n.size() : n.find_first_not_of('.'));
  std::vector<std::string> out;
  std::size_t i = n.find('.');
  while (i != std::string::npos) {
    const std::size_t j = n.find('.', i + 1);
    out.push_back(n.substr(i, j == std::string::npos ? std::string::npos : j - i));
    i = j;
  }
  return out;
}

std::string stem(Flavour f, const RawPath& path) {
  const std::string n = name(f, path);
  const std::size_t i = n.rfind('.');
  if (i != std::string::npos && i > 0 && i < n.size() - 1) return n.substr(0, i);
  return n;
}

RawPath parent(Flavour f, const RawPath& path) {
  const std::string_view rel = path.rel();
  if (rel.empty()) {
    if (path.drv + path.root > 0) return path;
    return {};
  }
  const std::size_t cut = rel.rfind(separator(f));
  RawPath out;
  out.drv = path.drv;
  out.root = path.root;
  out.str.assign(path.str, 0,
                 cut == std::string_view::npos ? path.drv + path.root : path.drv + path.root + cut);
  return out;
}

std::size_t parent_count(Flavour f, const RawPath& path) noexcept {
  const std::string_view rel = path.rel();
  if (rel.empty()) return 0;
  return static_cast<std::size_t>(std::count(rel.begin(), rel.end(), separator(f))) + 1;
}

RawPath nth_parent(Flavour f, const RawPath& path, std::size_t index) {
  // parents[i] drops the last i + 1 parts.
  const std::string_view rel = path.rel();
  const char sep = separator(f);
  std::size_t end = rel.size();
  for (std::size_t k = 0; k <= index; ++k) {
    const std::size_t cut = rel.rfind(sep, end == 0 ? 0 : end - 1);
    end = cut == std::string_view::npos || end == 0 ? 0 : cut;
  }
  RawPath out;
  out.drv = path.drv;
  out.root = path.root;
  out.str.assign(path.str, 0, path.drv + path.root + end);
  return out;
}

bool is_absolute(Flavour f, const RawPath& path) noexcept {
  if (path.root == 0) return false;
  return f == Flavour::posix || path.drv > 0;
}

bool is_reserved(Flavour f, const RawPath& path) {
  if (f == Flavour::posix || path.str.empty()) return false;
  if (path.str.starts_with("\\\\")) return false;  // UNC paths are never reserved
  // The last part (the anchor when there is no other), up to its first '.', then up to
  // its first ':', without trailing spaces, in upper case.
  std::string_view last = path.rel().empty() ? path.anchor() : std::string_view(path.rel());
  if (!path.rel().empty()) {
    const std::size_t cut = last.rfind('\\');
    if (cut != std::string_view::npos) last.remove_prefix(cut + 1);
  }
  last = last.substr(0, last.find('.'));
  last = last.substr(0, last.find(':'));
  while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
  const std::u32string name = decode_utf8(last);
  std::u32string upper;
  for (char32_t c : name) upper.push_back(c >= U'a' && c <= U'z' ? c - 32 : c);
  static const std::array<std::u32string_view, 6> kNames = {U"CON", U"PRN",    U"AUX",
                                                            U"NUL", U"CONIN$", U"CONOUT$"};
  if (std::find(kNames.begin(), kNames.end(), upper) != kNames.end()) return true;
  if (upper.size() == 4 && (upper.starts_with(U"COM") || upper.starts_with(U"LPT"))) {
    const char32_t d = upper[3];
    return (d >= U'1' && d <= U'9') || d == 0xB9 || d == 0xB2 || d == 0xB3;
  }
  return false;
}

std::string as_posix(Flavour f, const RawPath& path) {
  std::string out = path.str.empty() ? "." : path.str;
  if (f == Flavour::windows) std::replace(out.begin(), out.end(), '\\', '/');
  return out;
}

namespace {

// urllib.parse.quote_from_bytes(data, safe='/'): letters, digits, "_.-~" and '/' stay.
std::string quote(std::string_view bytes) {
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.' || c == '-' || c == '~' || c == '/') {
      out.push_back(ch);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

std::string as_uri(Flavour f, const RawPath& path) {
  if (!is_absolute(f, path)) throw ValueError("relative path can't be expressed as a file URI");
  if (f == Flavour::posix) return std::string("file://").append(quote(path.str));
  const std::string posix = as_posix(f, path);
  const std::string_view drive = path.drive();
  if (drive.size() == 2 && drive[1] == ':') {
    std::string_view rest = std::string_view(posix).substr(2);
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    return fmt::format("file:///{}/{}", drive, quote(rest));
  }
  return std::string("file:").append(quote(posix));
}

std::string repr(Flavour f, std::string_view class_name, const RawPath& path) {
  return fmt::format("{}({})", class_name, py_repr(as_posix(f, path)));
}

RawPath with_name(Flavour f, const RawPath& path, std::string_view new_name,
                  std::string_view class_name) {
  if (name(f, path).empty()) {
    throw ValueError(fmt::format("{} has an empty name", repr(f, class_name, path)));
  }
  const RawPath parsed = parse(f, &new_name, 1);
  const bool bad_end = new_name.empty() || new_name.back() == separator(f) ||
                       (f == Flavour::windows && new_name.back() == '/');
  // Python 3.11's checks, then 3.12's: 3.11 lets a name with a separator through when it
  // parses to one part ("./b"), and makes a path whose text and parts disagree.
  const bool has_sep = new_name.find(separator(f)) != std::string_view::npos ||
                       (f == Flavour::windows && new_name.find('/') != std::string_view::npos);
  if (bad_end || parsed.drv + parsed.root > 0 || parsed.str.empty() ||
      parsed.str.find(separator(f)) != std::string::npos || has_sep || new_name == ".") {
    throw ValueError(fmt::format("Invalid name {}", py_repr(new_name)));
  }
  RawPath out = parent(f, path);
  if (!out.rel().empty()) out.str.push_back(separator(f));
  out.str.append(new_name);
  return out;
}

RawPath with_suffix(Flavour f, const RawPath& path, std::string_view new_suffix,
                    std::string_view class_name) {
  if (new_suffix.find(separator(f)) != std::string_view::npos ||
      (f == Flavour::windows && new_suffix.find('/') != std::string_view::npos)) {
    throw ValueError(fmt::format("Invalid suffix {}", py_repr(new_suffix)));
  }
  if ((!new_suffix.empty() && new_suffix[0] != '.') || new_suffix == ".") {
    throw ValueError(fmt::format("Invalid suffix {}", py_repr(new_suffix)));
  }
  const std::string n = name(f, path);
  if (n.empty()) throw ValueError(fmt::format("{} has an empty name", repr(f, class_name, path)));
  const std::string old = suffix(f, path);
  RawPath out = path;
  out.str.resize(out.str.size() - old.size());
  out.str.append(new_suffix);
  return out;
}

RawPath relative_to(Flavour f, const RawPath& path, const RawPath& other, bool walk_up) {
  const char sep = separator(f);
  auto str_of = [](const RawPath& p) { return py_repr(p.str.empty() ? "." : p.str); };
  if (!walk_up) {
    // Python 3.11: drive and root count as separate parts here.
    std::vector<std::string> abs;
    std::vector<std::string> to;
    auto absolute_parts = [&](const RawPath& p, std::vector<std::string>& out) {
      if (p.root > 0) {
        out.emplace_back(p.drive());
        out.emplace_back(p.root_text());
      } else if (p.drv > 0) {
        out.emplace_back(p.anchor());
      }
      for_each_rel(p, sep, [&](std::string_view part) { out.emplace_back(part); });
    };
    absolute_parts(path, abs);
    absolute_parts(other, to);
    const std::size_t n = to.size();
    bool bad = false;
    if (n == 0) {
      bad = path.root > 0 || path.drv > 0;
    } else if (abs.size() < n) {
      bad = true;
    } else {
      for (std::size_t i = 0; i < n && !bad; ++i) bad = !equal_fold(f, abs[i], to[i]);
    }
    if (bad) {
      throw ValueError(fmt::format(
          "{} is not in the subpath of {} OR one path is relative and the other is absolute.",
          str_of(path), py_repr(other.str)));  // other as Python formats it: "" stays ""
    }
    RawPath out;
    if (n == 1 && path.root > 0) {
      out.str.assign(path.root_text());
      out.root = path.root;
    }
    const std::size_t anchor_end = out.str.size();
    for (std::size_t i = n; i < abs.size(); ++i) append_parts(out.str, anchor_end, abs[i], sep);
    return out;
  }
  // Python 3.12 with walk_up: climb from other until an ancestor of this path.
  RawPath base = other;
  std::size_t step = 0;
  const std::size_t levels = parent_count(f, other);
  while (true) {
    // Is base this path or one of its parents?
    bool under = false;
    if (equal_fold(f, base.drive(), path.drive()) && base.root == path.root) {
      const std::size_t nb = parent_count(f, base);
      const std::size_t np = parent_count(f, path);
      if (nb <= np)
        under = compare(f, base, np == nb ? path : nth_parent(f, path, np - nb - 1)) == 0;
    }
    if (under) break;
    if (step == levels) {
      throw ValueError(
          fmt::format("{} and {} have different anchors", str_of(path), str_of(other)));
    }
    if (name(f, base) == "..") {
      throw ValueError(fmt::format("'..' segment in {} cannot be walked", str_of(other)));
    }
    base = parent(f, base);
    ++step;
  }
  // 3.12 builds the result with with_segments('..', ..., *tail): parsed again, so that a
  // Windows part such as "c:" becomes a drive there too.
  std::vector<std::string_view> segments(step, "..");
  const std::size_t skip = parent_count(f, base);
  std::size_t index = 0;
  for_each_rel(path, sep, [&](std::string_view part) {
    if (index++ >= skip) segments.push_back(part);
  });
  return parse(f, segments.data(), segments.size());
}

bool match(Flavour f, const RawPath& path, std::string_view pattern_text) {
  std::string folded;
  if (f == Flavour::windows) {
    folded = lower(pattern_text);
    pattern_text = folded;
  }
  const RawPath pat = parse(f, &pattern_text, 1);
  std::vector<std::string> pat_parts = parts(f, pat);
  if (pat_parts.empty()) throw ValueError("empty pattern");
  const std::string self_drive =
      f == Flavour::windows ? lower(path.drive()) : std::string(path.drive());
  if (pat.drv > 0 && pat.drive() != self_drive) return false;
  if (pat.root > 0 && pat.root_text() != path.root_text()) return false;
  std::vector<std::string> mine = cparts(f, path);
  if (pat.drv + pat.root > 0) {
    if (pat_parts.size() != mine.size()) return false;
    pat_parts.erase(pat_parts.begin());
  } else if (pat_parts.size() > mine.size()) {
    return false;
  }
  auto p = pat_parts.rbegin();
  auto m = mine.rbegin();
  for (; p != pat_parts.rend() && m != mine.rend(); ++p, ++m) {
    if (!Pattern(*p).matches(*m)) return false;
  }
  return true;
}

}  // namespace batteries::pathlib::detail
