// The compile-time tables behind every batteries::enums function, built once per enum.
//
// Both ways in (a declared enum, or reflection of any enum) produce the same "source": the
// names and values in definition order, aliases included. Meta<E> derives from it the
// canonical members, a value-to-name table (dense when the values are close together, sorted
// otherwise) and an open-addressing hash table from name to member, all constexpr.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

#include "batteries/enum/detail/reflect.hpp"
#include "batteries/enum/options.hpp"

namespace batteries::enums::detail {

__extension__ typedef __int128 i128;  // Python's unbounded ints, wide enough for any U
__extension__ typedef unsigned __int128 u128;

/// The table a declared enum (BATTERIES_ENUM) provides through batteries_enum_declared().
template <class E, std::size_t N>
struct Declared {
  Kind kind;
  std::string_view type_name;
  std::array<E, N> values;
  std::array<std::string_view, N> names;
};

template <class E>
concept IsDeclared = std::is_enum_v<E> && requires {
  batteries_enum_declared(E{});
};

template <class E>
concept HasOptions = std::is_enum_v<E> && requires {
  { batteries_enum_options(E{}) } -> std::convertible_to<Options>;
};

template <class E>
concept HasMissing = std::is_enum_v<E> && requires(long long v) {
  { batteries_enum_missing(E{}, v) } -> std::same_as<std::optional<E>>;
};

// Compile-time diagnostics: a call to one of these in a constant expression is the error.
void options_kind_differs_from_the_declared_kind();
void auto_value_overflows_the_underlying_type();
void flag_members_must_not_be_negative();

template <class E>
consteval Options user_options() {
  if constexpr (HasOptions<E>) {
    return batteries_enum_options(E{});
  } else {
    return Options{};
  }
}

template <class E>
consteval Options resolve_options() {
  Options o = user_options<E>();
  if constexpr (IsDeclared<E>) {
    constexpr Kind declared = batteries_enum_declared(E{}).kind;
    if (o.kind != Kind::Enum && o.kind != declared) options_kind_differs_from_the_declared_kind();
    o.kind = declared;
    if (o.name.empty()) o.name = batteries_enum_declared(E{}).type_name;
  }
  if (!o.boundary) o.boundary = o.kind == Kind::IntFlag ? KEEP : STRICT;
  if (o.name.empty()) o.name = short_type_name<E>();
  return o;
}

/// E's options with every default filled in.
template <class E>
inline constexpr Options options_v = resolve_options<E>();

template <class E>
inline constexpr Kind kind_v = options_v<E>.kind;
// The library's own vocabulary enums are compared inside resolve_options(); settling their
// kind here keeps the operators' constraints from depending on themselves.
template <>
inline constexpr Kind kind_v<Kind> = Kind::Enum;
template <>
inline constexpr Kind kind_v<FlagBoundary> = Kind::Enum;

template <class E>
inline constexpr bool is_flag_v = kind_v<E> == Kind::Flag || kind_v<E> == Kind::IntFlag;

template <class E>
inline constexpr bool is_int_v = kind_v<E> == Kind::IntEnum || kind_v<E> == Kind::IntFlag;

/// Python's auto(): max(previous) + 1 for enums (1 for the first), and for flags the next
/// power of two above every previous value (1 for the first). Used by BATTERIES_ENUM.
template <class U, class... Prev>
consteval U auto_value(Kind kind, Prev... prev) {
  i128 result = 1;
  if constexpr (sizeof...(Prev) > 0) {
    i128 high = std::max({static_cast<i128>(prev)...});
    if (kind == Kind::Flag || kind == Kind::IntFlag) {
      if (high < 0) flag_members_must_not_be_negative();
      result = 1;
      while (result <= high) result <<= 1;
    } else {
      result = high + 1;
    }
  }
  if (result > static_cast<i128>(std::numeric_limits<U>::max())) {
    auto_value_overflows_the_underlying_type();
  }
  return static_cast<U>(result);
}

/// Names and values in definition order, aliases included, from either way in.
template <class E, bool = IsDeclared<E>>
struct Source;

template <class E>
struct Source<E, true> {
  using U = std::underlying_type_t<E>;
  static constexpr auto declared = batteries_enum_declared(E{});
  static constexpr std::size_t size = declared.values.size();
  static constexpr std::array<U, size> values = [] {
    std::array<U, size> v{};
    for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<U>(declared.values[i]);
    return v;
  }();
  static constexpr const std::array<std::string_view, size>& names = declared.names;
  static constexpr bool reflected = false;
};

template <class E>
struct Source<E, false> {
  using R = Reflected<E, is_flag_v<E>, options_v<E>.min, options_v<E>.max>;
  static constexpr std::size_t size = R::size;
  static constexpr const auto& values = R::values;
  static constexpr const auto& names = R::names;
  static constexpr bool reflected = true;
};

constexpr std::uint64_t load_le(const char* p, std::size_t n) noexcept {
  std::uint64_t r = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return r;
}

/// N (4 or 8) bytes as a little-endian integer: one load at run time (g++ does not merge
/// the byte loop for every call site), the byte loop in constant evaluation.
template <std::size_t N>
constexpr std::uint64_t load(const char* p) noexcept {
  if (std::is_constant_evaluated()) return load_le(p, N);
  using T = std::conditional_t<N == 8, std::uint64_t, std::uint32_t>;
  T r;
  std::memcpy(&r, p, N);
  if constexpr (std::endian::native == std::endian::big) {
    if constexpr (N == 8) {
      r = __builtin_bswap64(r);
    } else {
      r = __builtin_bswap32(r);
    }
  }
  return r;
}

/// Whether two strings of the same length n are equal, without a call to memcmp for the
/// short names enums have: two overlapping loads cover 4 to 16 bytes.
constexpr bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    return load<8>(a) == load<8>(b) && load<8>(a + n - 8) == load<8>(b + n - 8);
  }
  if (n >= 4 && n < 8) {
    return load<4>(a) == load<4>(b) && load<4>(a + n - 4) == load<4>(b + n - 4);
  }
  return std::string_view(a, n) == std::string_view(b, n);
}

