// batteries::statistics::Running: exactly rounded mean, variance and stdev over streamed data.
//
// Python's statistics functions need the whole data set at once. Running takes values one at
// a time (or a range at a time), keeps the exact sum of the values and of their squares, and
// answers mean(), variance(), pvariance(), stdev() and pstdev() at any point with exactly the
// results the functions give on all the values seen so far, bit for bit. Two Runnings merge
// exactly, so each thread can keep its own and combine them at the end.
//
// Values are doubles; an integer above 2^53 is rounded to a double as it is added.
//
// Thread-safety: a Running is a plain value; give each thread its own and merge().
#pragma once

#include <batteries/statistics/detail/exact.hpp>
#include <batteries/statistics/error.hpp>
#include <batteries/statistics/functions.hpp>

#include <cstdint>

namespace batteries::statistics {

class Running {
 public:
  /// Adds one value.
  void add(double x) noexcept {
    m_moments.sx.add(x);
    m_moments.sxx.add(x);
    ++m_moments.count;
  }

  /// Adds every value of a range.
  template <NumericRange R>
  void add(R&& data) {
    detail::add_values(m_moments, std::ranges::begin(data), std::ranges::end(data));
  }

  /// Adds everything another Running has seen, exactly.
  void merge(const Running& other) noexcept { m_moments.merge(other.m_moments); }

  /// How many values have been added.
  [[nodiscard]] std::uint64_t count() const noexcept { return m_moments.count; }

  /// mean() of the values so far; StatisticsError when there are none.
  [[nodiscard]] double mean() const {
    detail::FloatTotal total;
    total.sum = m_moments.sx;
    total.count = m_moments.count;
    return detail::finish_mean(total);
  }
  /// variance(), pvariance(), stdev() and pstdev() of the values so far.
  [[nodiscard]] double variance() const {
    return detail::finish_moments(m_moments, detail::Spread::variance);
  }
  [[nodiscard]] double pvariance() const {
    return detail::finish_moments(m_moments, detail::Spread::pvariance);
  }
  [[nodiscard]] double stdev() const {
    return detail::finish_moments(m_moments, detail::Spread::stdev);
  }
  [[nodiscard]] double pstdev() const {
    return detail::finish_moments(m_moments, detail::Spread::pstdev);
  }

 private:
  detail::FloatMoments m_moments;
};

}  // namespace batteries::statistics
