// batteries::pathlib pure paths: Python 3.11's PurePosixPath and PureWindowsPath, which parse,
// join and compare paths without touching the file system.
//
// Thread-safety: a path is an immutable value; const use from many threads is safe.
#pragma once

#include <fmt/format.h>

#include <batteries/errors.hpp>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace batteries::pathlib {

/// The two sets of path rules Python has: posixpath's and ntpath's.
enum class Flavour : std::uint8_t { posix, windows };

/// Options of relative_to(other, {.walk_up = true}) (Python 3.12's keyword).
struct RelativeToOptions {
  bool walk_up = false;
};

namespace detail {

/// A parsed path in its canonical text: drive, root, then the other parts joined by the
/// flavour's separator, with no empty parts and no ".". drv and root are lengths in str.
/// An empty str is the path ".".
struct RawPath {
  std::string str;
  std::uint32_t drv = 0;
  std::uint32_t root = 0;

  [[nodiscard]] std::string_view drive() const noexcept { return {str.data(), drv}; }
  [[nodiscard]] std::string_view root_text() const noexcept { return {str.data() + drv, root}; }
  [[nodiscard]] std::string_view anchor() const noexcept { return {str.data(), drv + root}; }
  /// The parts after the anchor, joined by the separator.
  [[nodiscard]] std::string_view rel() const noexcept {
    return std::string_view(str).substr(drv + root);
  }
};

/// Python's parse_parts over the segments, in order.
RawPath parse(Flavour flavour, const std::string_view* segments, std::size_t count);
/// Python's join_parsed_parts: base / other.
RawPath join(Flavour flavour, const RawPath& base, RawPath other);
/// The parts of a path as Python's `parts` gives them (the anchor first, if any).
std::vector<std::string> parts(Flavour flavour, const RawPath& path);
/// Python's str.lower(), byte sequences that are not UTF-8 kept as they are.
std::string lower(std::string_view text);
/// Python's ordering of two paths of one flavour (their casefolded parts).
std::strong_ordering compare(Flavour flavour, const RawPath& a, const RawPath& b);
std::size_t hash(Flavour flavour, const RawPath& path) noexcept;

std::string name(Flavour flavour, const RawPath& path);
std::string suffix(Flavour flavour, const RawPath& path);
std::vector<std::string> suffixes(Flavour flavour, const RawPath& path);
std::string stem(Flavour flavour, const RawPath& path);
/// The parent, or the path itself when it has no parts after its anchor.
RawPath parent(Flavour flavour, const RawPath& path);
/// The number of parents (Python's len(path.parents)).
std::size_t parent_count(Flavour flavour, const RawPath& path) noexcept;
/// parents[index], 0 <= index < parent_count.
RawPath nth_parent(Flavour flavour, const RawPath& path, std::size_t index);
bool is_absolute(Flavour flavour, const RawPath& path) noexcept;
bool is_reserved(Flavour flavour, const RawPath& path);
std::string as_posix(Flavour flavour, const RawPath& path);
std::string as_uri(Flavour flavour, const RawPath& path);
/// repr(): class_name('as/posix').
std::string repr(Flavour flavour, std::string_view class_name, const RawPath& path);
/// The ValueError-raising transformations; repr_self is repr(path) for the messages.
RawPath with_name(Flavour flavour, const RawPath& path, std::string_view name,
                  std::string_view class_name);
RawPath with_suffix(Flavour flavour, const RawPath& path, std::string_view suffix,
                    std::string_view class_name);
/// Python 3.11's relative_to (walk_up false) and 3.12's (walk_up true).
RawPath relative_to(Flavour flavour, const RawPath& path, const RawPath& other, bool walk_up);
bool match(Flavour flavour, const RawPath& path, std::string_view pattern);

template <class T>
struct IsPurePath : std::false_type {};

}  // namespace detail

/// What a path can be built from: text (UTF-8, or any bytes on POSIX), another path of
/// either flavour, or a std::filesystem::path.
template <class T>
concept PathSegment = std::convertible_to<const T&, std::string_view> ||
    detail::IsPurePath<std::remove_cvref_t<T>>::value ||
    std::same_as<std::remove_cvref_t<T>, std::filesystem::path>;