/// The hash of a member name. Mode 0 reads the first and last eight bytes (enough for
/// almost every enum); mode 1 reads every byte, for enums whose names differ only inside.
constexpr std::uint64_t hash_name(std::string_view s, int mode) noexcept {
  const std::size_t n = s.size();
  const char* p = s.data();
  std::uint64_t h = 0x9E3779B97F4A7C15ULL * (n + 1);
  if (n >= 8) {
    if (mode == 1) {
      for (std::size_t i = 0; i + 8 < n; i += 8) h = (h ^ load<8>(p + i)) * 0xBF58476D1CE4E5B9ULL;
    } else {
      h = (h ^ load<8>(p)) * 0xBF58476D1CE4E5B9ULL;
    }
    h ^= load<8>(p + n - 8);
  } else if (n >= 4) {
    h = (h ^ load<4>(p)) * 0xBF58476D1CE4E5B9ULL;
    h ^= load<4>(p + n - 4) << 32;
  } else if (n > 0) {
    h ^= load_le(p, n);
  }
  h *= 0x94D049BB133111EBULL;
  return h ^ (h >> 31);
}

// The tables are built in three layers because a static member function cannot be called
// while its own class is still being defined; each layer uses only the layers below it.
template <class E>
struct MetaBase {
  using U = std::underlying_type_t<E>;
  using S = Source<E>;
  static constexpr Options opts = options_v<E>;
  static constexpr Kind kind = opts.kind;
  static constexpr bool flag = is_flag_v<E>;
  static constexpr FlagBoundary boundary = *opts.boundary;
  static constexpr std::string_view type_name = opts.name;
  static constexpr std::size_t size = S::size;
  static_assert(size < 65535, "batteries::enums supports up to 65534 names per enum");
  static constexpr const auto& values = S::values;
  static constexpr const auto& names = S::names;

