// The functions of batteries::enums: names, values, members, look-ups, str() and repr().
//
// Every function works the same for a declared enum (BATTERIES_ENUM) and for any other enum
// through reflection. The tables behind them are constexpr data built at compile time, so
// all of these are thread-safe, and most are constexpr. Look-ups by value are a table load
// (or a binary search when the values are far apart); look-ups by name hash the name once.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <limits>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "batteries/enum/detail/meta.hpp"
#include "batteries/enum/options.hpp"
#include "batteries/errors.hpp"  // the exceptions these functions raise

namespace batteries::enums {

/// Any C++ enumeration.
template <class E>
concept Enumeration = std::is_enum_v<E>;

/// An enum whose kind is Flag or IntFlag.
template <class E>
concept FlagEnumeration = Enumeration<E> && detail::is_flag_v<E>;

/// An enum whose kind is Enum or IntEnum (one name per value).
template <class E>
concept PlainEnumeration = Enumeration<E> && !detail::is_flag_v<E>;

/// An enum whose members are integers too: IntEnum or IntFlag.
template <class E>
concept IntEnumeration = Enumeration<E> && detail::is_int_v<E>;

/// An enum that opted in, by BATTERIES_ENUM or by options: it gets operator<< and fmt.
template <class E>
concept Managed = Enumeration<E> &&(detail::IsDeclared<E> || detail::HasOptions<E>);

namespace detail {

// Out-of-line, cold: building messages and throwing (src/enum/errors.cpp).
[[noreturn]] void raise_not_valid(i128 value, std::string_view type_name);
[[noreturn]] void raise_no_name(std::string_view name);
[[noreturn]] void raise_flag_invalid(std::string_view type_name, i128 value, i128 flag_mask);
[[noreturn]] void raise_flag_no_members(std::string_view type_name, i128 unknown);
std::string int_str(i128 value);
void append_int(std::string& out, i128 value);

template <class T>
concept Integer = std::integral<T> && !std::same_as<T, bool>;

template <class E>
constexpr bool fits(i128 v) noexcept {
  using U = std::underlying_type_t<E>;
  return v >= static_cast<i128>(std::numeric_limits<U>::min()) &&
         v <= static_cast<i128>(std::numeric_limits<U>::max());
}

inline constexpr i128 bit_length(i128 v) noexcept {
  if (v < 0) v = -v;
  i128 n = 0;
  while (v > 0) {
    v >>= 1;
    ++n;
  }
  return n;
}

/// What a flag's constructor, E(value) in Python, makes of a value.
enum class FlagOutcome { ok, out_of_bounds, no_members, ejected, too_wide };
struct FlagResult {
  FlagOutcome outcome;
  i128 value;  // the resulting value when ok; the unknown bits for no_members
};

/// The value's decomposition: its members' bits, and the bits no member covers.
struct Composition {
  i128 combined;
  i128 unknown;
};

template <class E>
constexpr Composition compose(i128 v) noexcept {
  using M = Meta<E>;
  const i128 member_value = v & M::singles_mask;
  const i128 aliases = v & ~M::singles_mask;
  i128 combined = member_value;
  if (aliases != 0) {
    for (std::size_t i = 0; i < M::size; ++i) {
      const i128 cv = static_cast<i128>(M::values[M::first[i]]);
      if (cv != 0 && (cv & v) == cv) combined |= cv;
    }
  }
  return {combined, v ^ combined};
}

/// Python 3.11's Flag.__call__ and Flag._missing_, over unbounded integers.
template <class E>
constexpr FlagResult resolve_flag(i128 v, FlagBoundary boundary) noexcept {
  using M = Meta<E>;
  using U = std::underlying_type_t<E>;
  if (fits<E>(v) && M::has_value(static_cast<U>(v))) return {FlagOutcome::ok, v};
  if (!(~M::all_bits <= v && v <= M::all_bits) || (v & (M::all_bits ^ M::flag_mask)) != 0) {
    switch (boundary) {
      case FlagBoundary::STRICT:
        return {FlagOutcome::out_of_bounds, v};
      case FlagBoundary::CONFORM:
        v &= M::flag_mask;
        break;
      case FlagBoundary::EJECT:
        return {FlagOutcome::ejected, v};
      case FlagBoundary::KEEP:
        if (v < 0) v = std::max<i128>(M::all_bits + 1, i128{1} << bit_length(v)) + v;
        break;
    }
  }
  if (v < 0) v = M::all_bits + 1 + v;
  if (boundary == FlagBoundary::STRICT) {
    const Composition c = compose<E>(v);
    if (c.combined != 0 && c.unknown != 0) return {FlagOutcome::no_members, c.unknown};
  }
  if (!fits<E>(v)) return {FlagOutcome::too_wide, v};
  return {FlagOutcome::ok, v};
}

/// Python's name of a flag value (None as nullopt); unknown bits are shown as a number.
template <class E>
std::optional<std::string> flag_name(i128 v) {
  using M = Meta<E>;
  using U = std::underlying_type_t<E>;
  if (fits<E>(v)) {
    const std::string_view exact = M::name_of(static_cast<U>(v));
    if (!exact.empty()) return std::string(exact);
  }
  if (v < 0) v = resolve_flag<E>(v, FlagBoundary::KEEP).value;
  std::string out;
  const i128 member_value = v & M::singles_mask;
  i128 combined = 0;
  for (const E m : M::members) {
    const i128 bit = static_cast<i128>(static_cast<U>(m));
    if ((member_value & bit) != 0) {
      if (!out.empty()) out += '|';
      out += M::name_of(static_cast<U>(m));
      combined |= bit;
    }
  }
  if ((v & ~M::singles_mask) != 0) {
    // Multi-bit members contained in v, in definition order. Aliases are skipped: they name a
    // member already considered (Python's `pm not in members`).
    for (std::size_t i = 0; i < M::size; ++i) {
      const i128 cv = static_cast<i128>(M::values[i]);
      if (M::first[i] != i || cv == 0 || (cv & v) != cv || M::single_bit(M::values[i])) continue;
      if (!out.empty()) out += '|';
      out += M::names[i];
      combined |= cv;
    }
  }
  if (combined == 0) return std::nullopt;
  const i128 unknown = v ^ combined;
  if (unknown != 0) {
    out += '|';
    append_int(out, unknown);
  }
  return out;
}

/// The enum's _missing_ hook; called only for enums that declare one (HasMissing).
template <class E>
constexpr std::optional<E> call_missing(i128 v) {
  if (v < std::numeric_limits<long long>::min() || v > std::numeric_limits<long long>::max()) {
    return std::nullopt;
  }
  return batteries_enum_missing(E{}, static_cast<long long>(v));
}

template <class E>
constexpr std::optional<E> try_from_wide(i128 w) {
  using M = Meta<E>;
  using U = std::underlying_type_t<E>;
  if (fits<E>(w) && M::has_value(static_cast<U>(w))) return static_cast<E>(w);
  if constexpr (HasMissing<E>) {
    if (auto m = call_missing<E>(w)) return m;
  }
  if constexpr (M::flag) {
    const FlagResult r = resolve_flag<E>(w, M::boundary);
    if (r.outcome != FlagOutcome::ok) return std::nullopt;
    return static_cast<E>(static_cast<U>(r.value));
  } else {
    return std::nullopt;
  }
}

template <class E>
constexpr E from_wide(i128 w) {
  using M = Meta<E>;
  using U = std::underlying_type_t<E>;
  if (fits<E>(w) && M::has_value(static_cast<U>(w))) return static_cast<E>(w);
  if constexpr (HasMissing<E>) {
    if (auto m = call_missing<E>(w)) return *m;
  }
  if constexpr (M::flag) {
    const FlagBoundary b = M::boundary == FlagBoundary::EJECT ? FlagBoundary::KEEP : M::boundary;
    const FlagResult r = resolve_flag<E>(w, b);
    switch (r.outcome) {
      case FlagOutcome::ok:
        return static_cast<E>(static_cast<U>(r.value));
      case FlagOutcome::out_of_bounds:
        raise_flag_invalid(M::type_name, w, M::flag_mask);
      case FlagOutcome::no_members:
        raise_flag_no_members(M::type_name, r.value);
      case FlagOutcome::ejected:
      case FlagOutcome::too_wide:
        break;
    }
  }
  raise_not_valid(w, M::type_name);
}

}  // namespace detail

/// The member's value, as the underlying integer type.
template <Enumeration E>
[[nodiscard]] constexpr std::underlying_type_t<E> value(E e) noexcept {
  return static_cast<std::underlying_type_t<E>>(e);
}

/// The member's name, or nullopt when e holds a value no member has. Never throws.
template <PlainEnumeration E>
[[nodiscard]] constexpr std::optional<std::string_view> try_name(E e) noexcept {
  const std::string_view n = detail::Meta<E>::name_of(value(e));
  if (n.empty()) return std::nullopt;
  return n;
}

/// The member's name (the first name, for an alias): `Color.RED.name`. ValueError when e
/// holds a value that no member has, as `Color(42)` would raise.
template <PlainEnumeration E>
[[nodiscard]] constexpr std::string_view name(E e) {
  const std::string_view n = detail::Meta<E>::name_of(value(e));
  if (n.empty()) detail::raise_not_valid(value(e), detail::Meta<E>::type_name);
  return n;
}

/// A flag's name, composite names included (`R|W`), or nullopt where Python's is None
/// (zero with no zero member). Bits no member defines: STRICT raises ValueError as Python's
/// constructor does, CONFORM leaves them out, KEEP and EJECT show them as a number (`R|16`).
template <FlagEnumeration E>
[[nodiscard]] std::optional<std::string> name(E e) {
  using M = detail::Meta<E>;
  detail::i128 v = value(e);
  if constexpr (M::boundary == FlagBoundary::STRICT || M::boundary == FlagBoundary::CONFORM) {
    const detail::FlagResult r = detail::resolve_flag<E>(v, M::boundary);
    if (r.outcome == detail::FlagOutcome::out_of_bounds) {
      detail::raise_flag_invalid(M::type_name, v, M::flag_mask);
    }
    if (r.outcome == detail::FlagOutcome::no_members) {
      detail::raise_flag_no_members(M::type_name, r.value);
    }
    v = r.value;
  }
  return detail::flag_name<E>(v);
}

/// The members in definition order, aliases excluded: `list(Color)`. For flags, only the
/// single-bit members, as Python 3.11 iterates them.
template <Enumeration E>
[[nodiscard]] constexpr const auto& members() noexcept {
  return detail::Meta<E>::members;
}

/// Every name with its member, aliases included, in definition order: `Color.__members__`.
template <Enumeration E>
[[nodiscard]] constexpr const auto& members_with_aliases() noexcept {
  return detail::Meta<E>::with_aliases;
}

/// The number of members: `len(Color)`.
template <Enumeration E>
[[nodiscard]] constexpr std::size_t count() noexcept {
  return detail::Meta<E>::count;
}

/// The member named `name` (aliases included), or nullopt. Case-sensitive, as in Python.
template <Enumeration E>
[[nodiscard]] constexpr std::optional<E> try_from_name(std::string_view name) noexcept {
  using M = detail::Meta<E>;
  const int i = M::find_name(name);
  if (i < 0) return std::nullopt;
  return static_cast<E>(M::values[static_cast<std::size_t>(i)]);
}

/// The member named `name`: `Color['RED']`. KeyError('PURPLE') when there is none.
template <Enumeration E>
[[nodiscard]] constexpr E from_name(std::string_view name) {
  using M = detail::Meta<E>;
  const int i = M::find_name(name);
  if (i < 0) detail::raise_no_name(name);
  return static_cast<E>(M::values[static_cast<std::size_t>(i)]);
}

/// The member with value v, `Color(3)`, or nullopt. The enum's
/// `std::optional<E> batteries_enum_missing(E, long long)`, when declared, is asked first
/// about values no member has (Python's `_missing_`). For flags the boundary applies:
/// composites are members, CONFORM drops unknown bits, KEEP keeps them, and STRICT and
/// EJECT give nullopt for values Python would reject or eject.
template <Enumeration E, detail::Integer T>
[[nodiscard]] constexpr std::optional<E> try_from_value(T v) {
  return detail::try_from_wide<E>(static_cast<detail::i128>(v));
}

/// The member with value v: `Color(3)`. ValueError("3 is not a valid Color") when there is
/// none; for a STRICT flag, Python's "invalid value" message with the bits given and allowed.
/// An EJECT flag cannot change its C++ type, so it keeps the bits, as KEEP does; use
/// try_from_value to see where Python would have ejected.
template <Enumeration E, detail::Integer T>
[[nodiscard]] constexpr E from_value(T v) {
  return detail::from_wide<E>(static_cast<detail::i128>(v));
}

/// Whether e is a member: `Color.RED in Color`. For flags, whether e is made only of bits
/// that members define (every such value is a Python pseudo-member).
template <Enumeration E>
[[nodiscard]] constexpr bool contains(E e) noexcept {
  using M = detail::Meta<E>;
  if constexpr (M::flag) {
    const detail::i128 v = value(e);
    return M::has_value(value(e)) || (v >= 0 && (v & ~M::flag_mask) == 0);
  } else {
    return M::has_value(value(e));
  }
}

/// Whether some member has value v: `3 in Color` (Python 3.12).
template <Enumeration E, detail::Integer T>
[[nodiscard]] constexpr bool contains(T v) noexcept {
  const detail::i128 w = static_cast<detail::i128>(v);
  return detail::fits<E>(w) && contains(static_cast<E>(static_cast<std::underlying_type_t<E>>(w)));
}

/// Flag membership: `Perm.R in value`, true when every bit of `member` is set in `value`.
template <FlagEnumeration E>
[[nodiscard]] constexpr bool contains(E value_, E member) noexcept {
  return (value(value_) & value(member)) == value(member);
}

/// The canonical single-bit members set in a flag value, in definition order: `list(value)`.
template <FlagEnumeration E>
class FlagMembers {
 public:
  class iterator {
   public:
    using value_type = E;
    using difference_type = std::ptrdiff_t;
    constexpr iterator() = default;
    constexpr iterator(std::size_t at, std::underlying_type_t<E> bits) : m_at(at), m_bits(bits) {
      skip();
    }
    constexpr E operator*() const noexcept { return detail::Meta<E>::members[m_at]; }
    constexpr iterator& operator++() noexcept {
      ++m_at;
      skip();
      return *this;
    }
    constexpr iterator operator++(int) noexcept {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.m_at == b.m_at;
    }