template <class Self, Flavour F>
class BasicPurePath;

namespace detail {
template <class Self, Flavour F>
struct IsPurePath<BasicPurePath<Self, F>> : std::true_type {};
template <class T>
requires std::derived_from<T, BasicPurePath<T, T::flavour>>
struct IsPurePath<T> : std::true_type {
};
}  // namespace detail

/// Python's _PathParents: the logical ancestors, nearest first, as a random-access range.
/// Indexing takes negative indices as Python 3.10 does; out of range is IndexError.
template <class P>
class PathParents {
 public:
  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = P;
    using difference_type = std::ptrdiff_t;
    using reference = P;
    iterator() = default;
    iterator(const PathParents* owner, std::ptrdiff_t index) : m_owner(owner), m_index(index) {}
    P operator*() const { return (*m_owner)[m_index]; }
    P operator[](difference_type n) const { return (*m_owner)[m_index + n]; }
    iterator& operator++() {
      ++m_index;
      return *this;
    }
    iterator operator++(int) { return {m_owner, m_index++}; }
    iterator& operator--() {
      --m_index;
      return *this;
    }
    iterator operator--(int) { return {m_owner, m_index--}; }
    iterator& operator+=(difference_type n) {
      m_index += n;
      return *this;
    }
    iterator& operator-=(difference_type n) {
      m_index -= n;
      return *this;
    }
    friend iterator operator+(iterator it, difference_type n) { return it += n; }
    friend iterator operator+(difference_type n, iterator it) { return it += n; }
    friend iterator operator-(iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(const iterator& a, const iterator& b) {
      return a.m_index - b.m_index;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.m_index == b.m_index; }
    friend auto operator<=>(const iterator& a, const iterator& b) {
      return a.m_index <=> b.m_index;
    }

   private:
    const PathParents* m_owner = nullptr;
    std::ptrdiff_t m_index = 0;
  };

  explicit PathParents(P path) : m_path(std::move(path)) {}
  [[nodiscard]] std::size_t size() const noexcept { return m_path.parent_count(); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// parents[i]; -len <= i < len, else IndexError(i).
  [[nodiscard]] P operator[](std::ptrdiff_t index) const {
    const auto n = static_cast<std::ptrdiff_t>(size());
    if (index >= n || index < -n) throw IndexError(std::to_string(index));
    if (index < 0) index += n;
    return m_path.nth_parent(static_cast<std::size_t>(index));
  }
  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] iterator end() const { return {this, static_cast<std::ptrdiff_t>(size())}; }
  /// Python's repr(): <PurePosixPath.parents>.
  [[nodiscard]] std::string repr() const {
    return std::string("<").append(P::class_name).append(".parents>");
  }

 private:
  P m_path;
};

/// The shared body of the path classes; Self is the class the operations return.
template <class Self, Flavour F>
class BasicPurePath {
 public:
  static constexpr Flavour flavour = F;
  /// The separator: '/' or '\\'.
  static constexpr char sep = F == Flavour::posix ? '/' : '\\';

  /// The path "." (Python's PurePath() with no arguments).
  BasicPurePath() = default;
  /// Python's PurePath(*pathsegments): the segments joined as the constructor joins them.
  template <PathSegment... A>
  requires(sizeof...(A) > 0) explicit BasicPurePath(const A&... segments)
      : m_raw(parse_segments(segments...)) {}

  // ---- text ----
  /// str(path): the path with the flavour's separators; "." when empty.
  [[nodiscard]] std::string str() const { return m_raw.str.empty() ? "." : m_raw.str; }
  /// os.fspath(path), the same as str().
  [[nodiscard]] std::string fspath() const { return str(); }
  [[nodiscard]] std::string repr() const { return detail::repr(F, Self::class_name, m_raw); }
  [[nodiscard]] std::string as_posix() const { return detail::as_posix(F, m_raw); }
  /// A file: URI; ValueError for a relative path.
  [[nodiscard]] std::string as_uri() const { return detail::as_uri(F, m_raw); }
  /// The path for the standard library (its native text, as str() gives it).
  operator std::filesystem::path() const { return std::filesystem::path(str()); }  // NOLINT

