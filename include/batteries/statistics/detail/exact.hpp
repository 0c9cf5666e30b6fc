// Exact accumulators behind batteries::statistics: sums of doubles and integers with no rounding.
//
// ExactSum is a superaccumulator in the spirit of Radford Neal's xsum (arXiv 1505.05571): the
// sum is kept as 32-bit digits, one per 32 binary exponents, each held in a signed 64-bit
// chunk so that thousands of additions can land in a chunk before its carries must be passed
// up. Adding a double costs a decode and two integer additions; nothing is ever rounded. The
// digits are turned into one exactly rounded result at the end (src/statistics/exact.cpp,
// which uses GMP for the big-integer steps). SquareSum keeps the exact sum of squares of
// doubles: x*x splits exactly into two doubles with fma wherever neither half overflows or
// underflows, and the rare values outside that range go to WideSum, a wider accumulator fed
// with the 106-bit integer square. IntSum and IntSquareSum do the same for integer data.
//
// Thread-safety: an accumulator is a plain value; one per thread, merged at the end.
#pragma once

#include <batteries/errors.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

namespace batteries::statistics::detail {

__extension__ using Int128 = __int128;
__extension__ using UInt128 = unsigned __int128;

/// Adds v << bit to the 32-bit digits chunk[bit / 32 ...]: five digits, each below 2^32.
inline void spread_digits(std::int64_t* chunk, UInt128 v, unsigned bit, bool negative) noexcept {
  const unsigned shift = bit & 31;
  std::int64_t* at = chunk + (bit >> 5);
  const UInt128 shifted = v << shift;
  const std::uint64_t top = shift == 0 ? 0 : static_cast<std::uint64_t>(v >> (128 - shift));
  const std::uint32_t digits[5] = {
      static_cast<std::uint32_t>(shifted), static_cast<std::uint32_t>(shifted >> 32),
      static_cast<std::uint32_t>(shifted >> 64), static_cast<std::uint32_t>(shifted >> 96),
      static_cast<std::uint32_t>(top)};
  for (const std::uint32_t digit : digits) {
    *at++ += negative ? -static_cast<std::int64_t>(digit) : static_cast<std::int64_t>(digit);
  }
}

/// Passes carries up a chunk array so that every chunk but the top one is a digit in
/// [0, 2^32); the top one keeps the sign.
inline void carry_digits(std::int64_t* chunk, int count) noexcept {
  for (int i = 0; i < count - 1; ++i) {
    const std::int64_t up = chunk[i] >> 32;  // floor division: keeps the digit >= 0
    chunk[i] -= up * (std::int64_t{1} << 32);
    chunk[i + 1] += up;
  }
}

/// A finite double as significand * 2^(pos - 1074): significand below 2^53, pos below 2046.
struct Decoded {
  std::uint64_t significand;
  unsigned pos;
};

/// Decodes a finite double (the exponent field must not be all ones).
inline Decoded decode_finite(std::uint64_t bits) noexcept {
  std::uint64_t exp = (bits >> 52) & 0x7FF;
  std::uint64_t mant = bits & ((std::uint64_t{1} << 52) - 1);
  // A normal number is (2^52 + mant) * 2^(exp - 1075); a subnormal mant * 2^-1074.
  mant |= static_cast<std::uint64_t>(exp != 0) << 52;
  exp += static_cast<std::uint64_t>(exp == 0);
  return {mant, static_cast<unsigned>(exp - 1)};
}

/// Exact sum of doubles, with Python's bookkeeping of NaNs and infinities on the side.
class ExactSum {
 public:
  /// Digits are 32 bits wide; chunk i holds the digit for 2^(32 i - 1074).
  static constexpr int kChunks = 70;
  static constexpr int kScale = -1074;
  /// Additions a chunk can take between carry passes: each adds less than 2^52.
  static constexpr int kRoom = 2000;

  enum : unsigned { kNan = 1, kPosInf = 2, kNegInf = 4 };

