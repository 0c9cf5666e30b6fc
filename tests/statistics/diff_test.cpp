// Differential test of batteries::statistics' module functions against CPython 3.11's statistics.
//
// A fixed-seed generator makes a few thousand data sets (doubles, floats, 64/32/16-bit
// integers, bools) from families meant to break things: random floats, huge and tiny
// magnitudes mixed, data offset by 1e9 or 1e15, subnormals, signed zeros, repeated values,
// integers near 2^53, 2^63 and 2^64, NaN and infinities, values near DBL_MAX; lengths 0, 1, 2,
// 3, small, a few hundred, 16384 to 24000 (where batteries sums doubles another way) and 10^5;
// with weights and second inputs of other kinds and types, and centres (xbar, mu) that are and
// are not the mean. Every function runs on each data set in batteries and in one python3
// process per function family (the data go to Python through a file, as float.hex and decimal
// integers, so Python sees exactly the values C++ has), and the results must agree: the same
// value bit for bit (NaN equals NaN; +0.0 and -0.0 differ), or the same exception class with
// the same message. batteries reads the data as the std::vector, and again as a single-pass
// input range and (doubles) through std::views::filter, which take the generic loops.
//
// Tolerance, and why:
//   0 ulp  mean, harmonic_mean, variance, pvariance: CPython computes the exact rational result
//          with Fractions and rounds it once; stdev, pstdev: the correctly rounded square root of
//          that ratio (_float_sqrt_of_frac).
//   0 ulp  fmean, covariance, correlation, linear_regression: math.fsum is correctly rounded,
//          and the rest is IEEE +, -, *, / and sqrt (all correctly rounded) in a fixed order.
//   0 ulp  median, median_grouped, quantiles: IEEE arithmetic in a fixed order, or for integer
//          data exact integer arithmetic and one correctly rounded int / int division.
//   exact  median_low, median_high, mode, multimode: a value of the data itself, of the data's
//          own C++ type.
//   1 ulp  geometric_mean: exp(fmean(map(log, data))) goes through libm's log and exp, which
//          are not correctly rounded.
// (NormalDist's cdf and pdf, which also use libm, are tested in normal_dist_test.cpp.)
//
// Where batteries differs from CPython on purpose (the 'Semantics that differ' of the docs),
// the oracle is changed to batteries' documented behaviour, and each such case is counted and
// printed rather than skipped:
//   nan   NaN in median*, median_grouped, quantiles (Python's order is undefined): the oracle
//         sorts NaNs after +inf, in input order; in mode and multimode every NaN is one value.
//   attr  stdev and pstdev where CPython 3.11 raises AttributeError (inf or NaN in the data,
//         or an overflowing (x - xbar) ** 2): the oracle gives the IEEE square root of
//         Python's variance or pvariance of the same arguments.
//   fsum  fmean (with and without weights), covariance, correlation, linear_regression where
//         math.fsum raises OverflowError('intermediate overflow in fsum'): the oracle reruns
//         them with an exact fsum, which overflows only when the exactly rounded total does
//         (and with an inf or NaN among the terms gives math.fsum of those alone).
// Nothing else is skipped. The parallel overloads and Running must give the plain functions'
// results bit for bit, errors included (Running holds doubles, so for integer data it is
// compared with the functions on the data converted to double, as running.hpp documents).
//
// A failure shows the call in Python syntax (short data sets in full, long ones by their
// number and family), Python's result and batteries' as repr and float.hex. Each test prints
// how many calls it compared, which exceptions Python raised, and how many special cases.

#include <batteries/statistics.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <execution>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "floats.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace batteries::statistics {
namespace {

using testing::hex_double;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMax = std::numeric_limits<double>::max();
constexpr std::size_t kLong = 100'000;
/// Data sets from this length get one call of each function (CPython is slow on them).
constexpr std::size_t kFewCallsFrom = 1000;

// ---- data sets ----

using Data = std::variant<std::vector<double>, std::vector<float>, std::vector<std::int64_t>,
                          std::vector<std::uint64_t>, std::vector<int>, std::vector<unsigned>,
                          std::vector<std::int16_t>, std::vector<bool>>;

template <class T>
constexpr std::string_view type_label() {
  if constexpr (std::is_same_v<T, double>) return "double";
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64_t";
  if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64_t";
  if constexpr (std::is_same_v<T, int>) return "int";
  if constexpr (std::is_same_v<T, unsigned>) return "unsigned";
  if constexpr (std::is_same_v<T, std::int16_t>) return "int16_t";
  if constexpr (std::is_same_v<T, bool>) return "bool";
}

struct DataSet {
  std::string family;
  Data values;
  std::size_t maker = 0;  // index of the family that made it, to make more like it

  [[nodiscard]] std::size_t size() const {
    return std::visit([](const auto& v) { return v.size(); }, values);
  }
  [[nodiscard]] bool floating() const { return values.index() <= 1; }
  /// The values as long doubles (exact for every type here).
  [[nodiscard]] std::vector<long double> numbers() const {
    return std::visit(
        [](const auto& v) {
          std::vector<long double> out;
          out.reserve(v.size());
          for (const auto x : v) out.push_back(static_cast<long double>(x));
          return out;
        },
        values);
  }
};

/// One call of a statistics function: the oracle and batteries both run it.
struct Call {
  std::string func;  // mean, fmean_w, quantiles, ... (see kOracle's table)
  std::size_t data = 0;
  std::optional<std::size_t> other;  // y, or the weights
  std::vector<std::string> args;     // f<float.hex>, i<decimal>, h<hex of a UTF-8 string>
};

std::string f_arg(double x) { return std::string("f").append(hex_double(x)); }
std::string i_arg(std::int64_t x) { return std::string("i").append(std::to_string(x)); }
std::string h_arg(std::string_view text) { return std::string("h").append(testing::to_hex(text)); }

double parse_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

// ---- the generator ----

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_engine(seed) {}

  std::uint64_t bits() { return m_engine(); }
  /// Uniform in [0, 1), 53 random bits.
  double unit() { return static_cast<double>(bits() >> 11) * 0x1p-53; }
  /// Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
    const std::uint64_t offset = span == 0 ? bits() : bits() % span;
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
  }
  std::size_t index(std::size_t n) { return static_cast<std::size_t>(bits() % n); }
  bool chance(double p) { return unit() < p; }
  double sign() { return chance(0.5) ? 1.0 : -1.0; }
  template <class T>
  T pick(std::initializer_list<T> items) {
    return items.begin()[index(items.size())];
  }
  /// Any finite double, every exponent equally likely.
  double finite() {
    for (;;) {
      const auto x = std::bit_cast<double>(bits());
      if (std::isfinite(x)) return x;
    }
  }
  /// A subnormal (or zero) of either sign.
  double subnormal() { return std::bit_cast<double>(bits() & 0x800F'FFFF'FFFF'FFFFull); }
  /// Roughly normal, mean 0, deviation 1.
  double gauss() {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += unit();
    return s - 6;
  }
  double power_of_ten(int lo, int hi) {
    return std::pow(10.0, static_cast<double>(between(lo, hi)));
  }

 private:
  std::mt19937_64 m_engine;
};

template <class T, class F>
Data fill(std::size_t n, F&& one) {
  std::vector<T> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<T>(one()));
  return v;
}

/// Replaces values with NaN and infinities, at least one when the data are not empty.
template <class T>
void sprinkle(std::vector<T>& v, Rng& g, double p) {
  bool any = false;
  for (T& x : v) {
    if (g.chance(p)) {
      x = static_cast<T>(g.pick({kNaN, kInf, -kInf}));
      any = true;
    }
  }
  if (!any && !v.empty()) v[g.index(v.size())] = static_cast<T>(g.pick({kNaN, kInf, -kInf}));
}

struct Family {
  std::string_view name;
  int count;
  std::function<Data(Rng&, std::size_t)> make;
};

double one_of_pool(Rng& g) {
  switch (g.index(6)) {
    case 0:
      return static_cast<double>(g.between(-3, 3));
    case 1:
      return static_cast<double>(g.between(-3, 3)) + 0.5;
    case 2:
      return 0.0;
    case 3:
      return -0.0;
    case 4:
      return 1e300;
    default:
      return g.unit();
  }
}

double huge_or_tiny(Rng& g) {
  switch (g.index(6)) {
    case 0:
      return g.sign() * std::ldexp(1 + g.unit(), static_cast<int>(g.between(900, 1023)));
    case 1:
      return g.sign() * std::ldexp(1 + g.unit(), static_cast<int>(g.between(-1022, -900)));
    case 2:
      return g.subnormal();
    case 3:
      return g.sign() * static_cast<double>(g.between(1, 10));
    case 4:
      return g.pick({0.0, -0.0});
    default:
      return g.sign() * std::ldexp(1 + g.unit(), static_cast<int>(g.between(-60, 60)));
  }
}

std::vector<double> positives(Rng& g, std::size_t n) {
  const double spread = static_cast<double>(g.between(1, 40));
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(std::exp(g.gauss() * spread));
  return v;
}