  // ---- parts ----
  [[nodiscard]] std::string drive() const { return std::string(m_raw.drive()); }
  [[nodiscard]] std::string root() const { return std::string(m_raw.root_text()); }
  [[nodiscard]] std::string anchor() const { return std::string(m_raw.anchor()); }
  [[nodiscard]] std::vector<std::string> parts() const { return detail::parts(F, m_raw); }
  [[nodiscard]] std::string name() const { return detail::name(F, m_raw); }
  [[nodiscard]] std::string suffix() const { return detail::suffix(F, m_raw); }
  [[nodiscard]] std::vector<std::string> suffixes() const { return detail::suffixes(F, m_raw); }
  [[nodiscard]] std::string stem() const { return detail::stem(F, m_raw); }
  [[nodiscard]] Self parent() const { return make(detail::parent(F, m_raw)); }
  [[nodiscard]] PathParents<Self> parents() const { return PathParents<Self>(self()); }
  [[nodiscard]] std::size_t parent_count() const noexcept { return detail::parent_count(F, m_raw); }
  [[nodiscard]] Self nth_parent(std::size_t index) const {
    return make(detail::nth_parent(F, m_raw, index));
  }

  // ---- questions ----
  /// True with a root and, for Windows, a drive.
  [[nodiscard]] bool is_absolute() const noexcept { return detail::is_absolute(F, m_raw); }
  /// Windows: a reserved device name (CON, NUL, COM1, ...); POSIX: never.
  [[nodiscard]] bool is_reserved() const { return detail::is_reserved(F, m_raw); }
  /// Python's match(): a glob pattern matched from the right (case-insensitive on Windows).
  [[nodiscard]] bool match(std::string_view pattern) const {
    return detail::match(F, m_raw, pattern);
  }
  template <PathSegment... A>
  requires(sizeof...(A) > 0) [[nodiscard]] bool is_relative_to(const A&... other) const {
    try {
      (void)relative_to(other...);
      return true;
    } catch (const ValueError&) {
      return false;
    }
  }

  // ---- new paths ----
  template <PathSegment... A>
  [[nodiscard]] Self joinpath(const A&... segments) const {
    if constexpr (sizeof...(A) == 0) {
      return self();
    } else {
      return make(detail::join(F, m_raw, parse_segments(segments...)));
    }
  }
  /// Python 3.11's relative_to(*other): ValueError when this is not under other.
  template <PathSegment... A>
  requires(sizeof...(A) > 0) [[nodiscard]] Self relative_to(const A&... other) const {
    return make(detail::relative_to(F, m_raw, parse_segments(other...), false));
  }
  /// Python 3.12's relative_to(other, walk_up=...): with walk_up, ".." steps up from other.
  template <PathSegment A>
  [[nodiscard]] Self relative_to(const A& other, RelativeToOptions options) const {
    if (!options.walk_up) return relative_to(other);
    // 3.12 rebuilds a path argument from its text, not part by part as 3.11 does.
    if constexpr (detail::IsPurePath<A>::value) {
      return relative_to(other.str(), options);
    } else {
      return make(detail::relative_to(F, m_raw, parse_segments(other), true));
    }
  }
  [[nodiscard]] Self with_name(std::string_view name) const {
    return make(detail::with_name(F, m_raw, name, Self::class_name));
  }
  [[nodiscard]] Self with_stem(std::string_view stem) const {
    return with_name(std::string(stem) + suffix());
  }
  [[nodiscard]] Self with_suffix(std::string_view suffix) const {
    return make(detail::with_suffix(F, m_raw, suffix, Self::class_name));
  }

  template <PathSegment A>
  friend Self operator/(const Self& path, const A& segment) {
    return path.joinpath(segment);
  }
  template <PathSegment A>
  requires(!std::derived_from<A, BasicPurePath>) friend Self operator/(const A& segment,
                                                                       const Self& path) {
    return Self(segment, path);
  }