   private:
    constexpr void skip() noexcept {
      const auto& m = detail::Meta<E>::members;
      while (m_at < m.size() && (value(m[m_at]) & m_bits) == 0) ++m_at;
    }
    std::size_t m_at = 0;
    std::underlying_type_t<E> m_bits{};
  };

  constexpr explicit FlagMembers(E e) noexcept : m_bits(value(e)) {}
  constexpr iterator begin() const noexcept { return iterator(0, m_bits); }
  constexpr iterator end() const noexcept { return iterator(detail::Meta<E>::count, m_bits); }

 private:
  std::underlying_type_t<E> m_bits;
};

/// Iterating a flag value: `for m in value`. Yields single-bit members in definition order.
template <FlagEnumeration E>
[[nodiscard]] constexpr FlagMembers<E> members(E e) noexcept {
  return FlagMembers<E>(e);
}

/// `len(value)` for a flag: the number of set bits, as Python 3.11 counts them.
template <FlagEnumeration E>
[[nodiscard]] constexpr std::size_t count(E e) noexcept {
  return static_cast<std::size_t>(
      std::popcount(static_cast<detail::unsigned_of<std::underlying_type_t<E>>>(value(e))));
}

/// `bool(value)` for a flag: whether any bit is set.
template <FlagEnumeration E>
[[nodiscard]] constexpr bool bool_(E e) noexcept {
  return value(e) != std::underlying_type_t<E>{};
}

/// Python 3.11's str(): `Color.RED`; IntEnum and IntFlag print the number (`1`); a flag
/// with no name prints `Perm(0)`. Never throws for values no member has: an enum prints
/// `Color(42)`, a flag shows the unknown bits (`Perm.R|16`).
template <Enumeration E>
[[nodiscard]] std::string str(E e) {
  using M = detail::Meta<E>;
  if constexpr (M::kind == Kind::IntEnum || M::kind == Kind::IntFlag) {
    return detail::int_str(value(e));
  } else {
    std::string out(M::type_name);
    if constexpr (M::flag) {
      if (auto n = detail::flag_name<E>(value(e))) {
        out += '.';
        out += *n;
        return out;
      }
    } else {
      const std::string_view n = M::name_of(value(e));
      if (!n.empty()) {
        out += '.';
        out += n;
        return out;
      }
    }
    out += '(';
    detail::append_int(out, value(e));
    out += ')';
    return out;
  }
}

/// Python 3.11's repr(): `<Color.RED: 1>`, `<Perm.R|W: 6>`, `<Perm: 0>`. Never throws.
template <Enumeration E>
[[nodiscard]] std::string repr(E e) {
  using M = detail::Meta<E>;
  std::string out = "<";
  out += M::type_name;
  if constexpr (M::flag) {
    if (auto n = detail::flag_name<E>(value(e))) {
      out += '.';
      out += *n;
    }
  } else {
    const std::string_view n = M::name_of(value(e));
    if (!n.empty()) {
      out += '.';
      out += n;
    }
  }
  out += ": ";
  detail::append_int(out, value(e));
  out += '>';
  return out;
}

/// The class name that str() and repr() print: `Color.__name__`.
template <Enumeration E>
[[nodiscard]] constexpr std::string_view type_name() noexcept {
  return detail::Meta<E>::type_name;
}

/// The enum's kind and, for flags, its boundary.
template <Enumeration E>
[[nodiscard]] constexpr Kind kind() noexcept {
  return detail::kind_v<E>;
}
template <FlagEnumeration E>
[[nodiscard]] constexpr FlagBoundary boundary() noexcept {
  return detail::Meta<E>::boundary;
}

/// Python's @unique, at compile time: `static_assert(enums::unique<Color>());` fails to
/// compile when two names share a value.
template <Enumeration E>
consteval bool unique() {
  static_assert(!detail::Meta<E>::has_aliases,
                "batteries::enums::unique: this enum has aliases (two names share one value)");
  return true;
}

}  // namespace batteries::enums

/// A FlagMembers holds only the bits; its iterators do not point into it.
template <class E>
inline constexpr bool std::ranges::enable_borrowed_range<batteries::enums::FlagMembers<E>> = true;