const std::vector<Family>& families() {
  using I64 = std::int64_t;
  using U64 = std::uint64_t;
  constexpr I64 kI64Max = std::numeric_limits<I64>::max();
  constexpr I64 kI64Min = std::numeric_limits<I64>::min();
  constexpr U64 kU64Max = std::numeric_limits<U64>::max();
  static const std::vector<Family> all = {
      // ---- double ----
      {"uniform", 80,
       [](Rng& g, std::size_t n) {
         const double scale = g.power_of_ten(-6, 6);
         return fill<double>(n, [&] { return (2 * g.unit() - 1) * scale; });
       }},
      {"normal", 60,
       [](Rng& g, std::size_t n) {
         const double mu = static_cast<double>(g.between(-1000, 1000));
         const double sigma = g.power_of_ten(-3, 3);
         return fill<double>(n, [&] { return mu + sigma * g.gauss(); });
       }},
      {"anybits", 80,
       [](Rng& g, std::size_t n) { return fill<double>(n, [&] { return g.finite(); }); }},
      {"huge-and-tiny", 80,
       [](Rng& g, std::size_t n) { return fill<double>(n, [&] { return huge_or_tiny(g); }); }},
      {"offset", 80,
       [](Rng& g, std::size_t n) {
         const double base = g.pick({1e9, -1e9, 1e15, -1e15, 0x1p53, 1e16});
         const double scale = g.pick({1.0, 1e-3, 1e3, 0.5});
         const bool integers = g.chance(0.25);
         return fill<double>(n, [&] {
           return integers ? base + static_cast<double>(g.between(-5, 5))
                           : base + (g.unit() - 0.5) * scale;
         });
       }},
      {"subnormal", 60,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] {
           return g.chance(0.1) ? g.pick({0.0, -0.0, 0x1p-1022, 0x1p-1074, -0x1p-1074})
                                : g.subnormal();
         });
       }},
      {"repeated", 80,
       [](Rng& g, std::size_t n) {
         std::vector<double> pool(static_cast<std::size_t>(g.between(1, 4)));
         for (double& x : pool) x = one_of_pool(g);
         return fill<double>(n, [&] { return pool[g.index(pool.size())]; });
       }},
      {"decimal", 50,
       [](Rng& g, std::size_t n) {
         const double step = g.pick({0.1, 0.25, 0.01, 0.3});
         return fill<double>(n, [&] { return static_cast<double>(g.between(-50, 50)) * step; });
       }},
      {"small-integers", 60,
       [](Rng& g, std::size_t n) {
         const bool grouped = g.chance(0.3);
         return fill<double>(n, [&] {
           return grouped ? static_cast<double>(g.between(0, 4) * 10 + 5)
                          : static_cast<double>(g.between(0, 10));
         });
       }},
      {"near-max", 60,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] {
           return g.chance(0.2) ? g.unit() : g.sign() * kMax * (1 - g.unit() * 0x1p-8);
         });
       }},
      {"nan-and-inf", 80,
       [](Rng& g, std::size_t n) {
         const double scale = g.power_of_ten(-3, 3);
         std::vector<double> v;
         for (std::size_t i = 0; i < n; ++i) v.push_back((2 * g.unit() - 1) * scale);
         sprinkle(v, g, 0.15);
         return Data(std::move(v));
       }},
      {"signed-zeros", 50,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] {
           return g.pick({0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0x1p-1074, -0x1p-1074});
         });
       }},
      {"constant", 40,
       [](Rng& g, std::size_t n) {
         const double c =
             g.pick({g.unit(), 1e300, -0.0, 0.0, 0x1p-1074, 1e15 + 0.5, kInf, -7.0, kMax, 0.1});
         return fill<double>(n, [&] { return c; });
       }},
      {"positive", 60, [](Rng& g, std::size_t n) { return Data(positives(g, n)); }},
      {"positive-anybits", 60,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] {
           const double x = std::fabs(g.finite());
           return x == 0 ? 1.0 : x;
         });
       }},
      {"positive-with-zero", 40,
       [](Rng& g, std::size_t n) {
         std::vector<double> v = positives(g, n);
         if (!v.empty()) v[g.index(v.size())] = g.pick({0.0, -0.0});
         return Data(std::move(v));
       }},
      {"positive-with-negative", 40,
       [](Rng& g, std::size_t n) {
         std::vector<double> v = positives(g, n);
         if (!v.empty()) v[g.index(v.size())] *= -1;
         return Data(std::move(v));
       }},
      {"positive-nan-and-inf", 40,
       [](Rng& g, std::size_t n) {
         std::vector<double> v = positives(g, n);
         sprinkle(v, g, 0.1);
         for (double& x : v) x = std::isnan(x) ? x : std::fabs(x);
         return Data(std::move(v));
       }},
      {"near-max-nan-and-inf", 40,
       [](Rng& g, std::size_t n) {
         std::vector<double> v;
         for (std::size_t i = 0; i < n; ++i) v.push_back(g.sign() * kMax * (1 - g.unit() * 0x1p-4));
         sprinkle(v, g, 0.1);
         return Data(std::move(v));
       }},
      {"positive-near-max", 40,
       [](Rng& g, std::size_t n) {
         // many at most 2 ulps below DBL_MAX, where 1 / x rounds in the subnormals; in some data
         // sets all of them
         const double spread = g.chance(0.4) ? 0.0 : 0.5;
         return fill<double>(n, [&] {
           return g.chance(spread)
                      ? kMax * (1 - g.unit() * 0x1p-6)
                      : std::bit_cast<double>(std::bit_cast<std::uint64_t>(kMax) -
                                              static_cast<std::uint64_t>(g.between(0, 2)));
         });
       }},
      {"positive-subnormal-or-near", 40,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] {
           const double x =
               g.chance(0.5) ? std::fabs(g.subnormal())
                             : std::ldexp(1 + g.unit(), -1022 + static_cast<int>(g.between(0, 3)));
           return x == 0 ? 0x1p-1074 : x;
         });
       }},
      {"integers-beyond-2^53", 40,
       [](Rng& g, std::size_t n) {
         const int shift = static_cast<int>(g.between(53, 70));
         return fill<double>(n, [&] {
           return std::ldexp(static_cast<double>(g.between(-1000, 1000)), shift - 10) +
                  std::ldexp(1.0, shift);
         });
       }},
      // ---- int64_t ----
      {"int-small", 50,
       [](Rng& g, std::size_t n) { return fill<I64>(n, [&] { return g.between(-100, 100); }); }},
      {"int-positive", 40,
       [](Rng& g, std::size_t n) { return fill<I64>(n, [&] { return g.between(1, 1000); }); }},
      {"int-repeated", 40,
       [](Rng& g, std::size_t n) {
         std::vector<I64> pool(static_cast<std::size_t>(g.between(1, 3)));
         for (I64& x : pool) x = g.between(-5, 5);
         return fill<I64>(n, [&] { return pool[g.index(pool.size())]; });
       }},
      {"int-near-2^63", 50,
       [](Rng& g, std::size_t n) {
         return fill<I64>(n, [&] {
           return g.chance(0.5) ? kI64Max - g.between(0, 1000) : kI64Min + g.between(0, 1000);
         });
       }},
      {"int-top", 30,
       [](Rng& g, std::size_t n) {
         return fill<I64>(n, [&] { return kI64Max - g.between(0, 3); });
       }},
      {"int-bottom", 30,
       [](Rng& g, std::size_t n) {
         return fill<I64>(n, [&] { return kI64Min + g.between(0, 3); });
       }},
      {"int-any", 40,
       [](Rng& g, std::size_t n) {
         return fill<I64>(n, [&] { return static_cast<I64>(g.bits()); });
       }},
      {"int-near-2^53", 40,
       [](Rng& g, std::size_t n) {
         const I64 sign = g.chance(0.7) ? 1 : -1;
         return fill<I64>(n, [&] { return sign * ((I64{1} << 53) + g.between(-8, 8)); });
       }},
      {"int-constant", 20,
       [](Rng& g, std::size_t n) {
         const I64 c = g.pick<I64>({0, -1, kI64Max, kI64Min, 7});
         return fill<I64>(n, [&] { return c; });
       }},
      {"int-positive-with-zero-or-negative", 30,
       [](Rng& g, std::size_t n) {
         std::vector<I64> v;
         for (std::size_t i = 0; i < n; ++i) v.push_back(g.between(1, 100));
         if (!v.empty()) v[g.index(v.size())] = g.chance(0.5) ? 0 : -g.between(1, 5);
         return Data(std::move(v));
       }},
      // ---- uint64_t ----
      {"uint-near-2^64", 30,
       [](Rng& g, std::size_t n) {
         return fill<U64>(n, [&] { return kU64Max - static_cast<U64>(g.between(0, 1000)); });
       }},
      {"uint-near-2^63", 30,
       [](Rng& g, std::size_t n) {
         return fill<U64>(
             n, [&] { return (U64{1} << 63) + static_cast<U64>(g.between(-1000, 1000)); });
       }},
      {"uint-any", 30,
       [](Rng& g, std::size_t n) { return fill<U64>(n, [&] { return g.bits(); }); }},
      {"uint-small", 20,
       [](Rng& g, std::size_t n) { return fill<U64>(n, [&] { return g.between(0, 20); }); }},
      // ---- int, unsigned, int16_t ----
      {"int32-any", 25,
       [](Rng& g, std::size_t n) {
         return fill<int>(n, [&] { return static_cast<std::int32_t>(g.bits()); });
       }},
      {"int32-near-limits", 25,
       [](Rng& g, std::size_t n) {
         return fill<int>(n, [&] {
           return g.chance(0.5) ? INT_MAX - g.between(0, 100) : INT_MIN + g.between(0, 100);
         });
       }},
      {"int32-small", 20,
       [](Rng& g, std::size_t n) { return fill<int>(n, [&] { return g.between(-10, 10); }); }},
      {"unsigned-near-max", 20,
       [](Rng& g, std::size_t n) {
         return fill<unsigned>(n,
                               [&] { return UINT_MAX - static_cast<unsigned>(g.between(0, 100)); });
       }},
      {"unsigned-small", 15,
       [](Rng& g, std::size_t n) { return fill<unsigned>(n, [&] { return g.between(0, 10); }); }},
      {"int16-any", 25,
       [](Rng& g, std::size_t n) {
         return fill<std::int16_t>(n, [&] { return static_cast<std::int16_t>(g.bits()); });
       }},
      // ---- float ----
      {"float-anybits", 40,
       [](Rng& g, std::size_t n) {
         return fill<float>(n, [&] {
           for (;;) {
             const auto x = std::bit_cast<float>(static_cast<std::uint32_t>(g.bits()));
             if (std::isfinite(x)) return x;
           }
         });
       }},
      {"float-uniform", 30,
       [](Rng& g, std::size_t n) {
         const double scale = g.power_of_ten(-3, 3);
         return fill<float>(n, [&] { return (2 * g.unit() - 1) * scale; });
       }},
      {"float-nan-and-inf", 30,
       [](Rng& g, std::size_t n) {
         std::vector<float> v;
         for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<float>(g.unit()));
         sprinkle(v, g, 0.15);
         return Data(std::move(v));
       }},
      {"float-subnormal", 25,
       [](Rng& g, std::size_t n) {
         return fill<float>(n, [&] {
           return std::bit_cast<float>(static_cast<std::uint32_t>(g.bits() & 0x807F'FFFFu));
         });
       }},
      {"float-near-max", 25,
       [](Rng& g, std::size_t n) {
         return fill<float>(n, [&] {
           return g.sign() * std::numeric_limits<float>::max() * (1 - g.unit() * 0x1p-8);
         });
       }},
      // ---- bool ----
      {"bool", 30,
       [](Rng& g, std::size_t n) {
         const double p = g.unit();
         return fill<bool>(n, [&] { return g.chance(p); });
       }},
      {"bool-constant", 10,
       [](Rng& g, std::size_t n) {
         const bool c = g.chance(0.5);
         return fill<bool>(n, [&] { return c; });
       }},
  };
  return all;
}

