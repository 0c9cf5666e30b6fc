// batteries::statistics: StatisticsError and the concepts that say what data the functions take.
//
// StatisticsError is Python's statistics.StatisticsError, a ValueError. The functions take
// any range whose values are Numbers: the integer types (bool included, as Python's bool is
// an int) and float and double. Character types are not numbers here, so a std::string does
// not compile where data is expected; long double is left out because its sums would need a
// wider exact accumulator than the one double needs.
#pragma once

#include <batteries/errors.hpp>

#include <concepts>
#include <ranges>
#include <type_traits>

namespace batteries::statistics {

/// Python's statistics.StatisticsError (a ValueError).
BATTERIES_EXCEPTION(StatisticsError, ValueError);

/// A value the numeric functions accept: an integer type of at most 64 bits, float or double.
template <class T>
concept Number =
    std::is_arithmetic_v<T> && !std::same_as<std::remove_cv_t<T>, long double> &&
    !std::same_as<std::remove_cv_t<T>, char> && !std::same_as<std::remove_cv_t<T>, wchar_t> &&
    !std::same_as<std::remove_cv_t<T>, char8_t> && !std::same_as<std::remove_cv_t<T>, char16_t> &&
    !std::same_as<std::remove_cv_t<T>, char32_t> && sizeof(T) <= 8;

/// An input range of Numbers (a std::vector<double>, a std::span<const int>, a view, ...).
template <class R>
concept NumericRange = std::ranges::input_range<R> && Number<std::ranges::range_value_t<R>>;

/// A range that can be read more than once and knows its length, as Python's sequence
/// arguments (covariance's x and y, for example) must.
template <class R>
concept NumericSequence = NumericRange<R> && std::ranges::forward_range<R>;

}  // namespace batteries::statistics
