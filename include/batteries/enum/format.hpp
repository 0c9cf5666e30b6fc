// fmt support for batteries enums: `fmt::format("{}", Color::RED)` gives "Color.RED".
//
// Enabled for enums that opted in (declared with BATTERIES_ENUM, or given options), so that
// no other enum in the program changes how it prints. Enum and Flag format str(), with the
// width and alignment of a string; IntEnum and IntFlag format their integer value, with any
// integer format spec, as Python's format() does.
#pragma once

#include <fmt/format.h>

#include <string>
#include <type_traits>

#include "batteries/enum/core.hpp"

template <batteries::enums::Managed E>
struct fmt::formatter<E, char>
    : fmt::formatter<std::conditional_t<batteries::enums::IntEnumeration<E>,
                                        std::underlying_type_t<E>, fmt::string_view>,
                     char> {
  template <class FormatContext>
  auto format(E e, FormatContext& ctx) const -> decltype(ctx.out()) {
    if constexpr (batteries::enums::IntEnumeration<E>) {
      return fmt::formatter<std::underlying_type_t<E>, char>::format(batteries::enums::value(e),
                                                                     ctx);
    } else {
      const std::string s = batteries::enums::str(e);
      return fmt::formatter<fmt::string_view, char>::format(fmt::string_view(s), ctx);
    }
  }
};
