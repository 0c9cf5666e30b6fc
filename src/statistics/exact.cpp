// The finish of batteries::statistics' exact sums: big-integer ratios and square roots, rounded
// once.
//
// Every exact value here is an integer times a power of two. A ratio is rounded by taking an
// integer quotient with at least 55 significant bits plus a sticky bit for the remainder, which
// is enough to round to 53 bits (or fewer, for subnormals) with ties to even. A square root
// takes the integer square root of such a quotient the same way. GMP does the big-integer work.
#include <batteries/errors.hpp>
#include <batteries/statistics/detail/exact.hpp>

#include <gmp.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

namespace batteries::statistics::detail {
namespace {

/// An mpz_t that frees itself.
class Big {
 public:
  Big() { mpz_init(m_z); }
  Big(const Big&) = delete;
  Big& operator=(const Big&) = delete;
  ~Big() { mpz_clear(m_z); }

  mpz_ptr get() noexcept { return m_z; }
  mpz_srcptr get() const noexcept { return m_z; }
  [[nodiscard]] int sign() const noexcept { return mpz_sgn(m_z); }
  [[nodiscard]] long bits() const noexcept {
    return sign() == 0 ? 0 : static_cast<long>(mpz_sizeinbase(m_z, 2));
  }

 private:
  mpz_t m_z;
};

/// Loads digits held in signed 64-bit chunks (after a carry pass: all but the top in
/// [0, 2^32)) as the integer sum of chunk[i] * 2^(32 i).
void load_chunks(mpz_ptr out, const std::int64_t* chunk, int count) {
  std::uint32_t digits[WideSum::kChunks];
  for (int i = 0; i < count - 1; ++i) {
    digits[i] = static_cast<std::uint32_t>(chunk[i]);
  }
  mpz_import(out, static_cast<std::size_t>(count - 1), -1, sizeof(std::uint32_t), 0, 0, digits);
  Big top;
  mpz_set_si(top.get(), chunk[count - 1]);
  mpz_mul_2exp(top.get(), top.get(), static_cast<mp_bitcnt_t>(32 * (count - 1)));
  mpz_add(out, out, top.get());
}

/// The exact value of an ExactSum, in units of 2^-1074.
void load(mpz_ptr out, const ExactSum& sum) {
  ExactSum copy = sum;
  copy.carry();
  load_chunks(out, copy.chunks(), ExactSum::kChunks);
}

void load(mpz_ptr out, const WideSum& sum) {
  WideSum copy = sum;
  copy.carry();
  load_chunks(out, copy.chunks(), WideSum::kChunks);
}

void load(mpz_ptr out, UInt128 magnitude, bool negative) {
  const std::uint64_t words[2] = {static_cast<std::uint64_t>(magnitude),
                                  static_cast<std::uint64_t>(magnitude >> 64)};
  mpz_import(out, 2, -1, sizeof(std::uint64_t), 0, 0, words);
  if (negative) {
    mpz_neg(out, out);
  }
}

void load(mpz_ptr out, Int128 value) {
  load(out, value < 0 ? -static_cast<UInt128>(value) : static_cast<UInt128>(value), value < 0);
}

void load(mpz_ptr out, const IntSquareSum& sum) {
  mpz_import(out, 4, -1, sizeof(std::uint64_t), 0, 0, sum.words());
}

void load(mpz_ptr out, std::uint64_t value) { load(out, static_cast<UInt128>(value), false); }

/// Rounds (q + f) * 2^exp to the nearest double, ties to even, where q >= 0 and f is 0 when
/// sticky is false and strictly between 0 and 1 when it is true. When sticky is true, q must
/// have at least 55 bits or the result must be subnormal, so that f only breaks ties.
/// Sets `overflow` instead of returning an infinity.
double round_scaled(const Big& q, long exp, bool sticky, bool negative, bool& overflow) {
  overflow = false;
  const long bits = q.bits();
  if (bits == 0) {
    return sticky && negative ? -0.0 : 0.0;
  }
  const long top = bits - 1 + exp;  // floor(log2(value))
  if (top >= 1024) {
    overflow = true;
    return 0.0;
  }
  const long ulp = std::max(top - 52, -1074L);
  const long drop = ulp - exp;
  std::uint64_t kept = 0;
  if (drop <= 0) {
    kept = mpz_get_ui(q.get()) << -drop;
  } else {
    Big high;
    mpz_fdiv_q_2exp(high.get(), q.get(), static_cast<mp_bitcnt_t>(drop));
    kept = mpz_get_ui(high.get());
    const bool half = mpz_tstbit(q.get(), static_cast<mp_bitcnt_t>(drop - 1)) != 0;
    const bool below =
        sticky || (drop >= 2 && mpz_scan1(q.get(), 0) < static_cast<mp_bitcnt_t>(drop - 1));
    if (half && (below || (kept & 1) != 0)) {
      ++kept;
    }
  }
  const double value = std::ldexp(static_cast<double>(kept), static_cast<int>(ulp));
  if (std::isinf(value)) {
    overflow = true;
    return 0.0;
  }
  return negative ? -value : value;
}

/// num * 2^exp / den, correctly rounded; num may be negative, den > 0.
double round_ratio(const Big& num, long exp, const Big& den, bool& overflow) {
  overflow = false;
  if (num.sign() == 0) {
    return 0.0;
  }
  Big n;
  mpz_abs(n.get(), num.get());
  const long shift = std::max(0L, 55 + den.bits() - n.bits());
  mpz_mul_2exp(n.get(), n.get(), static_cast<mp_bitcnt_t>(shift));
  Big q;
  Big r;
  mpz_tdiv_qr(q.get(), r.get(), n.get(), den.get());
  return round_scaled(q, exp - shift, r.sign() != 0, num.sign() < 0, overflow);
}

/// sqrt(num * 2^exp / den), correctly rounded; num >= 0, den > 0.
double round_sqrt_ratio(const Big& num, long exp, const Big& den, bool& overflow) {
  overflow = false;
  if (num.sign() == 0) {
    return 0.0;
  }
  Big n;
  mpz_set(n.get(), num.get());
  if ((exp & 1) != 0) {  // make the exponent even, so that its half is exact
    mpz_mul_2exp(n.get(), n.get(), 1);
    --exp;
  }
  // Scale by 4^t so that the integer quotient has at least 110 bits: its root then has 55.
  const long need = 112 + den.bits() - n.bits();
  const long t = need > 0 ? (need + 1) / 2 : 0;
  mpz_mul_2exp(n.get(), n.get(), static_cast<mp_bitcnt_t>(2 * t));
  Big q;
  Big r;
  mpz_tdiv_qr(q.get(), r.get(), n.get(), den.get());
  Big root;
  Big rest;
  mpz_sqrtrem(root.get(), rest.get(), q.get());
  return round_scaled(root, exp / 2 - t, r.sign() != 0 || rest.sign() != 0, false, overflow);
}

[[noreturn]] void raise_division_overflow() {
  throw OverflowError("integer division result too large for a float");
}

/// Finishes num * 2^exp / den as asked, with Python's OverflowError for int/int division.
double finish(const Big& num, long exp, const Big& den, Finish how) {
  bool overflow = false;
  const double value = how == Finish::sqrt ? round_sqrt_ratio(num, exp, den, overflow)
                                           : round_ratio(num, exp, den, overflow);
  if (overflow) {
    raise_division_overflow();
  }
  return value;
}

/// n * divisor as a big integer.
void load_product(mpz_ptr out, std::uint64_t a, std::uint64_t b) {
  load(out, static_cast<UInt128>(a) * b, false);
}

/// The bins behind add_binned(), with the lanes of one bin side by side. All zero between calls.
struct Bins {
  static constexpr int kLanes = 4;
  using Cell = BinCell;
  Cell sum[4096][kLanes];      // by sign and exponent: the 128-bit sum of significands
  Cell squares[2048][kLanes];  // by exponent: the 128-bit sum of squared significands
};

Bins& thread_bins() {
  thread_local std::unique_ptr<Bins> bins;
  if (!bins) {
    bins = std::make_unique<Bins>();
    std::memset(bins.get(), 0, sizeof(Bins));
  }
  return *bins;
}

/// Moves the square bins into squares and clears them.
/// The exponents the bins have seen, in groups of 32, so that a flush reads only those bins.
struct Seen {
  std::uint64_t groups = 0;
  void note(std::uint64_t exp) noexcept { groups |= std::uint64_t{1} << (exp >> 5); }
  /// Calls f(exp) for every exponent of every group seen (0 and 2047 excluded).
  template <class F>
  void each(F f) const {
    for (std::uint64_t g = groups; g != 0; g &= g - 1) {
      const auto first = static_cast<std::uint64_t>(std::countr_zero(g)) * 32;
      for (std::uint64_t exp = std::max<std::uint64_t>(first, 1);
           exp < std::min<std::uint64_t>(first + 32, 2047); ++exp) {
        f(exp);
      }
    }
  }
};

/// Moves the square bins for the exponents seen into squares and clears them.
void flush_squares(Bins& bins, WideSum& squares, const Seen& seen) {
  seen.each([&](std::uint64_t exp) {
    for (Bins::Cell& cell : bins.squares[exp]) {
      if ((cell.lo | cell.hi) != 0) {
        squares.add_digits(static_cast<UInt128>(cell.hi) << 64 | cell.lo,
                           2 * static_cast<unsigned>(exp - 1));
        cell = {0, 0};
      }
    }
  });
}

/// The values the bins do not take: zeros, subnormals, infinities and NaN.
[[gnu::noinline]] void add_unbinned(double x, ExactSum& sum, WideSum* squares) {
  sum.add(x);
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  if (squares != nullptr && ((bits >> 52) & 0x7FF) == 0) {
    squares->add_square(bits & ((std::uint64_t{1} << 52) - 1), 0);
  }
}

/// Adds one double to the bins of a lane.
template <bool kSquares, bool kTrack>
[[gnu::always_inline]] inline void add_to_bins(Bins& bins, int lane, double x, ExactSum& sum,
                                               WideSum* squares, Seen& seen) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  const std::uint64_t index = bits >> 52;
  const std::uint64_t exp = index & 0x7FF;
  if (exp - 1 >= 0x7FE) [[unlikely]] {
    add_unbinned(x, sum, squares);
    return;
  }
  if constexpr (kTrack) {
    seen.note(exp);
  }
  const std::uint64_t mant = (bits & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1} << 52);
  add_to_cell(bins.sum[index][lane], mant, 0);
  if constexpr (kSquares) {
    const UInt128 square = static_cast<UInt128>(mant) * mant;
    add_to_cell(bins.squares[exp][lane], static_cast<std::uint64_t>(square),
                static_cast<std::uint64_t>(square >> 64));
  }
}