/// The data sets of length 10^5 (a few: CPython takes about a second for each family).
const std::vector<Family>& long_families() {
  static const std::vector<Family> all = {
      {"long-uniform", 1,
       [](Rng& g, std::size_t n) { return fill<double>(n, [&] { return 2 * g.unit() - 1; }); }},
      {"long-offset-1e15", 1,
       [](Rng& g, std::size_t n) { return fill<double>(n, [&] { return 1e15 + g.unit(); }); }},
      {"long-repeated", 1,
       [](Rng& g, std::size_t n) {
         return fill<double>(n, [&] { return static_cast<double>(g.between(0, 40)) / 2; });
       }},
      {"long-int-near-2^63", 1,
       [](Rng& g, std::size_t n) {
         return fill<std::int64_t>(
             n, [&] { return std::numeric_limits<std::int64_t>::max() - g.between(0, 1'000'000); });
       }},
      {"long-anybits", 1,
       [](Rng& g, std::size_t n) { return fill<double>(n, [&] { return g.finite(); }); }},
      {"long-nan-and-inf", 1,
       [](Rng& g, std::size_t n) {
         std::vector<double> v;
         for (std::size_t i = 0; i < n; ++i) v.push_back(g.gauss());
         for (int k = 0; k < 5; ++k) v[g.index(n)] = g.pick({kNaN, kInf, -kInf});
         return Data(std::move(v));
       }},
      {"long-int-small", 1,
       [](Rng& g, std::size_t n) {
         return fill<std::int64_t>(n, [&] { return g.between(-30, 30); });
       }},
      {"long-uint-near-2^64", 1,
       [](Rng& g, std::size_t n) {
         return fill<std::uint64_t>(n, [&] {
           return std::numeric_limits<std::uint64_t>::max() -
                  static_cast<std::uint64_t>(g.between(0, 1'000'000));
         });
       }},
      {"long-positive-float", 1,
       [](Rng& g, std::size_t n) {
         return fill<float>(n, [&] { return std::exp(4 * g.gauss()); });
       }},
  };
  return all;
}

/// Lengths: 0, 1, 2, 3, 4, 5 for a family's first data sets, then mostly short ones.
std::size_t length_for(Rng& g, int k) {
  if (k < 6) return static_cast<std::size_t>(k);
  const double r = g.unit();
  if (r < 0.5) return static_cast<std::size_t>(g.between(6, 12));
  if (r < 0.85) return static_cast<std::size_t>(g.between(13, 60));
  return static_cast<std::size_t>(g.between(61, 400));
}

struct Corpus {
  std::vector<DataSet> sets;
  std::vector<Call> calls;
};

/// A data set like `like` (same family) of length n.
std::size_t add_like(Corpus& c, Rng& g, std::size_t like, std::size_t n, std::string why) {
  const std::size_t maker = c.sets[like].maker;
  const auto& makers = c.sets[like].family.starts_with("long-") ? long_families() : families();
  Data values = makers[maker].make(g, n);
  c.sets.push_back({std::move(why), std::move(values), maker});
  return c.sets.size() - 1;
}

std::size_t add_set(Corpus& c, Data values, std::string why) {
  c.sets.push_back({std::move(why), std::move(values), 0});
  return c.sets.size() - 1;
}

/// The y for covariance, correlation and linear_regression of data set x.
std::size_t make_y(Corpus& c, Rng& g, std::size_t x, std::size_t n) {
  const std::string of = std::string(" for #").append(std::to_string(x));
  switch (g.index(n >= kFewCallsFrom ? 2 : 6)) {
    case 0:
      return add_like(c, g, x, n, std::string("y: another").append(of));
    case 1: {  // y nearly a linear function of x
      const std::vector<long double> xs = c.sets[x].numbers();
      const long double a = g.pick<long double>({2, -3, 0.5L, 1e-300L, 1e300L});
      const long double b = g.pick<long double>({0, 1, 1e9L});
      const bool noisy = g.chance(0.5);
      std::vector<double> y;
      for (const long double v : xs) {
        y.push_back(static_cast<double>(a * v + b + (noisy ? g.unit() : 0)));
      }
      return add_set(c, std::move(y), std::string("y: linear").append(of));
    }
    case 2: {
      const double k = g.pick({0.0, 1.0, -2.5, 1e300});
      return add_set(c, std::vector<double>(n, k), std::string("y: constant").append(of));
    }
    case 3:
      return x;
    case 4:
      return add_like(c, g, x, n == 0 || g.chance(0.5) ? n + 1 : n - 1,
                      std::string("y: other length").append(of));
    default:
      if (c.sets[x].floating()) {
        std::vector<std::int64_t> y;
        for (std::size_t i = 0; i < n; ++i) y.push_back(g.between(-50, 50));
        return add_set(c, std::move(y), std::string("y: integers").append(of));
      } else {
        std::vector<double> y;
        for (std::size_t i = 0; i < n; ++i) y.push_back(g.gauss());
        return add_set(c, std::move(y), std::string("y: doubles").append(of));
      }
  }
}

/// Weights for fmean and harmonic_mean of data set x.
std::size_t make_weights(Corpus& c, Rng& g, std::size_t x, std::size_t n) {
  const std::string of = std::string(" for #").append(std::to_string(x));
  switch (g.index(n >= kFewCallsFrom ? 2 : 10)) {
    case 0: {
      std::vector<double> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.unit() + 0.01);
      return add_set(c, std::move(w), std::string("weights: positive doubles").append(of));
    }
    case 1: {
      std::vector<std::int64_t> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.between(0, 5));
      return add_set(c, std::move(w), std::string("weights: small integers").append(of));
    }
    case 2: {
      std::vector<double> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.unit() * 2 - 0.5);
      return add_set(c, std::move(w), std::string("weights: some negative").append(of));
    }
    case 3:
      return add_set(c, std::vector<std::int64_t>(n, 0), std::string("weights: zeros").append(of));
    case 4: {
      std::vector<double> w;
      for (std::size_t i = 0; i < n + 1; ++i) w.push_back(g.unit());
      return add_set(c, std::move(w), std::string("weights: one too many").append(of));
    }
    case 5:
      return add_set(c, std::vector<int>(n, 1), std::string("weights: ones").append(of));
    case 6: {
      std::vector<double> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.unit());
      sprinkle(w, g, 0.2);
      return add_set(c, std::move(w), std::string("weights: nan and inf").append(of));
    }
    case 7: {
      std::vector<float> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(static_cast<float>(g.unit()));
      return add_set(c, std::move(w), std::string("weights: floats").append(of));
    }
    case 8: {
      std::vector<bool> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.chance(0.7));
      return add_set(c, std::move(w), std::string("weights: bools").append(of));
    }
    default: {
      std::vector<double> w;
      for (std::size_t i = 0; i < n; ++i) w.push_back(g.pick({kMax, 1e308, 1e300, 1e-300, 1.0}));
      return add_set(c, std::move(w), std::string("weights: huge and tiny").append(of));
    }
  }
}

/// The calls for data set `id`: every function; the long data sets get one call of each.
void add_calls(Corpus& c, Rng& g, std::size_t id) {
  const std::size_t n = c.sets[id].size();
  const bool full = n < kFewCallsFrom;
  const bool floating = c.sets[id].floating();
  const auto add = [&](std::string func, std::vector<std::string> args = {},
                       std::optional<std::size_t> other = std::nullopt) {
    c.calls.push_back({std::move(func), id, other, std::move(args)});
  };
  for (const char* func :
       {"mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low", "median_high",
        "mode", "multimode", "variance", "pvariance", "stdev", "pstdev"}) {
    add(func);
  }
  add("median_grouped", {f_arg(1.0)});
  if (full) {
    add("median_grouped",
        {f_arg(g.pick({0.5, 2.0, 10.0, 0.1, 0.0, -1.0, 1e300, kInf, kNaN, 3.0, 1e-300}))});
  }

  // quantiles: every n and method, and now and then a bad one
  if (full) {
    for (const std::int64_t q : {1, 2, 4, 10, 100}) {
      for (const char* method : {"exclusive", "inclusive"})
        add("quantiles", {i_arg(q), h_arg(method)});
    }
    switch (g.index(8)) {
      case 0:
        add("quantiles", {i_arg(0), h_arg("exclusive")});
        break;
      case 1:
        add("quantiles", {i_arg(-1), h_arg("inclusive")});
        break;
      case 2:
        add("quantiles", {i_arg(4), h_arg("Exclusive")});
        break;
      case 3:
        add("quantiles", {i_arg(1), h_arg("")});
        break;
      case 4:
        add("quantiles", {i_arg(2), h_arg("it's")});
        break;
      case 5:
        add("quantiles", {i_arg(4), h_arg("tab\there\n")});
        break;
      case 6:
        add("quantiles", {i_arg(3), h_arg("\xc3\xa9xclusive")});
        break;
      default:
        add("quantiles", {i_arg(-3), h_arg("bogus")});
        break;
    }
  } else {
    add("quantiles", {i_arg(4), h_arg("exclusive")});
    add("quantiles", {i_arg(100), h_arg("inclusive")});
  }

  // variance and friends about a given centre: about the mean, and about something else
  const std::vector<long double> xs = c.sets[id].numbers();
  long double total = 0;
  for (const long double x : xs) total += x;
  const long double m = n == 0 ? 0 : total / static_cast<long double>(n);
  std::vector<std::string> centres;
  if (floating) {
    centres.push_back(f_arg(static_cast<double>(m)));
    if (full) {
      const double first = n == 0 ? 1.0 : static_cast<double>(xs[0]);
      centres.push_back(g.pick({f_arg(first), f_arg(0.0), f_arg(-0.0), f_arg(1e300), f_arg(kNaN),
                                f_arg(-kInf), i_arg(3), f_arg(1e-320)}));
    }
  } else {
    // an integer centre: int64_t, or uint64_t above 2^63 (the mean of uint64_t data)
    centres.push_back(m < 0x1p63L
                          ? i_arg(static_cast<std::int64_t>(m))
                          : std::string("i").append(std::to_string(static_cast<std::uint64_t>(m))));
    if (full) {
      const bool first_fits = n > 0 && xs[0] < 0x1p63L;
      centres.push_back(g.pick({f_arg(static_cast<double>(m)), i_arg(0), f_arg(0.5), f_arg(1e300),
                                i_arg(std::numeric_limits<std::int64_t>::min()),
                                first_fits ? i_arg(static_cast<std::int64_t>(xs[0])) : i_arg(1)}));
    }
  }
  for (const std::string& centre : centres) {
    for (const char* func : {"variance", "pvariance", "stdev", "pstdev"}) add(func, {centre});
  }

  // two inputs
  const std::size_t y = make_y(c, g, id, n);
  add("covariance", {}, y);
  add("correlation", {}, y);
  add("linear_regression", {i_arg(0)}, y);
  if (full) add("linear_regression", {i_arg(1)}, y);
  const std::size_t w = make_weights(c, g, id, n);
  add("fmean_w", {}, w);
  add("harmonic_mean_w", {}, w);
}