  /// Adds x exactly. NaN and infinities are only noted.
  void add(double x) noexcept {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
    if (((bits >> 52) & 0x7FF) == 0x7FF) [[unlikely]] {
      m_flags |= (bits << 12) != 0 ? kNan : (bits >> 63) != 0 ? kNegInf : kPosInf;
      return;
    }
    const auto [mant, pos] = decode_finite(bits);
    const unsigned shift = pos & 31;
    const unsigned index = pos >> 5;
    const auto low = static_cast<std::int64_t>((mant << shift) & 0xFFFFFFFFu);
    const auto high = static_cast<std::int64_t>(mant >> (32 - shift));
    const std::int64_t sign = static_cast<std::int64_t>(bits) >> 63;  // 0 or -1
    m_chunk[index] += (low ^ sign) - sign;
    m_chunk[index + 1] += (high ^ sign) - sign;
    if (--m_room == 0) [[unlikely]] {
      carry();
    }
  }

  /// Adds v * 2^(pos - 1074) (or subtracts it), for v below 2^117.
  void add_digits(UInt128 v, unsigned pos, bool negative) noexcept {
    spread_digits(m_chunk, v, pos, negative);
    if (--m_room == 0) [[unlikely]] {
      carry();
    }
  }

  /// Adds everything other holds.
  void merge(const ExactSum& other) noexcept {
    ExactSum copy = other;
    copy.carry();
    carry();
    for (int i = 0; i < kChunks; ++i) {
      m_chunk[i] += copy.m_chunk[i];
    }
    m_flags |= copy.m_flags;
    carry();
  }

  /// Passes carries up so that every chunk but the top one is a digit in [0, 2^32).
  void carry() noexcept {
    carry_digits(m_chunk, kChunks);
    m_room = kRoom;
  }

  [[nodiscard]] unsigned flags() const noexcept { return m_flags; }
  [[nodiscard]] bool finite() const noexcept { return m_flags == 0; }
  [[nodiscard]] const std::int64_t* chunks() const noexcept { return m_chunk; }

  /// The float Python's running sum of the special values comes to: NaN when there is a NaN
  /// or infinities of both signs, otherwise the infinity. Only meaningful when !finite().
  [[nodiscard]] double special_value() const noexcept {
    if ((m_flags & kNan) != 0 || (m_flags & (kPosInf | kNegInf)) == (kPosInf | kNegInf)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    return (m_flags & kPosInf) != 0 ? std::numeric_limits<double>::infinity()
                                    : -std::numeric_limits<double>::infinity();
  }

 private:
  std::int64_t m_chunk[kChunks] = {};
  int m_room = kRoom;
  unsigned m_flags = 0;
};

/// Exact sum of squares of doubles, in units of 2^-2148 (the square of the smallest subnormal).
class WideSum {
 public:
  static constexpr int kChunks = 136;
  /// Each addition puts less than 2^32 in a chunk.
  static constexpr int kRoom = 1 << 30;

  /// Adds mant^2 * 2^(2 * pos) (mant < 2^53, pos < 2046).
  void add_square(std::uint64_t mant, unsigned pos) noexcept {
    add_digits(static_cast<UInt128>(mant) * mant, 2 * pos);
  }

  /// Adds v * 2^(bit - 2148).
  void add_digits(UInt128 v, unsigned bit) noexcept {
    spread_digits(m_chunk, v, bit, false);
    m_used = true;
    if (--m_room == 0) [[unlikely]] {
      carry();
    }
  }

  void merge(const WideSum& other) noexcept {
    WideSum copy = other;
    copy.carry();
    carry();
    for (int i = 0; i < kChunks; ++i) {
      m_chunk[i] += copy.m_chunk[i];
    }
    carry();
    m_used = m_used || other.m_used;
  }

  void carry() noexcept {
    carry_digits(m_chunk, kChunks);
    m_room = kRoom;
  }

  [[nodiscard]] bool used() const noexcept { return m_used; }
  [[nodiscard]] const std::int64_t* chunks() const noexcept { return m_chunk; }

 private:
  std::int64_t m_chunk[kChunks] = {};
  int m_room = kRoom;
  bool m_used = false;
};

/// Exact sum of x*x over doubles x (NaN and infinities are noted, not added).
class SquareSum {
 public:
  void add(double x) noexcept {
    const double ax = std::fabs(x);
    // For 2^-484 <= |x| < 2^510, x*x = p + e exactly with both halves normal doubles.
    if (ax >= 0x1p-484 && ax < 0x1p510) [[likely]] {
      const double p = x * x;
      m_fast.add(p);
      m_fast.add(std::fma(x, x, -p));
      return;
    }
    add_wide(x);
  }