template <bool kSquares, bool kTrack>
void add_binned_impl(ExactSum& sum, WideSum* squares, const double* values, std::size_t n) {
  Bins& bins = thread_bins();
  Seen seen;
  if constexpr (!kTrack) {
    seen.groups = ~std::uint64_t{0};  // the flush reads every bin: cheap beside a long run
  }
  // A square bin takes 2^22 squared significands (each below 2^106) before it could overflow.
  constexpr std::size_t kBlock = std::size_t{1} << 22;
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t end = std::min(n, start + kBlock);
    std::size_t i = start;
    for (; i + 4 <= end; i += 4) {
      add_to_bins<kSquares, kTrack>(bins, 0, values[i], sum, squares, seen);
      add_to_bins<kSquares, kTrack>(bins, 1, values[i + 1], sum, squares, seen);
      add_to_bins<kSquares, kTrack>(bins, 2, values[i + 2], sum, squares, seen);
      add_to_bins<kSquares, kTrack>(bins, 3, values[i + 3], sum, squares, seen);
    }
    for (; i < end; ++i) {
      add_to_bins<kSquares, kTrack>(bins, 0, values[i], sum, squares, seen);
    }
    if constexpr (kSquares) {
      flush_squares(bins, *squares, seen);
    }
  }
  // Significand sums never overflow 128 bits (fewer than 2^64 values of 53 bits).
  for (const std::uint64_t sign : {std::uint64_t{0}, std::uint64_t{2048}}) {
    seen.each([&](std::uint64_t exp) {
      for (Bins::Cell& cell : bins.sum[sign + exp]) {
        if ((cell.lo | cell.hi) != 0) {
          sum.add_digits(static_cast<UInt128>(cell.hi) << 64 | cell.lo,
                         static_cast<unsigned>(exp - 1), sign != 0);
          cell = {0, 0};
        }
      }
    });
  }
}

}  // namespace