Corpus make_corpus() {
  Corpus c;
  Rng g(0x5EED'0311'2024'0001ull);
  const auto& makers = families();
  for (std::size_t f = 0; f < makers.size(); ++f) {
    for (int k = 0; k < makers[f].count; ++k) {
      c.sets.push_back({std::string(makers[f].name), makers[f].make(g, length_for(g, k)), f});
      add_calls(c, g, c.sets.size() - 1);
    }
  }
  // Hard families at lengths where the sums of doubles take their binned path (16384 on).
  for (std::size_t f = 0; f < makers.size(); ++f) {
    if (std::set<std::string_view>{"anybits", "huge-and-tiny", "near-max", "subnormal",
                                   "nan-and-inf", "offset", "signed-zeros", "positive-anybits",
                                   "positive-subnormal-or-near", "integers-beyond-2^53"}
            .contains(makers[f].name)) {
      const auto n = static_cast<std::size_t>(g.between(16'384, 24'000));
      c.sets.push_back({std::string(makers[f].name), makers[f].make(g, n), f});
      add_calls(c, g, c.sets.size() - 1);
    }
  }
  const auto& long_makers = long_families();
  for (std::size_t f = 0; f < long_makers.size(); ++f) {
    c.sets.push_back({std::string(long_makers[f].name), long_makers[f].make(g, kLong), f});
    add_calls(c, g, c.sets.size() - 1);
  }
  return c;
}

const Corpus& corpus() {
  static const Corpus c = make_corpus();
  return c;
}

// ---- showing values ----

/// Python's repr of a float (any shortest round-trip form).
std::string repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  std::string out(buffer, result.ptr);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

template <class T>
std::string repr_of(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return repr(static_cast<double>(x));
  } else if constexpr (std::is_same_v<T, bool>) {
    return x ? "True" : "False";
  } else {
    return std::to_string(x);
  }
}

std::string show_set(const Corpus& c, std::size_t id) {
  const DataSet& set = c.sets[id];
  return std::visit(
      [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        std::string out;
        if (v.size() <= 24) {
          out = "[";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ", ";
            out += repr_of(static_cast<T>(v[i]));
          }
          out += "]";
        } else {
          out = std::string("<data set #").append(std::to_string(id)).append(">");
        }
        return out.append(" /* #")
            .append(std::to_string(id))
            .append(": ")
            .append(set.family)
            .append(", std::vector<")
            .append(type_label<T>())
            .append(">, n=")
            .append(std::to_string(v.size()))
            .append(" */");
      },
      set.values);
}

std::string show_arg(const std::string& arg) {
  if (arg[0] == 'f') {
    const double x = parse_double(arg.substr(1));
    return repr(x).append(" /* ").append(hex_double(x)).append(" */");
  }
  if (arg[0] == 'i') return arg.substr(1);
  std::string text = testing::from_hex(arg.substr(1)).value_or("?");
  return std::string("'").append(testing::printable(text)).append("'");
}

/// The call in Python syntax.
std::string show_call(const Corpus& c, const Call& call) {
  std::string name = call.func;
  if (name.ends_with("_w")) name.resize(name.size() - 2);
  std::string out =
      std::string("statistics.").append(name).append("(").append(show_set(c, call.data));
  if (call.func.ends_with("_w")) {
    out.append(", weights=").append(show_set(c, *call.other));
  } else if (call.other) {
    out.append(", ").append(show_set(c, *call.other));
  }
  if (call.func == "quantiles") {
    out.append(", n=")
        .append(show_arg(call.args[0]))
        .append(", method=")
        .append(show_arg(call.args[1]));
  } else if (call.func == "linear_regression") {
    out.append(", proportional=").append(call.args[0] == "i1" ? "True" : "False");
  } else {
    for (const std::string& arg : call.args) out.append(", ").append(show_arg(arg));
  }
  return out.append(")");
}

// ---- outcomes ----

/// One value of a result: a float, or an integer as its decimal digits.
struct Value {
  bool is_int = false;
  double f = 0;
  std::string digits;
};

/// A function's result (a list of values) or the exception it raised.
struct Outcome {
  std::string error_type;  // empty: no error
  std::string error_message;
  std::vector<Value> values;
};

template <class T>
Value value_of(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return {false, static_cast<double>(x), {}};
  } else if constexpr (std::is_same_v<T, bool>) {
    return {true, 0, x ? "1" : "0"};
  } else {
    return {true, 0, std::to_string(x)};
  }
}

std::string show(const Value& v) {
  if (v.is_int) return v.digits;
  return repr(v.f).append(" (").append(hex_double(v.f)).append(")");
}

std::string show(const Outcome& o) {
  if (!o.error_type.empty()) return std::string(o.error_type).append(": ").append(o.error_message);
  std::string out = "[";
  for (std::size_t i = 0; i < o.values.size(); ++i) {
    if (i > 0) out += ", ";
    out += show(o.values[i]);
  }
  return out + "]";
}

template <class F>
Outcome capture(F&& f) {
  Outcome out;
  try {
    out.values = f();
  } catch (const BaseException& e) {
    out.error_type = e.type_name();
    out.error_message = e.what();
  } catch (const std::exception& e) {
    out.error_type = std::string("<C++ ").append(typeid(e).name()).append(">");
    out.error_message = e.what();
  }
  return out;
}

/// How many doubles lie between a and b (both finite or both infinite).
std::uint64_t ulp_distance(double a, double b) {
  const auto key = [](double x) {
    const auto bits = std::bit_cast<std::int64_t>(x);
    return bits < 0 ? std::numeric_limits<std::int64_t>::min() - bits : bits;
  };
  const std::int64_t ka = key(a);
  const std::int64_t kb = key(b);
  return ka > kb ? static_cast<std::uint64_t>(ka) - static_cast<std::uint64_t>(kb)
                 : static_cast<std::uint64_t>(kb) - static_cast<std::uint64_t>(ka);
}

bool same_value(const Value& expected, const Value& actual, std::uint64_t ulps) {
  if (expected.is_int && actual.is_int) return expected.digits == actual.digits;
  if (actual.is_int) return false;  // Python gave a float, batteries an integer
  // An integer from Python where batteries returns a double: Python's value correctly rounded.
  const double e = expected.is_int ? parse_double(expected.digits) : expected.f;
  const double a = actual.f;
  if (std::isnan(e) || std::isnan(a)) return std::isnan(e) && std::isnan(a);
  if (std::bit_cast<std::uint64_t>(e) == std::bit_cast<std::uint64_t>(a)) return true;
  return ulps > 0 && std::isfinite(e) && std::isfinite(a) && ulp_distance(e, a) <= ulps;
}

bool same_outcome(const Outcome& expected, const Outcome& actual, std::uint64_t ulps) {
  if (expected.error_type != actual.error_type) return false;
  if (!expected.error_type.empty()) return expected.error_message == actual.error_message;
  if (expected.values.size() != actual.values.size()) return false;
  for (std::size_t i = 0; i < expected.values.size(); ++i) {
    if (!same_value(expected.values[i], actual.values[i], ulps)) return false;
  }
  return true;
}

// ---- running a call in batteries ----

std::int64_t int_arg(const std::string& arg) {
  return static_cast<std::int64_t>(std::stoll(arg.substr(1)));
}

/// Calls f with the argument as Python sees it: a double, or an integer as int64_t (or as
/// uint64_t when it is larger).
template <class F>
std::vector<Value> with_number(const std::string& arg, F&& f) {
  if (arg[0] == 'i') {
    if (arg[1] != '-' &&
        std::stoull(arg.substr(1)) >
            static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())) {
      return f(static_cast<std::uint64_t>(std::stoull(arg.substr(1))));
    }
    return f(int_arg(arg));
  }
  return f(parse_double(arg.substr(1)));
}

