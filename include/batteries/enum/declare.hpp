// BATTERIES_ENUM and friends: declare a real `enum class` that keeps what reflection cannot.
//
//     BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);             // 1, 2, 3 (Python's auto())
//     BATTERIES_ENUM(Shape, int, (SQUARE, 2), (DIAMOND, 1), CIRCLE, (ALIAS_FOR_SQUARE, 2));
//     BATTERIES_FLAG(Perm, unsigned, R, W, X);                 // 1, 2, 4
//     BATTERIES_INT_FLAG(Perm, unsigned, (R, 4), (W, 2), (X, 1), (RWX, R | W | X));
//
// A bare NAME takes Python's auto() value: the largest value so far plus one (1 for the
// first), or for flags the next power of two. (NAME, expression) gives the value; the
// expression may use the members before it. The result is an ordinary `enum class Name : U`
// usable in switch and templates, plus a constexpr function batteries_enum_declared(Name)
// that records the declaration order, the aliases and the kind. Use the macros at namespace
// scope; for an enum inside a class, use reflection and BATTERIES_ENUM_OPTIONS_FRIEND.
#pragma once

#include "batteries/enum/core.hpp"
#include "batteries/enum/detail/pp.hpp"
#include "batteries/enum/operators.hpp"

#define BATTERIES_ENUM(Name, Underlying, ...) \
  BATTERIES_ENUM_DECLARE_(::batteries::enums::Kind::Enum, Name, Underlying, __VA_ARGS__)
#define BATTERIES_INT_ENUM(Name, Underlying, ...) \
  BATTERIES_ENUM_DECLARE_(::batteries::enums::Kind::IntEnum, Name, Underlying, __VA_ARGS__)
#define BATTERIES_FLAG(Name, Underlying, ...) \
  BATTERIES_ENUM_DECLARE_(::batteries::enums::Kind::Flag, Name, Underlying, __VA_ARGS__)
#define BATTERIES_INT_FLAG(Name, Underlying, ...) \
  BATTERIES_ENUM_DECLARE_(::batteries::enums::Kind::IntFlag, Name, Underlying, __VA_ARGS__)

/// Options for an enum, at namespace scope next to it: the kind for a reflected enum, the
/// flag boundary, the reflection range, the printed name. Names of batteries::enums may be
/// used unqualified: BATTERIES_ENUM_OPTIONS(Perm, .kind = Kind::IntFlag, .boundary = STRICT).
/// With no options it only opts the enum into operator<< and fmt.
#define BATTERIES_ENUM_OPTIONS(Name, ...)                                               \
  [[maybe_unused]] consteval ::batteries::enums::Options batteries_enum_options(Name) { \
    using namespace ::batteries::enums;                                                 \
    return Options{__VA_ARGS__};                                                        \
  }                                                                                     \
  BATTERIES_ENUM_USE_OPERATORS()

/// The same, inside the class that declares the enum. The class's code then needs
/// `using namespace batteries::enums::operators;` where it uses the operators.
#define BATTERIES_ENUM_OPTIONS_FRIEND(Name, ...)                                               \
  [[maybe_unused]] friend consteval ::batteries::enums::Options batteries_enum_options(Name) { \
    using namespace ::batteries::enums;                                                        \
    return Options{__VA_ARGS__};                                                               \
  }

// clang-format off
#define BATTERIES_ENUM_DECLARE_(K, Name, U, ...)                                           \
  enum class Name : U { BATTERIES_PP_ITEMS(BATTERIES_ENUM_ITEM_, (K, U), (K), __VA_ARGS__) }; \
  [[maybe_unused]] constexpr ::batteries::enums::detail::Declared<                          \
      Name, BATTERIES_PP_NARG(__VA_ARGS__)>                                                 \
  batteries_enum_declared(Name) noexcept {                                                  \
    return {K, #Name, {{BATTERIES_PP_FOR_EACH(BATTERIES_ENUM_VALUE_, Name, __VA_ARGS__)}}, \
            {{BATTERIES_PP_FOR_EACH(BATTERIES_ENUM_NAME_, Name, __VA_ARGS__)}}};           \
  }                                                                                         \
  BATTERIES_ENUM_USE_OPERATORS()

#define BATTERIES_ENUM_ITEM_(D, P, x) \
  BATTERIES_PP_IIF(BATTERIES_PP_IS_PAREN(x))(BATTERIES_ENUM_ITEM_PAIR_, BATTERIES_ENUM_ITEM_AUTO_)(D, P, x)
#define BATTERIES_ENUM_ITEM_PAIR_(D, P, x) BATTERIES_PP_PAIR_NAME x = (BATTERIES_PP_PAIR_VALUE x),
#define BATTERIES_ENUM_ITEM_AUTO_(D, P, x) \
  x = ::batteries::enums::detail::auto_value<BATTERIES_ENUM_UNDERLYING_ D>(BATTERIES_PP_REM P),
#define BATTERIES_ENUM_UNDERLYING_(K, U) U
#define BATTERIES_ENUM_VALUE_(Name, x) Name::BATTERIES_PP_NAME(x),
#define BATTERIES_ENUM_NAME_(Name, x) ::std::string_view(BATTERIES_PP_STR(BATTERIES_PP_NAME(x))),
// clang-format on