BinnedSum::BinnedSum() : m_cells(new BinCell[4096]()) {}

void BinnedSum::finish(ExactSum& out) {
  for (unsigned index = 0; index < 4096; ++index) {
    BinCell& cell = m_cells[index];
    if ((cell.lo | cell.hi) != 0) {
      out.add_digits(static_cast<UInt128>(cell.hi) << 64 | cell.lo, (index & 0x7FF) - 1,
                     index >= 2048);
      cell = {0, 0};
    }
  }
  out.merge(m_rest);
  m_rest = ExactSum();
}

void add_binned(ExactSum& sum, WideSum* squares, const double* values, std::size_t n) {
  // Noting each value's exponent costs a third of the time of a long run; a short run would
  // spend more than that flushing every bin.
  constexpr std::size_t kTrackBelow = std::size_t{1} << 20;
  if (squares != nullptr) {
    if (n < kTrackBelow) {
      add_binned_impl<true, true>(sum, squares, values, n);
    } else {
      add_binned_impl<true, false>(sum, squares, values, n);
    }
  } else if (n < kTrackBelow) {
    add_binned_impl<false, true>(sum, nullptr, values, n);
  } else {
    add_binned_impl<false, false>(sum, nullptr, values, n);
  }
}

double exact_mean(const ExactSum& sum, std::uint64_t n) {
  Big num;
  load(num.get(), sum);
  Big den;
  load(den.get(), n);
  return finish(num, ExactSum::kScale, den, Finish::value);
}