template <class V>
std::vector<Value> call_single(const Call& call, V& v) {
  using T = std::ranges::range_value_t<V>;
  const std::string& f = call.func;
  const auto one = [](auto x) { return std::vector<Value>{value_of(x)}; };
  if (f == "mean") return one(mean(v));
  if (f == "fmean") return one(fmean(v));
  if (f == "geometric_mean") return one(geometric_mean(v));
  if (f == "harmonic_mean") return one(harmonic_mean(v));
  if (f == "median") return one(median(v));
  if (f == "median_low" || f == "median_high") {
    const auto r = f == "median_low" ? median_low(v) : median_high(v);
    static_assert(std::is_same_v<std::remove_const_t<decltype(r)>, T>,
                  "median_low and median_high return the data's type");
    return one(r);
  }
  if (f == "median_grouped") return one(median_grouped(v, parse_double(call.args[0].substr(1))));
  if (f == "mode") {
    const auto r = mode(v);
    static_assert(std::is_same_v<std::remove_const_t<decltype(r)>, T>,
                  "mode returns the data's type");
    return one(r);
  }
  if (f == "multimode") {
    const auto r = multimode(v);
    static_assert(std::is_same_v<std::remove_const_t<decltype(r)>, std::vector<T>>,
                  "multimode returns a vector of the data's type");
    std::vector<Value> out;
    for (const T x : r) out.push_back(value_of(x));
    return out;
  }
  if (f == "quantiles") {
    const std::string method = testing::from_hex(call.args[1].substr(1)).value_or("?");
    std::vector<Value> out;
    for (const double q : quantiles(v, {.n = int_arg(call.args[0]), .method = method})) {
      out.push_back(value_of(q));
    }
    return out;
  }
  const bool centred = !call.args.empty();
  if (f == "variance") {
    return centred ? with_number(call.args[0], [&](auto c) { return one(variance(v, c)); })
                   : one(variance(v));
  }
  if (f == "pvariance") {
    return centred ? with_number(call.args[0], [&](auto c) { return one(pvariance(v, c)); })
                   : one(pvariance(v));
  }
  if (f == "stdev") {
    return centred ? with_number(call.args[0], [&](auto c) { return one(stdev(v, c)); })
                   : one(stdev(v));
  }
  if (f == "pstdev") {
    return centred ? with_number(call.args[0], [&](auto c) { return one(pstdev(v, c)); })
                   : one(pstdev(v));
  }
  throw std::logic_error(std::string("no such function: ").append(f));
}

/// fmean and harmonic_mean with weights: the two-input functions that take input ranges.
template <class V, class W>
std::vector<Value> call_weighted(const Call& call, V& v, const W& w) {
  const auto one = [](double x) { return std::vector<Value>{value_of(x)}; };
  if (call.func == "fmean_w") return one(fmean(v, w));
  if (call.func == "harmonic_mean_w") return one(harmonic_mean(v, w));
  throw std::logic_error(std::string("not a weighted function: ").append(call.func));
}

template <class V, class W>
std::vector<Value> call_pair(const Call& call, V& v, const W& w) {
  const std::string& f = call.func;
  const auto one = [](double x) { return std::vector<Value>{value_of(x)}; };
  if (f == "fmean_w") return one(fmean(v, w));
  if (f == "harmonic_mean_w") return one(harmonic_mean(v, w));
  if (f == "covariance") return one(covariance(v, w));
  if (f == "correlation") return one(correlation(v, w));
  if (f == "linear_regression") {
    const LinearRegression r = linear_regression(v, w, {.proportional = call.args[0] == "i1"});
    return {value_of(r.slope), value_of(r.intercept)};
  }
  throw std::logic_error(std::string("no such function: ").append(f));
}

/// A vector read as a single-pass input range (like a generator in Python): not sized, not
/// forward, values returned by value.
template <class T>
class SinglePass {
 public:
  explicit SinglePass(const std::vector<T>& values) : m_values(&values) {}

  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(SinglePass* range) : m_range(range) {}
    T operator*() const { return m_range->current(); }
    iterator& operator++() {
      m_range->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.m_range->done();
    }

   private:
    SinglePass* m_range = nullptr;
  };

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }
  [[nodiscard]] T current() const { return (*m_values)[m_next]; }
  void advance() { ++m_next; }
  [[nodiscard]] bool done() const { return m_next == m_values->size(); }

 private:
  const std::vector<T>* m_values;
  std::size_t m_next = 0;
};

/// How batteries reads the data of a call.
enum class Via {
  vector,       // the std::vector itself (contiguous for double: the fast paths)
  filter_view,  // doubles through std::views::filter: forward, not sized, not contiguous
  single_pass,  // SinglePass: an input range (not for the functions that need sequences)
};

constexpr std::string_view via_label(Via via) {
  switch (via) {
    case Via::vector:
      return "";
    case Via::filter_view:
      return "  (the data through std::views::filter)";
    case Via::single_pass:
      break;
  }
  return "  (the data as a single-pass input range)";
}

/// Whether batteries can run the call that way.
bool applies(const Corpus& c, const Call& call, Via via) {
  switch (via) {
    case Via::vector:
      return true;
    case Via::filter_view:
      return std::holds_alternative<std::vector<double>>(c.sets[call.data].values);
    case Via::single_pass:
      break;
  }
  return call.func != "covariance" && call.func != "correlation" &&
         call.func != "linear_regression";
}

/// Runs the call in batteries.
Outcome run_batteries(const Corpus& c, const Call& call, Via via = Via::vector) {
  const Data& x = c.sets[call.data].values;
  if (via == Via::filter_view) {
    auto view = std::get<std::vector<double>>(x) | std::views::filter([](double) { return true; });
    if (call.other) {
      return std::visit(
          [&](const auto& w) { return capture([&] { return call_pair(call, view, w); }); },
          c.sets[*call.other].values);
    }
    return capture([&] { return call_single(call, view); });
  }
  if (via == Via::single_pass) {
    return std::visit(
        [&](const auto& v) {
          SinglePass once(v);
          if (call.other) {
            return std::visit(
                [&](const auto& w) {
                  if constexpr (std::ranges::forward_range<decltype(once)>) {
                    return capture([&] { return call_pair(call, once, w); });
                  } else {
                    return capture([&] { return call_weighted(call, once, w); });
                  }
                },
                c.sets[*call.other].values);
          }
          return capture([&] { return call_single(call, once); });
        },
        x);
  }
  if (call.other) {
    return std::visit([&](const auto& v,
                          const auto& w) { return capture([&] { return call_pair(call, v, w); }); },
                      x, c.sets[*call.other].values);
  }
  return std::visit([&](const auto& v) { return capture([&] { return call_single(call, v); }); },
                    x);
}

// ---- the oracle ----

// Reads the data sets and calls from PATH and prints, for each call, a line
// `<tag> OK <values>` or `<tag> ERR <class> h<hex of the message>`, where the tag is '='
// or the special case that changed the oracle (nan, attr, fsum; see the top of this file).
constexpr std::string_view kOracle = R"PY(
import bisect, math, sys, statistics as st
from fractions import Fraction
print(*sys.version_info[:2])

def arg(t):
    if t[0] == 'f':
        return float.fromhex(t[1:])
    if t[0] == 'i':
        return int(t[1:])
    return bytes.fromhex(t[1:]).decode()

data, calls = {}, []
with open(PATH) as f:
    for line in f:
        p = line.split()
        if p[0] == 'D':
            if p[2] == 'f':
                data[p[1]] = [float.fromhex(x) for x in p[3:]]
            elif p[2] == 'i':
                data[p[1]] = [int(x) for x in p[3:]]
            else:
                data[p[1]] = [x == '1' for x in p[3:]]
        else:
            calls.append(p[1:])

def tok(v):
    return 'f' + v.hex() if isinstance(v, float) else 'i%d' % v

def show(r):
    if isinstance(r, (list, tuple)):
        return ' '.join(map(tok, r))
    return tok(r)

F = {
    'mean': lambda d, e, a: st.mean(d),
    'fmean': lambda d, e, a: st.fmean(d),
    'fmean_w': lambda d, e, a: st.fmean(d, e),
    'geometric_mean': lambda d, e, a: st.geometric_mean(d),
    'harmonic_mean': lambda d, e, a: st.harmonic_mean(d),
    'harmonic_mean_w': lambda d, e, a: st.harmonic_mean(d, e),
    'median': lambda d, e, a: st.median(d),
    'median_low': lambda d, e, a: st.median_low(d),
    'median_high': lambda d, e, a: st.median_high(d),
    'median_grouped': lambda d, e, a: st.median_grouped(d, *a),
    'mode': lambda d, e, a: st.mode(d),
    'multimode': lambda d, e, a: st.multimode(d),
    'quantiles': lambda d, e, a: st.quantiles(d, n=a[0], method=a[1]),
    'variance': lambda d, e, a: st.variance(d, *a),
    'pvariance': lambda d, e, a: st.pvariance(d, *a),
    'stdev': lambda d, e, a: st.stdev(d, *a),
    'pstdev': lambda d, e, a: st.pstdev(d, *a),
    'covariance': lambda d, e, a: st.covariance(d, e),
    'correlation': lambda d, e, a: st.correlation(d, e),
    'linear_regression': lambda d, e, a: st.linear_regression(d, e, proportional=bool(a[0])),
}

def run(fn, d, e, a):
    try:
        return 'OK ' + show(F[fn](d, e, a))
    except Exception as x:
        return 'ERR %s h%s' % (type(x).__name__, str(x).encode().hex())

# batteries' documented order for NaN: after +inf, in input order; in mode, one value.
NAN = float('nan')
def nankey(x):
    return (x != x, x)
def nan_sorted(d):
    return sorted(d, key=nankey)
def nan_bisect_left(a, x, lo=0):
    return bisect.bisect_left(a, nankey(x), lo, key=nankey)
def nan_bisect_right(a, x, lo=0):
    return bisect.bisect_right(a, nankey(x), lo, key=nankey)

# math.fsum with an exact total: OverflowError only when the rounded total overflows.
def exact_fsum(it):
    terms = [float(t) for t in it]
    special = [t for t in terms if not math.isfinite(t)]
    if special:
        return math.fsum(special)
    try:
        return float(sum(map(Fraction, terms), Fraction(0)))
    except OverflowError:
        raise OverflowError('intermediate overflow in fsum') from None

SORTED = {'median', 'median_low', 'median_high', 'median_grouped', 'quantiles'}
COUNTED = {'mode', 'multimode'}
FSUM = {'fmean', 'fmean_w', 'covariance', 'correlation', 'linear_regression'}
ROOTS = {'stdev': 'variance', 'pstdev': 'pvariance'}
FSUM_OVERFLOW = 'ERR OverflowError h' + 'intermediate overflow in fsum'.encode().hex()

