// The vocabulary of batteries::enums: kinds, flag boundaries, per-enum options, members.
//
// An enum opts into behaviour by declaring, next to itself (same namespace, or as a friend
// in its class), a consteval function found by argument-dependent lookup:
//
//     enum class Perm : unsigned { X = 1, W = 2, R = 4 };
//     consteval batteries::enums::Options batteries_enum_options(Perm) {
//       return {.kind = batteries::enums::Kind::Flag};
//     }
//
// BATTERIES_ENUM_OPTIONS(Perm, .kind = ...) writes that function and also brings the flag
// and integer operators into the enum's namespace. Everything here is constexpr data, so it is
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace batteries::enums {

/// Which of Python's four base classes the enum behaves like.
enum class Kind : std::uint8_t {
  Enum,     ///< names and values only; no arithmetic, no comparison with integers
  IntEnum,  ///< members compare with and convert to integers
  Flag,     ///< |, &, ^ and ~ between members; composite values have names
  IntFlag,  ///< a Flag that also mixes with integers
};

/// Python's enum.FlagBoundary: what a Flag does with bits no member defines.
enum class FlagBoundary : std::uint8_t {
  STRICT,   ///< raise ValueError (Flag's default)
  CONFORM,  ///< drop the unknown bits
  EJECT,    ///< stop being a flag (see docs/enum.md for the C++ spelling)
  KEEP,     ///< keep them and show them as a number (IntFlag's default)
};
inline constexpr FlagBoundary STRICT = FlagBoundary::STRICT;
inline constexpr FlagBoundary CONFORM = FlagBoundary::CONFORM;
inline constexpr FlagBoundary EJECT = FlagBoundary::EJECT;
inline constexpr FlagBoundary KEEP = FlagBoundary::KEEP;

/// Per-enum configuration, returned by the enum's batteries_enum_options() function.
struct Options {
  Kind kind = Kind::Enum;
  /// The flag boundary; unset means STRICT for Flag and KEEP for IntFlag, as in Python.
  std::optional<FlagBoundary> boundary = std::nullopt;
  /// The values reflection scans for an undeclared, non-flag enum (inclusive, clamped to
  /// the underlying type). Flags scan every bit position instead.
  long long min = -128;
  long long max = 255;
  /// The class name printed by str() and repr(); empty means the C++ type's own name.
  std::string_view name = {};
};

/// One entry of Python's `__members__`: a name and its member (aliases included).
template <class E>
struct Member {
  std::string_view name;
  E value;

  friend constexpr bool operator==(const Member&, const Member&) = default;
};

}  // namespace batteries::enums