  // ---- comparison (within a flavour; Windows ignores case) ----
  template <class S2>
  friend bool operator==(const BasicPurePath& a, const BasicPurePath<S2, F>& b) {
    return detail::compare(F, a.m_raw, b.raw()) == 0;
  }
  /// A POSIX path never equals a Windows path, as in Python.
  template <class S2, Flavour G>
  requires(G != F) friend bool operator==(const BasicPurePath&, const BasicPurePath<S2, G>&) {
    return false;
  }
  template <class S2>
  friend std::strong_ordering operator<=>(const BasicPurePath& a, const BasicPurePath<S2, F>& b) {
    return detail::compare(F, a.m_raw, b.raw());
  }
  [[nodiscard]] std::size_t hash() const noexcept { return detail::hash(F, m_raw); }

  friend std::ostream& operator<<(std::ostream& out, const BasicPurePath& path) {
    return out << path.str();
  }

  /// The parsed form (for the library's own use).
  [[nodiscard]] const detail::RawPath& raw() const noexcept { return m_raw; }
  /// A path from an already parsed form.
  [[nodiscard]] static Self from_raw(detail::RawPath raw) { return make(std::move(raw)); }

 private:
  [[nodiscard]] const Self& self() const noexcept { return static_cast<const Self&>(*this); }
  static Self make(detail::RawPath raw) {
    Self out;
    static_cast<BasicPurePath&>(out).m_raw = std::move(raw);
    return out;
  }
  // Text as it is. A path goes part by part, each parsed again by this flavour's rules, as
  // Python does (a Windows part "x:" after the first becomes a drive); a POSIX path into a
  // POSIX path can go as its text, which parses back to the same parts. owned keeps the
  // parts where the views can see them.
  template <class A>
  static void add_segment(std::vector<std::string_view>& views, std::deque<std::string>& owned,
                          const A& segment) {
    using T = std::remove_cvref_t<A>;
    if constexpr (std::same_as<T, std::filesystem::path>) {
      views.emplace_back(segment.native());
    } else if constexpr (std::convertible_to<const A&, std::string_view>) {
      views.emplace_back(static_cast<std::string_view>(segment));
    } else if constexpr (T::flavour == Flavour::posix && F == Flavour::posix) {
      views.emplace_back(segment.raw().str);  // POSIX text parses back to the same parts
    } else {
      for (std::string& part : segment.parts())
        views.emplace_back(owned.emplace_back(std::move(part)));
    }
  }
  template <class... A>
  static detail::RawPath parse_segments(const A&... segments) {
    if constexpr (sizeof...(A) == 1 && (std::convertible_to<const A&, std::string_view> && ...)) {
      const std::string_view view{segments...};
      return detail::parse(F, &view, 1);
    } else {
      std::vector<std::string_view> views;
      views.reserve(sizeof...(A));
      std::deque<std::string> owned;
      (add_segment(views, owned, segments), ...);
      return detail::parse(F, views.data(), views.size());
    }
  }

  detail::RawPath m_raw;
};

/// Python's PurePosixPath: '/'-separated paths, case-sensitive; "//" at the start is kept.
class PurePosixPath : public BasicPurePath<PurePosixPath, Flavour::posix> {
 public:
  static constexpr std::string_view class_name = "PurePosixPath";
  using BasicPurePath::BasicPurePath;
};

/// Python's PureWindowsPath: drives, UNC shares, '\\' with '/' accepted, case-insensitive.
class PureWindowsPath : public BasicPurePath<PureWindowsPath, Flavour::windows> {
 public:
  static constexpr std::string_view class_name = "PureWindowsPath";
  using BasicPurePath::BasicPurePath;
};

/// Python's PurePath: the flavour of the system (PurePosixPath here).
#ifdef _WIN32
using PurePath = PureWindowsPath;
#else
using PurePath = PurePosixPath;
#endif

}  // namespace batteries::pathlib

template <class T>
requires batteries::pathlib::detail::IsPurePath<T>::value struct std::hash<T> {
  std::size_t operator()(const T& path) const noexcept { return path.hash(); }
};

template <class T>
requires batteries::pathlib::detail::IsPurePath<T>::value struct fmt::formatter<T>
    : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const T& path, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(path.str(), ctx);
  }
};