  void merge(const SquareSum& other) noexcept {
    m_fast.merge(other.m_fast);
    if (other.m_wide.used()) {
      m_wide.merge(other.m_wide);
    }
  }

  [[nodiscard]] const ExactSum& fast() const noexcept { return m_fast; }
  [[nodiscard]] const WideSum& wide() const noexcept { return m_wide; }
  [[nodiscard]] WideSum& wide() noexcept { return m_wide; }

 private:
  void add_wide(double x) noexcept {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
    if (((bits >> 52) & 0x7FF) == 0x7FF) {
      m_fast.add(std::fabs(x));  // only noted: NaN, or +inf (a square is never negative)
      return;
    }
    const auto [mant, pos] = decode_finite(bits);
    m_wide.add_square(mant, pos);
  }

  ExactSum m_fast;
  WideSum m_wide;
};

/// Exact sum of integers of up to 64 bits (2^64 of them cannot overflow 128 bits).
class IntSum {
 public:
  void add(Int128 x) noexcept { m_sum += x; }
  void merge(const IntSum& other) noexcept { m_sum += other.m_sum; }
  [[nodiscard]] Int128 value() const noexcept { return m_sum; }

 private:
  Int128 m_sum = 0;
};

/// Exact sum of squares of integers below 2^66 in magnitude, in 256 bits.
class IntSquareSum {
 public:
  void add_square(Int128 d) noexcept {
    const UInt128 mag = d < 0 ? static_cast<UInt128>(-d) : static_cast<UInt128>(d);
    const auto lo = static_cast<std::uint64_t>(mag);
    const auto hi = static_cast<std::uint64_t>(mag >> 64);
    add_at(static_cast<UInt128>(lo) * lo, 0);
    if (hi != 0) [[unlikely]] {
      // (hi*2^64 + lo)^2 = hi^2 * 2^128 + 2*hi*lo * 2^64 + lo^2
      const UInt128 cross = static_cast<UInt128>(hi) * lo;
      add_at(cross, 1);
      add_at(cross, 1);
      add_at(static_cast<UInt128>(hi) * hi, 2);
    }
  }

  void merge(const IntSquareSum& other) noexcept {
    for (int i = 0; i < 4; i += 2) {
      add_at(static_cast<UInt128>(other.m_word[i + 1]) << 64 | other.m_word[i], i);
    }
  }

  /// Little-endian 64-bit words of the (non-negative) sum.
  [[nodiscard]] const std::uint64_t* words() const noexcept { return m_word; }

 private:
  /// Adds v * 2^(64 * word).
  void add_at(UInt128 v, int word) noexcept {
    UInt128 carry = v;
    for (int i = word; i < 4 && carry != 0; ++i) {
      const UInt128 sum = static_cast<UInt128>(m_word[i]) + static_cast<std::uint64_t>(carry);
      m_word[i] = static_cast<std::uint64_t>(sum);
      carry = (carry >> 64) + (sum >> 64);
    }
  }

  std::uint64_t m_word[4] = {};
};

/// A 128-bit bin: the low and high words of a sum of significands.
struct BinCell {
  std::uint64_t lo;
  std::uint64_t hi;
};

/// cell += hi * 2^64 + lo. On x86-64 this is add and adc straight to memory: GCC compiles the
/// same from C++ into stack spills and a merged 16-byte store, at twice the cost.
[[gnu::always_inline]] inline void add_to_cell(BinCell& cell, std::uint64_t lo,
                                               std::uint64_t hi) noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  asm("addq %2, %0\n\tadcq %3, %1" : "+m"(cell.lo), "+m"(cell.hi) : "r"(lo), "r"(hi) : "cc");
#else
  const std::uint64_t sum_lo = cell.lo + lo;
  cell.hi += hi + (sum_lo < lo ? 1 : 0);
  cell.lo = sum_lo;
#endif
}

/// An exact sum of a long stream of doubles computed on the fly (covariance's products):
/// each value goes into a 128-bit bin per sign and exponent, a few integer instructions, and
/// finish() moves the bins into an ExactSum. Its 64 KiB of bins are its own, so several can
/// be fed in one loop. Worth it from a few thousand values on.
class BinnedSum {
 public:
  BinnedSum();

