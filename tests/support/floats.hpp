// Doubles in tests: bitwise comparison, and an exact text form that Python reads back.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace batteries::testing {

/// Bitwise equality, with every NaN equal to every other (+0.0 and -0.0 differ).
inline bool same_bits(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

/// C's %a form of x (0x1.8p+1), exact, which Python's float.fromhex reads.
inline std::string hex_double(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", x);
  return buffer;
}

}  // namespace batteries::testing
