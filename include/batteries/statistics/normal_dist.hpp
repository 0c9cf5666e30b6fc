// batteries::statistics::NormalDist: Python 3.11's statistics.NormalDist, a normal distribution
// as a value with its density, cumulative and inverse cumulative functions and arithmetic.
//
// A NormalDist holds mu (the mean) and sigma (the standard deviation, never negative; NaN is
// let through, as Python lets it through). Every result is computed in CPython's order of
// float operations with the same C library functions (exp, erf, log, sqrt), and with CPython's
// own algorithms where it has them (math.hypot's correctly rounded norm, the AS241 inverse
// CDF), so results are bit for bit the ones CPython 3.11 gives on the same platform.
// samples() with a seed reproduces random.Random(seed).gauss() exactly.
//
// Errors are Python's: StatisticsError with Python's messages for a negative sigma and for
// the functions that are undefined when sigma is zero; ZeroDivisionError for division by 0.
// Operators that Python lacks (NormalDist * NormalDist, number / NormalDist, comparison with a
// number) do not compile.
//
// Thread-safety: a NormalDist is an immutable value (the compound assignments replace it as a
// whole); const use from any number of threads is safe. samples() keeps its generator local
// to the call.
#pragma once

#include <fmt/format.h>

#include <batteries/errors.hpp>
#include <batteries/statistics/error.hpp>
#include <batteries/statistics/functions.hpp>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>
#include <ostream>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace batteries::statistics {

/// samples()' keyword argument: d.samples(10, {.seed = 42}). Without a seed the samples come
/// from a generator seeded by std::random_device. A negative seed gives the samples of its
/// absolute value, as Python's int seeds do.
struct SamplesOptions {
  std::optional<std::int64_t> seed = std::nullopt;
};

/// Python's statistics.NormalDist(mu, sigma).
class NormalDist {
 public:
  /// NormalDist(): the standard normal distribution, mu 0 and sigma 1.
  constexpr NormalDist() noexcept = default;
  /// NormalDist(mu, sigma). StatisticsError('sigma must be non-negative') when sigma < 0.
  explicit constexpr NormalDist(double mu, double sigma = 1.0) : m_mu(mu), m_sigma(sigma) {
    if (sigma < 0.0) {
      throw StatisticsError("sigma must be non-negative");
    }
  }

  /// NormalDist.from_samples(data): mu the exactly rounded mean of the data and sigma its
  /// exactly rounded sample standard deviation, as statistics.mean() and stdev() give them.
  /// StatisticsError('stdev requires at least two data points') for fewer than two values.
  /// When the data hold an infinity or a NaN, mu is their sum and sigma is NaN, as in Python.
  template <NumericRange R>
  [[nodiscard]] static NormalDist from_samples(R&& data) {
    if constexpr (std::ranges::forward_range<R>) {
      if (std::ranges::distance(data) < 2) {
        throw StatisticsError("stdev requires at least two data points");
      }
      const double mu = ::batteries::statistics::mean(data);
      if (!std::isfinite(mu)) {
        // Python divides the non-finite sum by itself: inf/inf or nan/nan.
        return NormalDist(mu, std::numeric_limits<double>::quiet_NaN());
      }
      return NormalDist(mu, ::batteries::statistics::stdev(data));
    } else {
      // A single-pass range: keep the values (in their own type, so that integers stay exact)
      // to read them twice.
      std::vector<std::ranges::range_value_t<R>> values;
      for (auto it = std::ranges::begin(data); it != std::ranges::end(data); ++it) {
        values.push_back(*it);
      }
      return from_samples(values);
    }
  }
  [[nodiscard]] static NormalDist from_samples(std::initializer_list<double> data) {
    return from_samples(std::span<const double>(data.begin(), data.size()));
  }

  /// samples(n, *, seed=None): n values drawn with Python's random.Random(seed).gauss(mu,
  /// sigma), the same values CPython gives for the same integer seed. No values for n <= 0.
  [[nodiscard]] std::vector<double> samples(std::int64_t n, SamplesOptions options = {}) const;

  /// The probability density at x. StatisticsError when sigma is zero.
  [[nodiscard]] double pdf(double x) const;
  /// The cumulative distribution function, P(X <= x). StatisticsError when sigma is zero.
  [[nodiscard]] double cdf(double x) const;
  /// The inverse cumulative distribution function: the x with P(X <= x) = p. StatisticsError
  /// unless 0 < p < 1 (a NaN p gives NaN, as in CPython) and unless sigma > 0.
  [[nodiscard]] double inv_cdf(double p) const;
  /// The n - 1 cut points that divide the distribution into n intervals of equal probability
  /// (quartiles by default); none for n <= 1.
  [[nodiscard]] std::vector<double> quantiles(std::int64_t n = 4) const;
  /// The overlapping coefficient of the two densities, between 0 and 1. StatisticsError when
  /// either sigma is zero.
  [[nodiscard]] double overlap(const NormalDist& other) const;
  /// The standard score (x - mean) / stdev. StatisticsError when sigma is zero.
  [[nodiscard]] double zscore(double x) const;