double exact_mean(const IntSum& sum, std::uint64_t n) {
  Big num;
  load(num.get(), sum.value());
  Big den;
  load(den.get(), n);
  return finish(num, 0, den, Finish::value);
}

double fsum_result(const ExactSum& sum) {
  if (!sum.finite()) {
    const unsigned flags = sum.flags();
    if ((flags & (ExactSum::kPosInf | ExactSum::kNegInf)) ==
        (ExactSum::kPosInf | ExactSum::kNegInf)) {
      throw ValueError("-inf + inf in fsum");
    }
    return sum.special_value();
  }
  Big num;
  load(num.get(), sum);
  Big one;
  mpz_set_ui(one.get(), 1);
  bool overflow = false;
  const double value = round_ratio(num, ExactSum::kScale, one, overflow);
  if (overflow) {
    throw OverflowError("intermediate overflow in fsum");
  }
  return value;
}

double exact_spread(const ExactSum& sx, const SquareSum& sxx, std::uint64_t n,
                    std::uint64_t divisor, Finish how) {
  // In units of 2^-2148: n*ss = n*sxx - sx^2, and the answer is n*ss / (n*divisor).
  Big a;
  load(a.get(), sx);
  Big b;
  load(b.get(), sxx.fast());
  mpz_mul_2exp(b.get(), b.get(), 1074);
  if (sxx.wide().used()) {
    Big wide;
    load(wide.get(), sxx.wide());
    mpz_add(b.get(), b.get(), wide.get());
  }
  Big num;
  mpz_mul_ui(num.get(), b.get(), n);
  mpz_submul(num.get(), a.get(), a.get());
  Big den;
  load_product(den.get(), n, divisor);
  return finish(num, 2 * ExactSum::kScale, den, how);
}

double exact_spread(const IntSum& sx, const IntSquareSum& sxx, std::uint64_t n,
                    std::uint64_t divisor, Finish how) {
  Big a;
  load(a.get(), sx.value());
  Big b;
  load(b.get(), sxx);
  Big num;
  mpz_mul_ui(num.get(), b.get(), n);
  mpz_submul(num.get(), a.get(), a.get());
  Big den;
  load_product(den.get(), n, divisor);
  return finish(num, 0, den, how);
}

double exact_ratio(const ExactSum& sum, std::uint64_t divisor, Finish how) {
  Big num;
  load(num.get(), sum);
  Big den;
  load(den.get(), divisor);
  return finish(num, ExactSum::kScale, den, how);
}

double exact_ratio(const IntSquareSum& sum, std::uint64_t divisor, Finish how) {
  Big num;
  load(num.get(), sum);
  Big den;
  load(den.get(), divisor);
  return finish(num, 0, den, how);
}

double exact_quotient(const ExactSum& num, const ExactSum& den) {
  Big a;
  load(a.get(), num);
  Big b;
  load(b.get(), den);
  return finish(a, 0, b, Finish::value);
}

double exact_quotient(const IntSum& num, const ExactSum& den) {
  Big a;
  load(a.get(), num.value());
  Big b;
  load(b.get(), den);
  return finish(a, -ExactSum::kScale, b, Finish::value);
}

double exact_value(const ExactSum& sum) {
  Big num;
  load(num.get(), sum);
  Big one;
  mpz_set_ui(one.get(), 1);
  bool overflow = false;
  const double value = round_ratio(num, ExactSum::kScale, one, overflow);
  if (overflow) {
    return num.sign() < 0 ? -HUGE_VAL : HUGE_VAL;
  }
  return value;
}

double exact_float(const ExactSum& sum) {
  Big num;
  load(num.get(), sum);
  Big one;
  mpz_set_ui(one.get(), 1);
  return finish(num, ExactSum::kScale, one, Finish::value);
}

int exact_sign(const ExactSum& sum) {
  Big num;
  load(num.get(), sum);
  return num.sign();
}

double int_quotient(Int128 a, Int128 b) {
  constexpr Int128 exact = Int128{1} << 53;
  if (a > -exact && a < exact && b > -exact && b < exact) {
    return static_cast<double>(a) / static_cast<double>(b);  // both exact: one rounding
  }
  Big num;
  load(num.get(), b < 0 ? -a : a);
  Big den;
  load(den.get(), b < 0 ? -b : b);
  return finish(num, 0, den, Finish::value);
}

double weighted_pair(double a, double wa, double b, double wb, double n) noexcept {
  return (a * wa + b * wb) / n;
}

double minus_product(double a, double b, double c) noexcept { return a - b * c; }

double int128_to_double(Int128 x) noexcept { return static_cast<double>(x); }

}  // namespace batteries::statistics::detail