out = []
for c in calls:
    fn, d, e, a = c[0], data[c[1]], data.get(c[2]), [arg(t) for t in c[3:]]
    tag = '='
    if fn in SORTED and any(x != x for x in d):
        tag = 'nan'
        st.sorted, st.bisect_left, st.bisect_right = nan_sorted, nan_bisect_left, nan_bisect_right
        try:
            r = run(fn, d, e, a)
        finally:
            del st.sorted
            st.bisect_left, st.bisect_right = bisect.bisect_left, bisect.bisect_right
    elif fn in COUNTED and any(x != x for x in d):
        tag = 'nan'
        r = run(fn, [NAN if x != x else x for x in d], e, a)
    else:
        r = run(fn, d, e, a)
        if fn in FSUM and r == FSUM_OVERFLOW:
            tag = 'fsum'
            st.fsum = exact_fsum
            try:
                r = run(fn, d, e, a)
            finally:
                st.fsum = math.fsum
        elif fn in ROOTS and r.startswith('ERR AttributeError '):
            tag = 'attr'
            r = run(ROOTS[fn], d, e, a)
            if r.startswith('OK '):
                v = float.fromhex(r[4:])
                r = 'OK ' + tok(math.nan if v < 0 else math.sqrt(v))
    out.append(tag + ' ' + r + '\n')
    if len(out) >= 4096:
        sys.stdout.write(''.join(out))
        out.clear()
sys.stdout.write(''.join(out))
)PY";