  void add(double x) noexcept {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
    const std::uint64_t index = bits >> 52;
    if (((index & 0x7FF) - 1) >= 0x7FE) [[unlikely]] {
      m_rest.add(x);  // zeros, subnormals, infinities and NaN
      return;
    }
    add_to_cell(m_cells[index], (bits & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1} << 52),
                0);
  }

  /// Adds everything to out and empties the bins.
  void finish(ExactSum& out);

 private:
  std::unique_ptr<BinCell[]> m_cells;
  ExactSum m_rest;
};

/// Adds n contiguous doubles to sum, and their squares to squares when it is not null, through
/// thread-local bins: a 128-bit sum of significands per sign and exponent, and of squared
/// significands per exponent, flushed into the accumulators at the end. Each value then costs
/// a few integer instructions. Worth it from a few thousand values on.
void add_binned(ExactSum& sum, WideSum* squares, const double* values, std::size_t n);

/// The lengths from which add_binned() and BinnedSum pay for their setup and final flush.
inline constexpr std::size_t kBinnedFrom = 512;
inline constexpr std::size_t kBinnedSumFrom = 16384;

// ---- The finish: exact values to one correctly rounded double (src/statistics/exact.cpp) ----

/// How an exact ratio ends: as the correctly rounded value, or its correctly rounded square root.
enum class Finish { value, sqrt };

/// sum / n, correctly rounded (n > 0, the sum finite).
[[nodiscard]] double exact_mean(const ExactSum& sum, std::uint64_t n);
[[nodiscard]] double exact_mean(const IntSum& sum, std::uint64_t n);

/// math.fsum's result: the correctly rounded sum, with fsum's errors: ValueError for
/// infinities of both signs, OverflowError('intermediate overflow in fsum') when the
/// rounded sum overflows; NaN and one-signed infinities come back as they are.
[[nodiscard]] double fsum_result(const ExactSum& sum);

/// The exact sum of squared deviations ss = (n*sxx - sx^2)/n, divided by `divisor`,
/// finished as asked: the variance (OverflowError, as Python's int/int division, when it is
/// too large for a double) or the standard deviation. sx and sxx must be finite.
[[nodiscard]] double exact_spread(const ExactSum& sx, const SquareSum& sxx, std::uint64_t n,
                                  std::uint64_t divisor, Finish finish);
[[nodiscard]] double exact_spread(const IntSum& sx, const IntSquareSum& sxx, std::uint64_t n,
                                  std::uint64_t divisor, Finish finish);

/// sum / divisor (the sum of squared deviations from a given centre), finished as asked.
[[nodiscard]] double exact_ratio(const ExactSum& sum, std::uint64_t divisor, Finish finish);
[[nodiscard]] double exact_ratio(const IntSquareSum& sum, std::uint64_t divisor, Finish finish);

/// num / den for two exact sums (harmonic_mean's sum of weights over the weighted sum of
/// reciprocals), correctly rounded; den > 0.
[[nodiscard]] double exact_quotient(const ExactSum& num, const ExactSum& den);
[[nodiscard]] double exact_quotient(const IntSum& num, const ExactSum& den);

/// The exact sum as a double, correctly rounded (±inf when it overflows).
[[nodiscard]] double exact_value(const ExactSum& sum);
/// Python's float(Fraction) of the sum: correctly rounded, OverflowError('integer division
/// result too large for a float') when it overflows.
[[nodiscard]] double exact_float(const ExactSum& sum);
/// The exact sign of the sum: -1, 0 or 1.
[[nodiscard]] int exact_sign(const ExactSum& sum);

/// a / b for integers (b != 0), correctly rounded, as Python's int / int.
[[nodiscard]] double int_quotient(Int128 a, Int128 b);

/// (a * wa + b * wb) / n and a - b * c, each operation rounded on its own as Python rounds it.
/// Out of line because the library is built with -ffp-contract=off: inline in a caller built
/// with FMA enabled, the compiler may fuse a multiply and an add and change the last bit.
[[nodiscard]] double weighted_pair(double a, double wa, double b, double wb, double n) noexcept;
[[nodiscard]] double minus_product(double a, double b, double c) noexcept;

/// A 128-bit integer rounded to the nearest double (ties to even).
[[nodiscard]] double int128_to_double(Int128 x) noexcept;

}  // namespace batteries::statistics::detail
