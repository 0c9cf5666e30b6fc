// Operators for batteries enums: flag set operations, and integer behaviour for IntEnum/IntFlag.
//
// The operators live in batteries::enums::operators and are constrained on the enum's kind,
// so they do nothing for other enums. BATTERIES_ENUM and BATTERIES_ENUM_OPTIONS bring them
// into the enum's own namespace with using-declarations, where argument-dependent lookup
// finds them; `using namespace batteries::enums::operators;` works as well. A plain Enum gets
// none of them, so comparing it with an int or doing arithmetic on it does not compile.
#pragma once

#include <compare>
#include <ostream>
#include <type_traits>
#include <utility>

#include "batteries/enum/core.hpp"

namespace batteries::enums::operators {

// ---- Flag and IntFlag: |, &, ^, ~ between members ------------------------------------------

template <FlagEnumeration E>
constexpr E operator|(E a, E b) noexcept {
  return static_cast<E>(value(a) | value(b));
}
template <FlagEnumeration E>
constexpr E operator&(E a, E b) noexcept {
  return static_cast<E>(value(a) & value(b));
}
template <FlagEnumeration E>
constexpr E operator^(E a, E b) noexcept {
  return static_cast<E>(value(a) ^ value(b));
}

/// Python 3.11's `~`: within the single-bit members for STRICT and CONFORM; for KEEP the
/// complement of the whole value, brought back to the flag's bits as Python does (a result
/// wider than the underlying type wraps). Where Python's EJECT would give a plain int, an
/// EJECT flag here gives the complement within the single-bit members, as CONFORM does.
template <FlagEnumeration E>
constexpr E operator~(E a) noexcept {
  using M = detail::Meta<E>;
  using U = std::underlying_type_t<E>;
  const detail::i128 v = value(a);
  if constexpr (M::boundary != FlagBoundary::KEEP) {
    return static_cast<E>(static_cast<U>(M::singles_mask & ~v));
  } else {
    return static_cast<E>(static_cast<U>(detail::resolve_flag<E>(~v, FlagBoundary::KEEP).value));
  }
}

template <FlagEnumeration E>
constexpr E& operator|=(E& a, E b) noexcept {
  return a = a | b;
}
template <FlagEnumeration E>
constexpr E& operator&=(E& a, E b) noexcept {
  return a = a & b;
}
template <FlagEnumeration E>
constexpr E& operator^=(E& a, E b) noexcept {
  return a = a ^ b;
}

/// `not value`.
template <FlagEnumeration E>
constexpr bool operator!(E a) noexcept {
  return !bool_(a);
}

// ---- IntFlag with integers: the result goes through the boundary, as IntFlag(v) would ----

template <class E>
concept IntFlagEnumeration = FlagEnumeration<E> && detail::kind_v<E>
== Kind::IntFlag;

template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator|(E a, T b) {
  return detail::from_wide<E>(static_cast<detail::i128>(value(a)) | static_cast<detail::i128>(b));
}
template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator|(T a, E b) {
  return b | a;
}
template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator&(E a, T b) {
  return detail::from_wide<E>(static_cast<detail::i128>(value(a)) & static_cast<detail::i128>(b));
}
template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator&(T a, E b) {
  return b & a;
}
template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator^(E a, T b) {
  return detail::from_wide<E>(static_cast<detail::i128>(value(a)) ^ static_cast<detail::i128>(b));
}
template <IntFlagEnumeration E, detail::Integer T>
constexpr E operator^(T a, E b) {
  return b ^ a;
}

// ---- IntEnum and IntFlag: members are integers ----------------------------------------------

template <IntEnumeration E, detail::Integer T>
constexpr bool operator==(E a, T b) noexcept {
  return std::cmp_equal(value(a), b);
}
template <IntEnumeration E, detail::Integer T>
constexpr std::strong_ordering operator<=>(E a, T b) noexcept {
  if (std::cmp_less(value(a), b)) return std::strong_ordering::less;
  if (std::cmp_greater(value(a), b)) return std::strong_ordering::greater;
  return std::strong_ordering::equal;
}

/// `+member`: the member's integer value.
template <IntEnumeration E>
constexpr auto operator+(E a) noexcept {
  return +value(a);
}
template <IntEnumeration E>
constexpr auto operator-(E a) noexcept {
  return -value(a);
}

// IntEnum (not IntFlag) bitwise operations give plain integers, as in Python.
template <class E>
concept IntEnumOnly = IntEnumeration<E> && !FlagEnumeration<E>;

// OP between a member and an integer, either way round, or two members: the integer result.
#define BATTERIES_ENUM_INT_OPERATOR_(CONCEPT, OP) \
  template <CONCEPT E, detail::Integer T>         \
  constexpr auto operator OP(E a, T b) noexcept { \
    return value(a) OP b;                         \
  }                                               \
  template <CONCEPT E, detail::Integer T>         \
  constexpr auto operator OP(T a, E b) noexcept { \
    return a OP value(b);                         \
  }                                               \
  template <CONCEPT E>                            \
  constexpr auto operator OP(E a, E b) noexcept { \
    return value(a) OP value(b);                  \
  }
BATTERIES_ENUM_INT_OPERATOR_(IntEnumeration, +)
BATTERIES_ENUM_INT_OPERATOR_(IntEnumeration, -)
BATTERIES_ENUM_INT_OPERATOR_(IntEnumeration, *)
BATTERIES_ENUM_INT_OPERATOR_(IntEnumOnly, |)
BATTERIES_ENUM_INT_OPERATOR_(IntEnumOnly, &)
BATTERIES_ENUM_INT_OPERATOR_(IntEnumOnly, ^)
#undef BATTERIES_ENUM_INT_OPERATOR_

template <IntEnumOnly E>
constexpr auto operator~(E a) noexcept {
  return ~value(a);
}

// ---- printing -------------------------------------------------------------------------------

/// Prints str(e), for enums that opted in (declared, or given options).
template <Managed E>
std::ostream& operator<<(std::ostream& os, E e) {
  return os << str(e);
}

}  // namespace batteries::enums::operators

/// Brings the operators into the current namespace, where ADL finds them for its enums.
#define BATTERIES_ENUM_USE_OPERATORS()              \
  using ::batteries::enums::operators::operator|;   \
  using ::batteries::enums::operators::operator&;   \
  using ::batteries::enums::operators::operator^;   \
  using ::batteries::enums::operators::operator~;   \
  using ::batteries::enums::operators::operator|=;  \
  using ::batteries::enums::operators::operator&=;  \
  using ::batteries::enums::operators::operator^=;  \
  using ::batteries::enums::operators::operator!;   \
  using ::batteries::enums::operators::operator==;  \
  using ::batteries::enums::operators::operator<=>; \
  using ::batteries::enums::operators::operator+;   \
  using ::batteries::enums::operators::operator-;   \
  using ::batteries::enums::operators::operator*;   \
  using ::batteries::enums::operators::operator<<