/// A data set as the oracle reads it: `D <id> <f|i|b> <values>`.
void encode_set(std::string& out, std::size_t id, const DataSet& set) {
  std::visit(
      [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        out.append("D ").append(std::to_string(id));
        out.append(std::is_floating_point_v<T> ? " f" : std::is_same_v<T, bool> ? " b" : " i");
        for (const T x : v) {
          out += ' ';
          if constexpr (std::is_floating_point_v<T>) {
            out += hex_double(static_cast<double>(x));
          } else if constexpr (std::is_same_v<T, bool>) {
            out += x ? '1' : '0';
          } else {
            out += std::to_string(x);
          }
        }
        out += '\n';
      },
      set.values);
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

struct Expected {
  std::string tag;  // "=", or the special case: nan, attr, fsum
  Outcome outcome;
};

/// Runs the calls in CPython 3.11; nullopt (with the reason) when there is no such Python.
std::optional<std::vector<Expected>> ask_python(const Corpus& c,
                                                const std::vector<std::size_t>& ids,
                                                std::string& why_not) {
  const std::optional<std::string> python = testing::find_python(11);
  if (!python) {
    why_not = "no CPython 3.11 found";
    return std::nullopt;
  }
  const testing::ScopedPython scoped(*python);
  std::vector<bool> needed(c.sets.size());
  for (const std::size_t id : ids) {
    needed[c.calls[id].data] = true;
    if (c.calls[id].other) needed[*c.calls[id].other] = true;
  }
  std::string input;
  for (std::size_t i = 0; i < c.sets.size(); ++i) {
    if (needed[i]) encode_set(input, i, c.sets[i]);
  }
  for (const std::size_t id : ids) {
    const Call& call = c.calls[id];
    input.append("C ").append(call.func).append(" ").append(std::to_string(call.data));
    input.append(" ").append(call.other ? std::to_string(*call.other) : std::string("-"));
    for (const std::string& arg : call.args) input.append(" ").append(arg);
    input += '\n';
  }
  const std::string dir = testing::make_temp_dir("batteries-statistics-diff");
  testing::write_file(dir + "/cases", input);
  std::string script = std::string("PATH = '").append(dir).append("/cases'\n");
  script.append(kOracle);
  const auto start = std::chrono::steady_clock::now();
  const std::optional<std::string> output = testing::run_python(script);
  std::printf("[ python   ] %zu calls in %.1f s\n", ids.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  testing::remove_tree(dir);
  if (!output) {
    why_not = "no Python interpreter";
    return std::nullopt;
  }
  std::vector<std::string> lines = split(*output, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty() || lines[0] != "3 11") {
    ADD_FAILURE() << "the oracle did not run as CPython 3.11:\n" << output->substr(0, 2000);
    return std::nullopt;
  }
  if (lines.size() != ids.size() + 1) {
    ADD_FAILURE() << "the oracle gave " << lines.size() - 1 << " results for " << ids.size()
                  << " calls";
    return std::nullopt;
  }
  std::vector<Expected> out;
  out.reserve(ids.size());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> tokens = split(lines[i], ' ');
    Expected e;
    e.tag = tokens.at(0);
    if (tokens.at(1) == "ERR") {
      e.outcome.error_type = tokens.at(2);
      e.outcome.error_message = testing::from_hex(tokens.at(3).substr(1)).value_or("?");
    } else {
      for (std::size_t t = 2; t < tokens.size(); ++t) {
        if (tokens[t].empty()) continue;
        Value v;
        v.is_int = tokens[t][0] == 'i';
        if (v.is_int) {
          v.digits = tokens[t].substr(1);
        } else {
          v.f = parse_double(tokens[t].substr(1));
        }
        e.outcome.values.push_back(std::move(v));
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---- one function family against Python ----

struct Tally {
  std::size_t compared = 0;
  std::map<std::string, std::size_t> raised;  // by exception class
  std::map<std::string, std::size_t> special;
  std::size_t within_tolerance = 0;  // equal only within the allowed ulps, not bit for bit
};

/// Compares every generated call of the given functions with CPython, and checks that there
/// were at least `minimum` of them.
void check_against_python(std::initializer_list<std::string_view> funcs, std::size_t minimum,
                          std::uint64_t ulps = 0) {
  const Corpus& c = corpus();
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < c.calls.size(); ++i) {
    if (std::find(funcs.begin(), funcs.end(), c.calls[i].func) != funcs.end()) ids.push_back(i);
  }
  std::string why_not;
  const std::optional<std::vector<Expected>> expected = ask_python(c, ids, why_not);
  if (!expected) {
    if (!why_not.empty()) GTEST_SKIP() << why_not;
    return;
  }
  std::map<std::string, Tally> tallies;
  std::size_t mismatches = 0;
  constexpr std::size_t kShown = 30;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const Call& call = c.calls[ids[k]];
    const Expected& e = (*expected)[k];
    Tally& tally = tallies[call.func];
    ++tally.compared;
    if (!e.outcome.error_type.empty()) ++tally.raised[e.outcome.error_type];
    if (e.tag != "=") ++tally.special[e.tag];
    for (const Via via : {Via::vector, Via::filter_view, Via::single_pass}) {
      if (!applies(c, call, via)) continue;
      const Outcome actual = run_batteries(c, call, via);
      if (via == Via::vector && ulps > 0 && !same_outcome(e.outcome, actual, 0) &&
          same_outcome(e.outcome, actual, ulps)) {
        ++tally.within_tolerance;
      }
      if (same_outcome(e.outcome, actual, ulps)) continue;
      if (++mismatches <= kShown) {
        ADD_FAILURE() << show_call(c, call) << via_label(via)
                      << "\n  Python 3.11: " << show(e.outcome)
                      << (e.tag == "="
                              ? ""
                              : std::string("   (oracle special case: ").append(e.tag).append(")"))
                      << "\n  batteries:   " << show(actual);
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << "calls that differ from CPython 3.11, of " << ids.size()
                            << (mismatches > kShown ? " (the first 30 shown)" : "");
  EXPECT_GE(ids.size(), minimum) << "too few cases generated";
  for (const auto& [func, tally] : tallies) {
    std::string special;
    for (const auto& [tag, count] : tally.special) {
      special.append(" ").append(tag).append("=").append(std::to_string(count));
    }
    if (special.empty()) special = " none";
    if (ulps > 0) {
      special.append("; equal only within ")
          .append(std::to_string(ulps))
          .append(" ulp: ")
          .append(std::to_string(tally.within_tolerance));
    }
    std::string raised;
    for (const auto& [type, count] : tally.raised) {
      raised.append(" ").append(type).append("=").append(std::to_string(count));
    }
    std::printf("[ compared ] %-18s %6zu calls; raising in Python:%s; special cases:%s\n",
                func.c_str(), tally.compared, raised.empty() ? " none" : raised.c_str(),
                special.c_str());
  }
}

TEST(StatisticsDiff, Mean) { check_against_python({"mean"}, 1800); }
TEST(StatisticsDiff, Fmean) { check_against_python({"fmean", "fmean_w"}, 3600); }
// libm's log and exp: 1 ulp.
TEST(StatisticsDiff, GeometricMean) { check_against_python({"geometric_mean"}, 1800, 1); }
TEST(StatisticsDiff, HarmonicMean) {
  check_against_python({"harmonic_mean", "harmonic_mean_w"}, 3600);
}
TEST(StatisticsDiff, Median) {
  check_against_python({"median", "median_low", "median_high"}, 5400);
}
TEST(StatisticsDiff, MedianGrouped) { check_against_python({"median_grouped"}, 3600); }
TEST(StatisticsDiff, Mode) { check_against_python({"mode", "multimode"}, 3600); }
TEST(StatisticsDiff, Quantiles) { check_against_python({"quantiles"}, 20000); }
TEST(StatisticsDiff, Variance) { check_against_python({"variance", "pvariance"}, 11000); }
TEST(StatisticsDiff, Stdev) { check_against_python({"stdev", "pstdev"}, 11000); }
TEST(StatisticsDiff, Covariance) { check_against_python({"covariance"}, 1800); }
TEST(StatisticsDiff, Correlation) { check_against_python({"correlation"}, 1800); }
TEST(StatisticsDiff, LinearRegression) { check_against_python({"linear_regression"}, 3600); }

// ---- the parallel overloads and Running against the plain functions ----

/// More data sets for the parallel overloads only (no Python): long enough to be split over
/// threads, with an infinity or a NaN in the second half.
std::vector<Data> parallel_only_sets() {
  Rng g(0x5EED'0311'2024'0002ull);
  constexpr std::size_t n = std::size_t{1} << 18;
  std::vector<Data> out;
  out.push_back(fill<double>(n, [&] { return g.finite(); }));
  out.push_back(fill<double>(n, [&] { return 1e9 + g.unit(); }));
  std::vector<double> special(n);
  for (double& x : special) x = g.gauss();
  special[n - 3] = kInf;
  out.push_back(special);
  special[n - 2] = kNaN;
  out.push_back(std::move(special));
  out.push_back(fill<std::int64_t>(n, [&] { return static_cast<std::int64_t>(g.bits()); }));
  out.push_back(fill<std::uint64_t>(n, [&] { return ~std::uint64_t{0} - (g.bits() >> 40); }));
  out.push_back(fill<float>(n, [&] { return static_cast<float>(g.gauss()); }));
  out.push_back(fill<bool>(n, [&] { return g.chance(0.3); }));
  return out;
}

std::string describe(const Data& data, std::size_t id) {
  return std::visit(
      [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        return std::string("data set #")
            .append(std::to_string(id))
            .append(" (std::vector<")
            .append(type_label<T>())
            .append(">, n=")
            .append(std::to_string(v.size()))
            .append(")");
      },
      data);
}

TEST(StatisticsDiff, ParallelEqualsSequential) {
  const Corpus& c = corpus();
  std::vector<Data> sets;
  for (const DataSet& set : c.sets) sets.push_back(set.values);
  for (Data& extra : parallel_only_sets()) sets.push_back(std::move(extra));
  std::size_t compared = 0;
  std::size_t mismatches = 0;
  for (std::size_t id = 0; id < sets.size(); ++id) {
    std::visit(
        [&](const auto& v) {
          const auto one = [](double x) { return std::vector<Value>{value_of(x)}; };
          const auto check = [&](std::string_view name, const Outcome& plain, const Outcome& par) {
            ++compared;
            if (!same_outcome(plain, par, 0) && ++mismatches <= 30) {
              ADD_FAILURE() << name << "(std::execution::par, ...) on " << describe(sets[id], id)
                            << "\n  sequential: " << show(plain) << "\n  parallel:   " << show(par);
            }
          };
          const auto par = std::execution::par;
          check("mean", capture([&] { return one(mean(v)); }),
                capture([&] { return one(mean(par, v)); }));
          check("fmean", capture([&] { return one(fmean(v)); }),
                capture([&] { return one(fmean(par, v)); }));
          check("variance", capture([&] { return one(variance(v)); }),
                capture([&] { return one(variance(par, v)); }));
          check("pvariance", capture([&] { return one(pvariance(v)); }),
                capture([&] { return one(pvariance(par, v)); }));
          check("stdev", capture([&] { return one(stdev(v)); }),
                capture([&] { return one(stdev(par, v)); }));
          check("pstdev", capture([&] { return one(pstdev(v)); }),
                capture([&] { return one(pstdev(par, v)); }));
          // about a given centre: a double, and an integer
          for (const double centre : {0.5, -3.0}) {
            check("variance(xbar)", capture([&] { return one(variance(v, centre)); }),
                  capture([&] { return one(variance(par, v, centre)); }));
            check("pstdev(mu)", capture([&] { return one(pstdev(v, centre)); }),
                  capture([&] { return one(pstdev(par, v, centre)); }));
          }
          const std::int64_t int_centre = 7;
          check("pvariance(mu)", capture([&] { return one(pvariance(v, int_centre)); }),
                capture([&] { return one(pvariance(par, v, int_centre)); }));
          check("stdev(xbar)", capture([&] { return one(stdev(v, int_centre)); }),
                capture([&] { return one(stdev(par, v, int_centre)); }));
        },
        sets[id]);
  }
  EXPECT_EQ(mismatches, 0u) << "of " << compared;
  EXPECT_GE(compared, 60000u);
  std::printf("[ compared ] parallel overloads: %zu calls on %zu data sets\n", compared,
              sets.size());
}

/// Running's five results (and count) as outcomes.
std::vector<Outcome> running_results(const Running& r) {
  const auto one = [](double x) { return std::vector<Value>{value_of(x)}; };
  return {capture([&] { return std::vector<Value>{value_of(r.count())}; }),
          capture([&] { return one(r.mean()); }),
          capture([&] { return one(r.variance()); }),
          capture([&] { return one(r.pvariance()); }),
          capture([&] { return one(r.stdev()); }),
          capture([&] { return one(r.pstdev()); })};
}

TEST(StatisticsDiff, RunningEqualsFunctions) {
  const Corpus& c = corpus();
  std::size_t compared = 0;
  std::size_t mismatches = 0;
  static constexpr const char* kNames[] = {"count",     "mean",  "variance",
                                           "pvariance", "stdev", "pstdev"};
  for (std::size_t id = 0; id < c.sets.size(); ++id) {
    std::visit(
        [&](const auto& v) {
          using T = typename std::decay_t<decltype(v)>::value_type;
          // Running holds doubles (integers above 2^53 are rounded as they are added), so its
          // results are the functions' on the data as doubles.
          std::vector<double> as_double;
          for (const T x : v) as_double.push_back(static_cast<double>(x));
          const auto one = [](double x) { return std::vector<Value>{value_of(x)}; };
          const std::vector<Outcome> plain = {
              capture([&] { return std::vector<Value>{value_of(std::uint64_t{v.size()})}; }),
              capture([&] { return one(mean(as_double)); }),
              capture([&] { return one(variance(as_double)); }),
              capture([&] { return one(pvariance(as_double)); }),
              capture([&] { return one(stdev(as_double)); }),
              capture([&] { return one(pstdev(as_double)); })};
          if constexpr (std::is_floating_point_v<T>) {
            // Python computes on the float data itself: the functions must agree with that too.
            EXPECT_TRUE(same_outcome(plain[2], capture([&] { return one(variance(v)); }), 0))
                << describe(c.sets[id].values, id);
          }
          const auto check = [&](std::string_view how, const Running& r) {
            const std::vector<Outcome> got = running_results(r);
            for (std::size_t k = 0; k < got.size(); ++k) {
              ++compared;
              if (!same_outcome(plain[k], got[k], 0) && ++mismatches <= 30) {
                ADD_FAILURE() << "Running (" << how << ")." << kNames[k] << "() on "
                              << show_set(c, id) << "\n  function: " << show(plain[k])
                              << "\n  Running:  " << show(got[k]);
              }
            }
          };
          Running one_at_a_time;
          for (const T x : v) one_at_a_time.add(static_cast<double>(x));
          check("add(x) one at a time", one_at_a_time);
          Running whole;
          whole.add(v);
          check("add(range)", whole);
          const std::size_t n = v.size();
          std::set<std::size_t> cuts = {0, n / 3, n / 2, n};
          if (n > 0) cuts.insert(n - 1);
          for (const std::size_t k : cuts) {
            Running left;
            Running right;
            left.add(std::ranges::subrange(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k)));
            right.add(std::ranges::subrange(v.begin() + static_cast<std::ptrdiff_t>(k), v.end()));
            left.merge(right);
            check(std::string("split at ").append(std::to_string(k)).append(" and merged"), left);
          }
          // three parts, merged right to left into an empty one
          Running a;
          Running b;
          Running d;
          const auto third = static_cast<std::ptrdiff_t>(n / 3);
          a.add(std::ranges::subrange(v.begin(), v.begin() + third));
          b.add(std::ranges::subrange(v.begin() + third, v.begin() + 2 * third));
          d.add(std::ranges::subrange(v.begin() + 2 * third, v.end()));
          b.merge(d);
          a.merge(b);
          Running empty;
          empty.merge(a);
          check("three parts merged into an empty one", empty);
        },
        c.sets[id].values);
  }
  EXPECT_EQ(mismatches, 0u) << "of " << compared;
  EXPECT_GE(compared, 240000u);
  std::printf("[ compared ] Running: %zu results on %zu data sets\n", compared, c.sets.size());
}

// ---- Python's documented examples and hard cases ----

/// "ClassName: message" of what f raises, or "no error".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const BaseException& e) {
    return std::string(e.type_name()).append(": ").append(e.what());
  }
  return "no error";
}

TEST(StatisticsDiffExamples, HardMeans) {
  EXPECT_EQ(mean({1e100, 1.0, 3.0, -1e100}), 1.0);
  // the exact mean is representable; (a + b) / 2 in doubles would overflow
  EXPECT_EQ(mean({8.988465674311579e307, 8.98846567431158e307}), 8.98846567431158e307);
  EXPECT_EQ(mean({kMax, kMax}), kMax);
  // math.fsum raises 'intermediate overflow' here; batteries' exact sum does not
  EXPECT_EQ(fmean(std::vector<double>{1e308, 1e308, -1e308}), 1e308 / 3);
  std::vector<double> repeated;
  for (int i = 0; i < 1000; ++i) repeated.insert(repeated.end(), {1e50, 1.0, -1e50});
  EXPECT_EQ(mean(repeated), 1.0 / 3);  // Python's _sum docstring: 1000 exactly
  EXPECT_EQ(
      mean({std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()}),
      0x1p63);
  EXPECT_EQ(
      median({std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()}),
      0x1p63);
  EXPECT_EQ(median({1.7e308, 1.7e308}), kInf);               // Python's (a + b) / 2 overflows
  EXPECT_TRUE(std::signbit(median_low({0.0, -0.0, -0.0})));  // the stable sort's order
  EXPECT_FALSE(std::signbit(median_low({-0.0, 0.0, 0.0, -0.0})));
  EXPECT_FALSE(std::signbit(mean({-0.0})));         // Fraction(-0.0) is 0
  EXPECT_EQ(harmonic_mean({0x1p-1074, 1.0}), 0.0);  // 1 / 5e-324 is inf in Python
  EXPECT_EQ(variance({-kInf, -kInf}), -kInf);
}

TEST(StatisticsDiffExamples, DocumentedAverages) {
  EXPECT_EQ(mean({1, 2, 3, 4, 4}), 2.8);
  EXPECT_EQ(mean({-1.0, 2.5, 3.25, 5.75}), 2.625);
  EXPECT_EQ(fmean({3.5, 4.0, 5.25}), 4.25);
  EXPECT_EQ(fmean(std::vector{85, 92, 83, 91}, std::vector{0.20, 0.20, 0.30, 0.30}), 87.6);
  EXPECT_EQ(geometric_mean({54, 24, 36}), 36.000000000000014);  // round(..., 9) == 36.0
  EXPECT_EQ(harmonic_mean({2.5, 3.0, 10.0}), 3.6);
  EXPECT_EQ(harmonic_mean({40, 60}), 48.0);
  EXPECT_EQ(harmonic_mean(std::vector{40, 60}, std::vector{5, 30}), 56.0);
  EXPECT_EQ(median({1, 3, 5}), 3.0);
  EXPECT_EQ(median({1, 3, 5, 7}), 4.0);
  EXPECT_EQ(median_low({1, 3, 5}), 3);
  EXPECT_EQ(median_low({1, 3, 5, 7}), 3);
  EXPECT_EQ(median_high({1, 3, 5}), 3);
  EXPECT_EQ(median_high({1, 3, 5, 7}), 5);
  EXPECT_EQ(median_grouped({52, 52, 53, 54}), 52.5);
  EXPECT_EQ(median_grouped({1, 3, 3, 5, 7}, 1), 3.25);
  EXPECT_EQ(median_grouped({1, 3, 3, 5, 7}, 2), 3.5);
  std::vector<int> demographics;
  for (const auto& [age, count] :
       std::vector<std::pair<int, int>>{{25, 172}, {35, 484}, {45, 387}, {55, 22}, {65, 6}}) {
    demographics.insert(demographics.end(), static_cast<std::size_t>(count), age);
  }
  EXPECT_EQ(median(demographics), 35.0);
  EXPECT_EQ(median_grouped(demographics, 10), 37.510330578512395);  // round(..., 1) == 37.5
  EXPECT_EQ(mode({1, 1, 2, 3, 3, 3, 3, 4}), 3);
  using namespace std::string_literals;
  EXPECT_EQ(mode({"red"s, "blue"s, "blue"s, "red"s, "green"s, "red"s, "red"s}), "red");
  EXPECT_EQ(mode({"red"s, "red"s, "green"s, "blue"s, "blue"s}), "red");
  EXPECT_EQ(multimode(std::string_view("aabbbbbbbbcc")), std::vector<char>{'b'});
  EXPECT_EQ(multimode(std::string_view("aabbbbccddddeeffffgg")),
            (std::vector<char>{'b', 'd', 'f'}));
  EXPECT_EQ(multimode(std::string_view("")), std::vector<char>{});
}

TEST(StatisticsDiffExamples, DocumentedSpreadAndRelations) {
  const std::vector<int> data = {105, 129, 87,  86,  111, 111, 89,  81,  108, 92,  110, 100, 75,
                                 105, 103, 109, 76,  119, 99,  91,  103, 129, 106, 101, 84,  111,
                                 74,  87,  86,  103, 103, 106, 86,  111, 75,  87,  102, 121, 111,
                                 88,  89,  101, 106, 95,  103, 107, 101, 81,  109, 104};
  EXPECT_EQ(quantiles(data, {.n = 10}),
            (std::vector<double>{81.0, 86.2, 89.0, 99.4, 102.5, 103.6, 106.0, 109.8, 111.0}));
  const std::vector<double> v = {2.75, 1.75, 1.25, 0.25, 0.5, 1.25, 3.5};
  EXPECT_EQ(variance(v), 1.3720238095238095);
  EXPECT_EQ(variance(v, mean(v)), 1.3720238095238095);
  const std::vector<double> p = {0.0, 0.25, 0.25, 1.25, 1.5, 1.75, 2.75, 3.25};
  EXPECT_EQ(pvariance(p), 1.25);
  EXPECT_EQ(pvariance(p, mean(p)), 1.25);
  EXPECT_EQ(stdev({1.5, 2.5, 2.5, 2.75, 3.25, 4.75}), 1.0810874155219827);
  EXPECT_EQ(pstdev({1.5, 2.5, 2.5, 2.75, 3.25, 4.75}), 0.986893273527251);
  const std::vector<int> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<int> y = {1, 2, 3, 1, 2, 3, 1, 2, 3};
  const std::vector<int> z = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(covariance(x, y), 0.75);
  EXPECT_EQ(covariance(x, z), -7.5);
  EXPECT_EQ(covariance(z, x), -7.5);
  EXPECT_EQ(correlation(x, x), 1.0);
  EXPECT_EQ(correlation(x, z), -1.0);
  const std::vector<int> year = {1971, 1975, 1979, 1982, 1983};
  const std::vector<int> films_total = {1, 2, 3, 4, 5};
  const LinearRegression films = linear_regression(year, films_total);
  EXPECT_EQ(films.slope, 0.31);
  EXPECT_EQ(films.intercept, -610.18);
  EXPECT_EQ(std::round(films.slope * 2019 + films.intercept), 16.0);
  // The docstring's noisy line: y = 3x + 2 + NormalDist().samples(5, seed=42), as Python
  // computed it.
  const std::vector<int> x5 = {1, 2, 3, 4, 5};
  const LinearRegression noisy =
      linear_regression(x5, std::vector{4.855909670422071, 7.827096399668481, 10.888684138432337,
                                        14.701983725098863, 16.872411716217112});
  EXPECT_EQ(noisy.slope, 3.0907891417020465);
  EXPECT_EQ(noisy.intercept, 1.756849704861633);
  const LinearRegression through_origin =
      linear_regression(x5,
                        std::vector{2.8559096704220717, 5.827096399668481, 8.888684138432337,
                                    12.701983725098863, 14.872411716217114},
                        {.proportional = true});
  EXPECT_EQ(through_origin.slope, 3.0244754248461283);
  EXPECT_EQ(through_origin.intercept, 0.0);
}

TEST(StatisticsDiffExamples, ErrorMessages) {
  const std::vector<double> none;
  const std::vector<double> one = {1.0};
  const std::vector<double> two = {1.0, 2.0};
  EXPECT_RAISES_MSG((void)mean(none), StatisticsError, "mean requires at least one data point");
  EXPECT_RAISES_MSG((void)fmean(none), StatisticsError, "fmean requires at least one data point");
  EXPECT_RAISES_MSG((void)fmean(two, one), StatisticsError,
                    "data and weights must be the same length");
  EXPECT_RAISES_MSG((void)fmean(two, std::vector{1, -1}), StatisticsError,
                    "sum of weights must be non-zero");
  EXPECT_RAISES_MSG((void)fmean(std::vector{kInf, -kInf}), ValueError, "-inf + inf in fsum");
  for (const std::vector<double>& bad :
       {none, std::vector<double>{1.0, -1.0}, std::vector<double>{0.0, 1.0}}) {
    EXPECT_RAISES_MSG((void)geometric_mean(bad), StatisticsError,
                      "geometric mean requires a non-empty dataset containing positive numbers");
  }
  EXPECT_RAISES_MSG((void)harmonic_mean(none), StatisticsError,
                    "harmonic_mean requires at least one data point");
  EXPECT_RAISES_MSG((void)harmonic_mean({1.0, -1.0}), StatisticsError,
                    "harmonic mean does not support negative values");
  EXPECT_RAISES_MSG((void)harmonic_mean({-1.0}), StatisticsError,
                    "harmonic mean does not support negative values");
  EXPECT_RAISES_MSG((void)harmonic_mean(two, one), StatisticsError,
                    "Number of weights does not match data size");
  EXPECT_RAISES_MSG((void)harmonic_mean(two, std::vector{0, 0}), StatisticsError,
                    "Weighted sum must be positive");
  EXPECT_EQ(harmonic_mean({1.0, 0.0}), 0.0);
  EXPECT_RAISES_MSG((void)median(none), StatisticsError, "no median for empty data");
  EXPECT_RAISES_MSG((void)median_low(none), StatisticsError, "no median for empty data");
  EXPECT_RAISES_MSG((void)median_high(none), StatisticsError, "no median for empty data");
  EXPECT_RAISES_MSG((void)median_grouped(none), StatisticsError, "no median for empty data");
  EXPECT_RAISES_MSG((void)mode(none), StatisticsError, "no mode for empty data");
  EXPECT_TRUE(multimode(none).empty());
  EXPECT_RAISES_MSG((void)quantiles(two, {.n = 0}), StatisticsError, "n must be at least 1");
  EXPECT_RAISES_MSG((void)quantiles(one), StatisticsError, "must have at least two data points");
  EXPECT_RAISES_MSG((void)quantiles(two, {.method = "median"}), ValueError,
                    "Unknown method: 'median'");
  // a plain ValueError, not a StatisticsError
  EXPECT_EQ(error_of([&] { (void)quantiles(two, {.method = "median"}); }),
            "ValueError: Unknown method: 'median'");
  EXPECT_EQ(error_of([&] { (void)quantiles(two, {.method = "it's"}); }),
            "ValueError: Unknown method: \"it's\"");
  EXPECT_RAISES_MSG((void)variance(one), StatisticsError,
                    "variance requires at least two data points");
  EXPECT_RAISES_MSG((void)pvariance(none), StatisticsError,
                    "pvariance requires at least one data point");
  EXPECT_RAISES_MSG((void)stdev(one), StatisticsError, "stdev requires at least two data points");
  EXPECT_RAISES_MSG((void)pstdev(none), StatisticsError, "pstdev requires at least one data point");
  EXPECT_RAISES_MSG((void)pvariance({-1e308, 1e308}), OverflowError,
                    "integer division result too large for a float");
  const std::vector<double> three = {1.0, 2.0, 3.0};
  EXPECT_RAISES_MSG((void)covariance(two, three), StatisticsError,
                    "covariance requires that both inputs have same number of data points");
  EXPECT_RAISES_MSG((void)covariance(one, one), StatisticsError,
                    "covariance requires at least two data points");
  EXPECT_RAISES_MSG((void)correlation(two, three), StatisticsError,
                    "correlation requires that both inputs have same number of data points");
  EXPECT_RAISES_MSG((void)correlation(one, one), StatisticsError,
                    "correlation requires at least two data points");
  EXPECT_RAISES_MSG((void)correlation(three, std::vector{5.0, 5.0, 5.0}), StatisticsError,
                    "at least one of the inputs is constant");
  EXPECT_RAISES_MSG((void)linear_regression(two, three), StatisticsError,
                    "linear regression requires that both inputs have same number of data points");
  EXPECT_RAISES_MSG((void)linear_regression(one, one), StatisticsError,
                    "linear regression requires at least two data points");
  EXPECT_RAISES_MSG((void)linear_regression(std::vector{5.0, 5.0, 5.0}, three), StatisticsError,
                    "x is constant");
  EXPECT_RAISES_MSG((void)linear_regression(std::vector{0.0, 0.0}, two, {.proportional = true}),
                    StatisticsError, "x is constant");
}

}  // namespace
}  // namespace batteries::statistics