  [[nodiscard]] constexpr double mean() const noexcept { return m_mu; }
  [[nodiscard]] constexpr double median() const noexcept { return m_mu; }
  [[nodiscard]] constexpr double mode() const noexcept { return m_mu; }
  [[nodiscard]] constexpr double stdev() const noexcept { return m_sigma; }
  [[nodiscard]] constexpr double variance() const noexcept { return m_sigma * m_sigma; }

  /// X + Y and X - Y for independent X and Y: the means add or subtract, the variances add.
  friend NormalDist operator+(const NormalDist& x1, const NormalDist& x2);
  friend NormalDist operator-(const NormalDist& x1, const NormalDist& x2);
  /// Translation by a constant; sigma is unchanged.
  friend constexpr NormalDist operator+(const NormalDist& x1, double x2) {
    return NormalDist(x1.m_mu + x2, x1.m_sigma);
  }
  friend constexpr NormalDist operator+(double x2, const NormalDist& x1) { return x1 + x2; }
  friend constexpr NormalDist operator-(const NormalDist& x1, double x2) {
    return NormalDist(x1.m_mu - x2, x1.m_sigma);
  }
  /// Python's __rsub__: -(x1 - x2), so 0.0 - NormalDist(0.0) has mu -0.0 as in Python.
  friend constexpr NormalDist operator-(double x2, const NormalDist& x1) { return -(x1 - x2); }
  /// Scaling by a constant: mu times x2, sigma times |x2|.
  friend constexpr NormalDist operator*(const NormalDist& x1, double x2) {
    return NormalDist(x1.m_mu * x2, x1.m_sigma * magnitude(x2));
  }
  friend constexpr NormalDist operator*(double x2, const NormalDist& x1) { return x1 * x2; }
  /// Scaling by 1 / x2. ZeroDivisionError('float division by zero') when x2 is zero.
  friend constexpr NormalDist operator/(const NormalDist& x1, double x2) {
    if (x2 == 0.0) {
      throw ZeroDivisionError("float division by zero");
    }
    return NormalDist(x1.m_mu / x2, x1.m_sigma / magnitude(x2));
  }
  friend constexpr NormalDist operator+(const NormalDist& x1) noexcept { return x1; }
  friend constexpr NormalDist operator-(const NormalDist& x1) noexcept {
    NormalDist negated = x1;
    negated.m_mu = -x1.m_mu;
    return negated;
  }
  // Python rebinds the name for `d += 1.0`; so does C++.
  constexpr NormalDist& operator+=(double x) { return *this = *this + x; }
  constexpr NormalDist& operator-=(double x) { return *this = *this - x; }
  constexpr NormalDist& operator*=(double x) { return *this = *this * x; }
  constexpr NormalDist& operator/=(double x) { return *this = *this / x; }
  NormalDist& operator+=(const NormalDist& x) { return *this = *this + x; }
  NormalDist& operator-=(const NormalDist& x) { return *this = *this - x; }

  /// Equal when mu and sigma are both equal (so never when either is NaN).
  friend constexpr bool operator==(const NormalDist&, const NormalDist&) noexcept = default;

  /// Python's hash(d), which is hash((mu, sigma)), for every d without a NaN (Python hashes a
  /// NaN by its object's address; here every NaN hashes as 0).
  [[nodiscard]] std::size_t hash() const noexcept;

  /// repr(d): "NormalDist(mu=0.0, sigma=1.0)", the floats as Python's repr() writes them.
  [[nodiscard]] std::string repr() const;
  /// str(d), which Python makes the same as repr(d).
  [[nodiscard]] std::string str() const { return repr(); }
  friend std::ostream& operator<<(std::ostream& out, const NormalDist& d) { return out << d.str(); }

 private:
  // fabs(), which is not constexpr before C++23.
  static constexpr double magnitude(double x) noexcept {
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) & ~(std::uint64_t{1} << 63));
  }

  double m_mu = 0.0;
  double m_sigma = 1.0;
};

}  // namespace batteries::statistics

template <>
struct std::hash<batteries::statistics::NormalDist> {
  std::size_t operator()(const batteries::statistics::NormalDist& d) const noexcept {
    return d.hash();
  }
};

template <>
struct fmt::formatter<batteries::statistics::NormalDist> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const batteries::statistics::NormalDist& d, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(d.str(), ctx);
  }
};