  /// For each entry, the index of the first entry with the same value (itself if canonical).
  static constexpr std::array<std::uint16_t, size> first = [] {
    std::array<std::uint16_t, size> f{};
    for (std::size_t i = 0; i < size; ++i) {
      f[i] = static_cast<std::uint16_t>(i);
      for (std::size_t j = 0; j < i; ++j) {
        if (values[j] == values[i]) {
          f[i] = static_cast<std::uint16_t>(j);
          break;
        }
      }
    }
    return f;
  }();

  static constexpr bool single_bit(U v) noexcept {
    return v > U{} && std::has_single_bit(static_cast<unsigned_of<U>>(v));
  }

  /// Canonical members: not aliases, and for flags only the single-bit ones (Python 3.11).
  static constexpr bool canonical(std::size_t i) noexcept {
    return first[i] == i && (!flag || single_bit(values[i]));
  }

  struct Entry {
    U value;
    std::uint16_t index;
  };

  // name -> index: open addressing over a power-of-two table at most half full.
  static constexpr std::size_t slots = std::bit_ceil(std::max<std::size_t>(4, 2 * size));
  static constexpr int shift = 64 - std::countr_zero(slots);

  template <int Mode>
  static constexpr std::size_t slot_of(std::string_view s) noexcept {
    return static_cast<std::size_t>(hash_name(s, Mode) >> shift);
  }

  template <int Mode>
  struct Table {
    std::array<std::uint16_t, slots> slot{};  // index + 1, 0 for empty
    std::size_t longest_probe = 0;
  };

  template <int Mode>
  static constexpr Table<Mode> build() {
    Table<Mode> t{};
    for (std::size_t i = 0; i < size; ++i) {
      std::size_t s = slot_of<Mode>(names[i]);
      std::size_t probe = 1;
      while (t.slot[s] != 0) {
        s = (s + 1) & (slots - 1);
        ++probe;
      }
      t.slot[s] = static_cast<std::uint16_t>(i + 1);
      t.longest_probe = std::max(t.longest_probe, probe);
    }
    return t;
  }

  static constexpr bool flag_values_valid = [] {
    if constexpr (flag && std::is_signed_v<U>) {
      for (std::size_t i = 0; i < size; ++i) {
        if (values[i] < U{}) flag_members_must_not_be_negative();
      }
    }
    return true;
  }();
};

template <class E>
struct MetaSorted : MetaBase<E> {
  using B = MetaBase<E>;
  using typename B::Entry;
  using typename B::U;
  static_assert(B::flag_values_valid);  // evaluated here: a negative flag member is an error

  static constexpr std::size_t count = [] {
    std::size_t c = 0;
    for (std::size_t i = 0; i < B::size; ++i) c += B::canonical(i) ? 1 : 0;
    return c;
  }();

  static constexpr std::array<E, count> members = [] {
    std::array<E, count> m{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < B::size; ++i) {
      if (B::canonical(i)) m[at++] = static_cast<E>(B::values[i]);
    }
    return m;
  }();

  static constexpr std::array<Member<E>, B::size> with_aliases = [] {
    std::array<Member<E>, B::size> m{};
    for (std::size_t i = 0; i < B::size; ++i) m[i] = {B::names[i], static_cast<E>(B::values[i])};
    return m;
  }();

  static constexpr bool has_aliases = [] {
    for (std::size_t i = 0; i < B::size; ++i) {
      if (B::first[i] != i) return true;
    }
    return false;
  }();

  static constexpr std::size_t distinct = [] {
    std::size_t d = 0;
    for (std::size_t i = 0; i < B::size; ++i) d += B::first[i] == i ? 1 : 0;
    return d;
  }();

