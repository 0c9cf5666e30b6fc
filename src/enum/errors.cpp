// The cold paths of batteries::enums: Python's error messages, built and thrown out of line.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "batteries/enum/core.hpp"
#include "batteries/errors.hpp"

namespace batteries::enums::detail {

void append_int(std::string& out, i128 value) {
  if (value < 0) {
    out += '-';
  }
  // Digits of |value|, least significant first; the most negative i128 never reaches here
  // (values come from 64-bit integers).
  u128 u = value < 0 ? static_cast<u128>(-value) : static_cast<u128>(value);
  char buf[48];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  while (n > 0) out += buf[--n];
}

std::string int_str(i128 value) {
  std::string out;
  append_int(out, value);
  return out;
}

void raise_not_valid(i128 value, std::string_view type_name) {
  std::string msg = int_str(value);
  msg += " is not a valid ";
  msg += type_name;
  throw ValueError(msg);
}

void raise_no_name(std::string_view name) { throw KeyError(py_repr(name)); }

namespace {

// Python's enum.bin(): two's complement with a sign digit, padded to max_bits digits.
std::string python_bin(i128 num, int max_bits) {
  std::string digits;
  std::string sign;
  if (num >= 0) {
    for (i128 v = num; v > 0; v >>= 1) digits.insert(digits.begin(), (v & 1) ? '1' : '0');
    sign = "0b0";
  } else {
    // The low bit_length(num) bits of num's two's complement, under a '1' sign digit.
    int bits = 0;
    for (i128 v = -num; v > 0; v >>= 1) ++bits;
    for (int i = bits - 1; i >= 0; --i) digits += ((num >> i) & 1) ? '1' : '0';
    sign = "0b1";
  }
  if (static_cast<int>(digits.size()) < max_bits) {
    digits.insert(digits.begin(), static_cast<std::size_t>(max_bits) - digits.size(), sign.back());
  }
  return sign + " " + digits;
}

int python_bit_length(i128 v) {
  if (v < 0) v = -v;
  int n = 0;
  for (; v > 0; v >>= 1) ++n;
  return n;
}

}  // namespace

void raise_flag_invalid(std::string_view type_name, i128 value, i128 flag_mask) {
  const int max_bits = std::max(python_bit_length(value), python_bit_length(flag_mask));
  throw ValueError(fmt::format("<flag '{}'> invalid value {}\n    given {}\n  allowed {}",
                               type_name, int_str(value), python_bin(value, max_bits),
                               python_bin(flag_mask, max_bits)));
}

void raise_flag_no_members(std::string_view type_name, i128 unknown) {
  throw ValueError(
      fmt::format("<flag '{}'>: no members with value {}", type_name, int_str(unknown)));
}

}  // namespace batteries::enums::detail