  static constexpr std::array<Entry, distinct> sorted = [] {
    std::array<Entry, distinct> s{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < B::size; ++i) {
      if (B::first[i] == i) s[at++] = {B::values[i], static_cast<std::uint16_t>(i)};
    }
    // Insertion sort: tiny inputs, and far fewer instantiations than std::sort.
    for (std::size_t i = 1; i < distinct; ++i) {
      const Entry e = s[i];
      std::size_t j = i;
      for (; j > 0 && e.value < s[j - 1].value; --j) s[j] = s[j - 1];
      s[j] = e;
    }
    return s;
  }();

  static constexpr std::uint64_t span =
      distinct == 0 ? 0
                    : static_cast<std::uint64_t>(static_cast<i128>(sorted[distinct - 1].value) -
                                                 static_cast<i128>(sorted[0].value)) +
                          1;
  static constexpr bool dense = distinct > 0 && span <= std::max<std::uint64_t>(64, 4 * distinct);

  static constexpr std::uint64_t offset(U v) noexcept {
    if constexpr (distinct == 0) {
      return ~std::uint64_t{0};
    } else {
      return static_cast<std::uint64_t>(v) - static_cast<std::uint64_t>(sorted[0].value);
    }
  }

  /// The index of the first entry whose value is v, or -1. O(log n).
  static constexpr int find_value(U v) noexcept {
    std::size_t lo = 0;
    std::size_t hi = distinct;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (sorted[mid].value < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo < distinct && sorted[lo].value == v ? sorted[lo].index : -1;
  }

  static constexpr int hash_mode = B::template build<0>().longest_probe <= 6 ? 0 : 1;
  static constexpr auto by_name = B::template build<hash_mode>();

  static constexpr i128 flag_mask = [] {
    i128 m = 0;
    for (std::size_t i = 0; i < B::size; ++i) m |= static_cast<i128>(B::values[i]);
    return m;
  }();
  static constexpr i128 singles_mask = [] {
    i128 m = 0;
    for (std::size_t i = 0; i < B::size; ++i) {
      if (B::single_bit(B::values[i])) m |= static_cast<i128>(B::values[i]);
    }
    return m;
  }();
  static constexpr i128 all_bits = [] {
    i128 a = 0;
    while (a < flag_mask) a = a * 2 + 1;
    return a;
  }();
};

template <class E>
struct Meta : MetaSorted<E> {
  using M = MetaSorted<E>;
  using typename M::U;

  static constexpr auto dense_names = [] {
    std::array<std::string_view, M::dense ? M::span : 0> t{};
    if constexpr (M::dense) {
      for (const auto& e : M::sorted) t[M::offset(e.value)] = M::names[e.index];
    }
    return t;
  }();

  /// The first name of value v; empty when no member has it. A table load when dense.
  static constexpr std::string_view name_of(U v) noexcept {
    if constexpr (M::dense) {
      const std::uint64_t i = M::offset(v);
      return i < M::span ? dense_names[i] : std::string_view{};
    } else {
      const int i = M::find_value(v);
      return i < 0 ? std::string_view{} : M::names[static_cast<std::size_t>(i)];
    }
  }

  /// Whether some member has value v: a range check when the values are contiguous.
  static constexpr bool has_value(U v) noexcept {
    if constexpr (M::dense && M::span == M::distinct) {
      return M::offset(v) < M::span;
    } else {
      return !name_of(v).empty();
    }
  }

  /// The index of the entry named s, or -1. Expected O(1): one hash, about one compare.
  static constexpr int find_name(std::string_view s) noexcept {
    std::size_t i = M::template slot_of<M::hash_mode>(s);
    while (true) {
      const std::uint16_t e = M::by_name.slot[i];
      if (e == 0) return -1;
      const std::string_view n = M::names[e - 1u];
      if (n.size() == s.size() && same_bytes(n.data(), s.data(), s.size())) return e - 1;
      i = (i + 1) & (M::slots - 1);
    }
  }
};

}  // namespace batteries::enums::detail
