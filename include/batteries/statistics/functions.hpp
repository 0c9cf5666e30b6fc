// batteries::statistics' functions: Python 3.11's statistics module over C++ ranges.
//
// Each function takes any input range of Numbers (see error.hpp) and gives what CPython 3.11's
// function of the same name gives: mean, variance and the other exact functions round the
// exact rational result once, as CPython's Fraction arithmetic does, but with exact
// superaccumulators (detail/exact.hpp) instead of Fractions, at close to the cost of a plain
// loop. The fsum-based functions (fmean, covariance, correlation, linear_regression) round
// their sums once, as math.fsum does, and do the rest in double arithmetic in Python's order.
// Results are doubles, also for integer data, where Python returns an int when the result is
// integral. Errors are Python's: StatisticsError with Python's messages, and OverflowError or
// ValueError where Python raises those.
//
// The sort-based functions (median*, quantiles, mode, multimode) copy the data; the others
// read it once (covariance, correlation and linear_regression twice, as Python does).
// Overloads taking std::execution::par split the work of the exact functions over threads
// and give the same results bit for bit.
//
// Thread-safety: the functions share no state; they may run concurrently on shared data that
// no one modifies.
#pragma once

#include <batteries/errors.hpp>
#include <batteries/statistics/detail/exact.hpp>
#include <batteries/statistics/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <execution>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace batteries::statistics {

/// quantiles()' keyword arguments: quantiles(data, {.n = 10, .method = "inclusive"}).
struct QuantilesOptions {
  std::int64_t n = 4;
  std::string_view method = "exclusive";
};

/// linear_regression()'s result, Python's LinearRegression(slope, intercept).
struct LinearRegression {
  double slope;
  double intercept;
  friend bool operator==(const LinearRegression&, const LinearRegression&) = default;
};

/// linear_regression()'s keyword argument: linear_regression(x, y, {.proportional = true}).
struct LinearRegressionOptions {
  bool proportional = false;
};

namespace detail {

template <class T>
using Value = std::remove_cvref_t<T>;

/// An element as the Number it stands for: itself, or the bool behind std::vector<bool>'s
/// proxy reference.
template <class T>
[[nodiscard]] constexpr auto number(const T& x) noexcept {
  if constexpr (Number<T>) {
    return x;
  } else {
    return static_cast<bool>(x);
  }
}

/// Python's float(x) for a Number: exact for float, correctly rounded for integers.
template <class T>
[[nodiscard]] constexpr double to_double(const T& x) noexcept {
  return static_cast<double>(number(x));
}

template <class T>
constexpr bool is_negative(T x) noexcept {
  if constexpr (std::is_unsigned_v<T>) {  // bool included
    return false;
  } else {
    return x < 0;
  }
}

/// |x| for an integer, in 128 bits.
template <class T>
constexpr UInt128 magnitude(T x) noexcept {
  return is_negative(x) ? static_cast<UInt128>(-static_cast<Int128>(x)) : static_cast<UInt128>(x);
}

/// Runs add(accumulator, first, last) over the data, on several threads when it is long
/// enough, and merges the accumulators. The range must be random access and sized.
template <class Acc, class R, class Add>
Acc parallel_accumulate(R&& data, Add add) {
  const auto first = std::ranges::begin(data);
  const auto n = static_cast<std::size_t>(std::ranges::size(data));
  const std::size_t threads = std::clamp<std::size_t>(
      n / (std::size_t{1} << 16), 1, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<Acc> parts(threads);
  // jthreads join on every way out, before `parts` goes; a thread that cannot be started
  // leaves its share to this one.
  std::vector<std::jthread> workers;
  workers.reserve(threads - 1);
  const std::size_t step = n / threads;
  for (std::size_t t = 1; t < threads; ++t) {
    const std::size_t lo = t * step;
    const std::size_t hi = t + 1 == threads ? n : lo + step;
    auto work = [&parts, &add, first, t, lo, hi] {
      add(parts[t], first + static_cast<std::ptrdiff_t>(lo),
          first + static_cast<std::ptrdiff_t>(hi));
    };
    try {
      workers.emplace_back(work);
    } catch (const std::system_error&) {
      work();
    }
  }
  add(parts[0], first, first + static_cast<std::ptrdiff_t>(threads == 1 ? n : step));
  workers.clear();  // joins
  for (std::size_t t = 1; t < threads; ++t) {
    parts[0].merge(parts[t]);
  }
  return std::move(parts[0]);
}

/// A standard execution policy. seq runs on the calling thread; the others split the data.
template <class P>
concept ExecutionPolicy = std::is_execution_policy_v<std::remove_cvref_t<P>>;

template <class P>
inline constexpr bool kSequenced =
    std::is_same_v<std::remove_cvref_t<P>, std::execution::sequenced_policy>;

// ---- sums of the data ----

/// The exact sum of the data and its count.
struct FloatTotal {
  ExactSum sum;
  std::uint64_t count = 0;
  void merge(const FloatTotal& other) noexcept {
    sum.merge(other.sum);
    count += other.count;
  }
};

struct IntTotal {
  IntSum sum;
  std::uint64_t count = 0;
  void merge(const IntTotal& other) noexcept {
    sum.merge(other.sum);
    count += other.count;
  }
};

/// Adds [first, last) to total. Long contiguous runs of doubles go through the bins
/// (add_binned); shorter ones through four accumulators in turn, so that consecutive values of
/// one magnitude do not wait on each other's chunk updates.
template <class It, class S>
void add_values(FloatTotal& total, It first, S last) {
  if constexpr (std::contiguous_iterator<It> && std::sized_sentinel_for<S, It> &&
                std::is_same_v<std::iter_value_t<It>, double>) {
    const double* p = std::to_address(first);
    const auto n = static_cast<std::size_t>(last - first);
    if (n >= kBinnedFrom) {
      add_binned(total.sum, nullptr, p, n);
      total.count += n;
      return;
    }
    std::size_t i = 0;
    if (n >= 256) {
      ExactSum lanes[3];
      for (; i + 4 <= n; i += 4) {
        total.sum.add(p[i]);
        lanes[0].add(p[i + 1]);
        lanes[1].add(p[i + 2]);
        lanes[2].add(p[i + 3]);
      }
      for (const ExactSum& lane : lanes) {
        total.sum.merge(lane);
      }
    }
    for (; i < n; ++i) {
      total.sum.add(p[i]);
    }
    total.count += n;
  } else {
    for (; first != last; ++first) {
      total.sum.add(to_double(*first));
      ++total.count;
    }
  }
}

template <class It, class S>
void add_values(IntTotal& total, It first, S last) {
  for (; first != last; ++first) {
    total.sum.add(static_cast<Int128>(*first));
    ++total.count;
  }
}

template <class R>
using TotalFor = std::conditional_t<std::is_floating_point_v<std::ranges::range_value_t<R>>,
                                    FloatTotal, IntTotal>;

template <class R>
TotalFor<R> total_of(R&& data) {
  TotalFor<R> total;
  add_values(total, std::ranges::begin(data), std::ranges::end(data));
  return total;
}

/// The sums _ss needs: of the values and of their squares, exactly.
struct FloatMoments {
  ExactSum sx;
  SquareSum sxx;
  std::uint64_t count = 0;
  void merge(const FloatMoments& other) noexcept {
    sx.merge(other.sx);
    sxx.merge(other.sxx);
    count += other.count;
  }
};

struct IntMoments {
  IntSum sx;
  IntSquareSum sxx;
  std::uint64_t count = 0;
  void merge(const IntMoments& other) noexcept {
    sx.merge(other.sx);
    sxx.merge(other.sxx);
    count += other.count;
  }
};

template <class It, class S>
void add_values(FloatMoments& m, It first, S last) {
  if constexpr (std::contiguous_iterator<It> && std::sized_sentinel_for<S, It> &&
                std::is_same_v<std::iter_value_t<It>, double>) {
    const double* p = std::to_address(first);
    const auto n = static_cast<std::size_t>(last - first);
    if (n >= kBinnedFrom) {
      add_binned(m.sx, &m.sxx.wide(), p, n);
      m.count += n;
      return;
    }
    std::size_t i = 0;
    if (n >= 256) {
      FloatMoments lane;
      for (; i + 2 <= n; i += 2) {
        m.sx.add(p[i]);
        m.sxx.add(p[i]);
        lane.sx.add(p[i + 1]);
        lane.sxx.add(p[i + 1]);
      }
      m.sx.merge(lane.sx);
      m.sxx.merge(lane.sxx);
    }
    for (; i < n; ++i) {
      m.sx.add(p[i]);
      m.sxx.add(p[i]);
    }
    m.count += n;
  } else {
    for (; first != last; ++first) {
      const double x = to_double(*first);
      m.sx.add(x);
      m.sxx.add(x);
      ++m.count;
    }
  }
}

template <class It, class S>
void add_values(IntMoments& m, It first, S last) {
  for (; first != last; ++first) {
    const auto x = static_cast<Int128>(*first);
    m.sx.add(x);
    m.sxx.add_square(x);
    ++m.count;
  }
}

template <class R>
using MomentsFor = std::conditional_t<std::is_floating_point_v<std::ranges::range_value_t<R>>,
                                      FloatMoments, IntMoments>;

/// Sums of squared deviations from a given centre: exact integers when the data and the
/// centre are integers, else the exact sum of the rounded float squares, as Python computes
/// (x - c) * (x - c).
using FloatDeviations = FloatTotal;

struct IntDeviations {
  IntSquareSum sum;
  std::uint64_t count = 0;
  void merge(const IntDeviations& other) noexcept {
    sum.merge(other.sum);
    count += other.count;
  }
};

template <class It, class S>
void add_deviations(FloatDeviations& d, It first, S last, double c) {
  for (; first != last; ++first) {
    const double diff = to_double(*first) - c;
    d.sum.add(diff * diff);
    ++d.count;
  }
}

template <class It, class S>
void add_deviations(IntDeviations& d, It first, S last, Int128 c) {
  for (; first != last; ++first) {
    d.sum.add_square(static_cast<Int128>(*first) - c);
    ++d.count;
  }
}

/// Which of Python's four spread functions, with its divisor and minimum count.
enum class Spread { variance, pvariance, stdev, pstdev };

[[noreturn]] inline void too_few(Spread kind) {
  switch (kind) {
    case Spread::variance:
      throw StatisticsError("variance requires at least two data points");
    case Spread::pvariance:
      throw StatisticsError("pvariance requires at least one data point");
    case Spread::stdev:
      throw StatisticsError("stdev requires at least two data points");
    case Spread::pstdev:
      break;
  }
  throw StatisticsError("pstdev requires at least one data point");
}

/// The divisor for n points (n - 1 for the sample forms), after the count check.
inline std::uint64_t divisor_for(Spread kind, std::uint64_t n) {
  const bool sample = kind == Spread::variance || kind == Spread::stdev;
  if (n < (sample ? 2u : 1u)) {
    too_few(kind);
  }
  return sample ? n - 1 : n;
}

inline Finish finish_for(Spread kind) {
  return kind == Spread::stdev || kind == Spread::pstdev ? Finish::sqrt : Finish::value;
}

/// A special (inf or NaN) sum of squared deviations, divided as Python divides it; the
/// standard deviations take its square root (CPython 3.11 raises AttributeError there).
inline double special_spread(double ss, std::uint64_t divisor, Spread kind) {
  const double value = ss / static_cast<double>(divisor);
  return finish_for(kind) == Finish::sqrt ? std::sqrt(value) : value;
}

inline double finish_moments(const FloatMoments& m, Spread kind) {
  const std::uint64_t divisor = divisor_for(kind, m.count);
  if (!m.sx.finite()) {
    return special_spread(m.sx.special_value(), divisor, kind);
  }
  return exact_spread(m.sx, m.sxx, m.count, divisor, finish_for(kind));
}

inline double finish_moments(const IntMoments& m, Spread kind) {
  return exact_spread(m.sx, m.sxx, m.count, divisor_for(kind, m.count), finish_for(kind));
}

template <class R>
double spread(R&& data, Spread kind) {
  MomentsFor<R> m;
  add_values(m, std::ranges::begin(data), std::ranges::end(data));
  return finish_moments(m, kind);
}

template <class P, class R>
double spread(P&&, R&& data, Spread kind) {
  if constexpr (kSequenced<P>) {
    return spread(data, kind);
  }
  auto m = parallel_accumulate<MomentsFor<R>>(
      data, [](auto& acc, auto first, auto last) { add_values(acc, first, last); });
  return finish_moments(m, kind);
}

template <class R, class C>
double spread_about(R&& data, C c, Spread kind) {
  if constexpr (std::is_integral_v<std::ranges::range_value_t<R>> && std::is_integral_v<C>) {
    IntDeviations d;
    add_deviations(d, std::ranges::begin(data), std::ranges::end(data), static_cast<Int128>(c));
    return exact_ratio(d.sum, divisor_for(kind, d.count), finish_for(kind));
  } else {
    FloatDeviations d;
    add_deviations(d, std::ranges::begin(data), std::ranges::end(data), to_double(c));
    const std::uint64_t divisor = divisor_for(kind, d.count);
    if (!d.sum.finite()) {
      return special_spread(d.sum.special_value(), divisor, kind);
    }
    return exact_ratio(d.sum, divisor, finish_for(kind));
  }
}

template <class P, class R, class C>
double spread_about(P&&, R&& data, C c, Spread kind) {
  if constexpr (kSequenced<P>) {
    return spread_about(data, c, kind);
  }
  if constexpr (std::is_integral_v<std::ranges::range_value_t<R>> && std::is_integral_v<C>) {
    auto d = parallel_accumulate<IntDeviations>(data, [c](auto& acc, auto first, auto last) {
      add_deviations(acc, first, last, static_cast<Int128>(c));
    });
    return exact_ratio(d.sum, divisor_for(kind, d.count), finish_for(kind));
  } else {
    auto d = parallel_accumulate<FloatDeviations>(data, [c](auto& acc, auto first, auto last) {
      add_deviations(acc, first, last, to_double(c));
    });
    const std::uint64_t divisor = divisor_for(kind, d.count);
    if (!d.sum.finite()) {
      return special_spread(d.sum.special_value(), divisor, kind);
    }
    return exact_ratio(d.sum, divisor, finish_for(kind));
  }
}

inline double finish_mean(const FloatTotal& t) {
  if (t.count == 0) {
    throw StatisticsError("mean requires at least one data point");
  }
  if (!t.sum.finite()) {
    return t.sum.special_value() / static_cast<double>(t.count);
  }
  return exact_mean(t.sum, t.count);
}

inline double finish_mean(const IntTotal& t) {
  if (t.count == 0) {
    throw StatisticsError("mean requires at least one data point");
  }
  return exact_mean(t.sum, t.count);
}

/// math.fsum's exact sum of Python's float values of the data (integers rounded to double
/// first, as fsum rounds them), and the count.
template <class R>
FloatTotal fsum_of(R&& data) {
  FloatTotal total;
  add_values(total, std::ranges::begin(data), std::ranges::end(data));
  return total;
}

/// Python's x * w for two Numbers, as the float fsum would see: exact for two integers and
/// then rounded once, else a float product.
template <class A, class B>
double product(const A& a_ref, const B& b_ref) {
  const auto a = number(a_ref);
  const auto b = number(b_ref);
  using NA = decltype(a);
  using NB = decltype(b);
  if constexpr (std::is_integral_v<NA> && std::is_integral_v<NB>) {
    const double mag = static_cast<double>(magnitude(a) * magnitude(b));
    return is_negative(a) != is_negative(b) ? -mag : mag;
  } else {
    return to_double(a) * to_double(b);
  }
}
/// Python's w / x (x != 0): int / int is correctly rounded, anything else is a float division.
template <Number W, Number X>
double quotient(W w, X x) {
  if constexpr (std::is_integral_v<W> && std::is_integral_v<X>) {
    return int_quotient(static_cast<Int128>(w), static_cast<Int128>(x));
  } else {
    return to_double(w) / to_double(x);
  }
}

/// The data as a vector, for the functions that sort or must know the length first.
template <class R>
std::vector<Value<std::ranges::range_value_t<R>>> to_vector(R&& data) {
  std::vector<Value<std::ranges::range_value_t<R>>> out;
  if constexpr (std::ranges::sized_range<R>) {
    out.reserve(static_cast<std::size_t>(std::ranges::size(data)));
  }
  for (auto&& x : data) {
    out.push_back(x);
  }
  return out;
}

/// The data in the order Python's sorted() gives it, selected rather than sorted: at(k) is the
/// value at position k of the stable sort. NaNs go last (Python leaves their order undefined),
/// and a zero's sign is that of the k-th zero in input order, as a stable sort would leave it.
template <class T>
class Ordered {
 public:
  explicit Ordered(std::vector<T> values) : m_values(std::move(values)) {
    if constexpr (std::is_floating_point_v<T>) {
      bool negative_zero = false;
      for (const T x : m_values) {
        negative_zero = negative_zero || (x == 0 && std::signbit(x));
      }
      if (negative_zero) {
        for (const T x : m_values) {
          if (x == 0) {
            m_zero_signs.push_back(std::signbit(x));
          }
          m_negatives += x < 0 ? 1 : 0;
        }
      }
      const auto nan_begin =
          std::partition(m_values.begin(), m_values.end(), [](T x) { return !std::isnan(x); });
      m_ordered = static_cast<std::size_t>(nan_begin - m_values.begin());
    } else {
      m_ordered = m_values.size();
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_values.size(); }

  /// Puts the values at the given positions (ascending, distinct, < size()) in place.
  void select(std::vector<std::size_t> positions) {
    std::erase_if(positions, [this](std::size_t k) { return k >= m_ordered; });
    if (positions.size() > 32) {
      std::sort(m_values.begin(), m_values.begin() + static_cast<std::ptrdiff_t>(m_ordered));
      return;
    }
    select(positions.data(), positions.data() + positions.size(), 0, m_ordered);
  }

  /// The value at position k of the sorted data; select() must have placed k.
  [[nodiscard]] T at(std::size_t k) const {
    const T x = m_values[k];
    if constexpr (std::is_floating_point_v<T>) {
      if (x == 0 && !m_zero_signs.empty()) {
        return m_zero_signs[k - m_negatives] ? T(-0.0) : T(0.0);
      }
    }
    return x;
  }

  /// How many values are less than x, and how many equal it (bisect_left and bisect_right).
  [[nodiscard]] std::pair<std::size_t, std::size_t> rank(T x) const {
    std::size_t less = 0;
    std::size_t equal = 0;
    for (std::size_t i = 0; i < m_ordered; ++i) {
      less += m_values[i] < x ? 1 : 0;
      equal += m_values[i] == x ? 1 : 0;
    }
    return {less, equal};
  }

 private:
  void select(const std::size_t* first, const std::size_t* last, std::size_t lo, std::size_t hi) {
    if (first == last) {
      return;
    }
    const std::size_t* mid = first + (last - first) / 2;
    const auto begin = m_values.begin();
    std::nth_element(begin + static_cast<std::ptrdiff_t>(lo),
                     begin + static_cast<std::ptrdiff_t>(*mid),
                     begin + static_cast<std::ptrdiff_t>(hi));
    select(first, mid, lo, *mid);
    select(mid + 1, last, *mid + 1, hi);
  }

  std::vector<T> m_values;
  std::size_t m_ordered = 0;       // values before this index are not NaN
  std::vector<bool> m_zero_signs;  // in input order, when zeros of both signs are there
  std::size_t m_negatives = 0;     // values below zero, counted along with m_zero_signs
};

/// Python's (a + b) / 2 for the two middle values.
template <class T>
double midpoint(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return int128_to_double(static_cast<Int128>(a) + static_cast<Int128>(b)) / 2.0;
  } else {
    return (to_double(a) + to_double(b)) / 2.0;
  }
}

/// Python's (a * (n - delta) + b * delta) / n from quantiles().
template <class T>
double interpolate(T a, T b, Int128 n, Int128 delta) {
  if constexpr (std::is_integral_v<T>) {
    Int128 left = 0;
    Int128 right = 0;
    Int128 num = 0;
    if (__builtin_mul_overflow(static_cast<Int128>(a), n - delta, &left) ||
        __builtin_mul_overflow(static_cast<Int128>(b), delta, &right) ||
        __builtin_add_overflow(left, right, &num)) {
      throw OverflowError("quantiles: n is too large for exact integer interpolation");
    }
    return int_quotient(num, n);
  } else {
    return weighted_pair(to_double(a), static_cast<double>(n - delta), to_double(b),
                         static_cast<double>(delta), static_cast<double>(n));
  }
}

/// Equality and hashing as Python's dict sees values: -0.0 == 0.0, and (unlike Python, where
/// it depends on object identity) every NaN the same value.
template <class T>
struct ModeKey {
  std::size_t operator()(const T& x) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) {
        return 0x7ff8;
      }
      return std::hash<T>{}(x == 0 ? T(0) : x);
    } else {
      return std::hash<T>{}(x);
    }
  }
  bool operator()(const T& a, const T& b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return a == b || (std::isnan(a) && std::isnan(b));
    } else {
      return a == b;
    }
  }
};

/// Counts in first-seen order, as collections.Counter keeps them.
template <class R>
auto count_values(R&& data) {
  using T = Value<std::ranges::range_value_t<R>>;
  struct Entry {
    T value;
    std::size_t count;
  };
  std::vector<Entry> entries;
  std::unordered_map<T, std::size_t, ModeKey<T>, ModeKey<T>> index;
  for (auto&& x : data) {
    const auto [it, inserted] = index.try_emplace(x, entries.size());
    if (inserted) {
      entries.push_back(Entry{x, 1});
    } else {
      ++entries[it->second].count;
    }
  }
  return entries;
}

/// Checks that x and y have the same length, and at least two points; returns the length.
template <class X, class Y>
std::size_t paired_length(X&& x, Y&& y, std::string_view what) {
  const auto n = static_cast<std::size_t>(std::ranges::distance(x));
  if (static_cast<std::size_t>(std::ranges::distance(y)) != n) {
    throw StatisticsError(
        std::string(what).append(" requires that both inputs have same number of data points"));
  }
  if (n < 2) {
    throw StatisticsError(std::string(what).append(" requires at least two data points"));
  }
  return n;
}

/// Python's xbar, ybar and the fsums of the products of deviations.
struct Centred {
  double xbar;
  double ybar;
};

template <class X, class Y>
Centred centre(X&& x, Y&& y, std::size_t n) {
  const double xbar = fsum_result(fsum_of(x).sum) / static_cast<double>(n);
  const double ybar = fsum_result(fsum_of(y).sum) / static_cast<double>(n);
  return {xbar, ybar};
}

/// The exact sums of (x - xbar) * (y - ybar), and of the squared deviations of x and of y
/// when asked, in one pass over both inputs. Each term is Python's float product; the sums
/// are the ones Python's separate fsums see, so rounding them in Python's order gives
/// Python's results and errors.
struct DeviationSums {
  ExactSum xy;
  ExactSum xx;
  ExactSum yy;
};

template <bool kSquares, class Acc, class X, class Y>
void add_paired_deviations(Acc& xy, Acc& xx, Acc& yy, X&& x, Y&& y, double xbar, double ybar) {
  auto yi = std::ranges::begin(y);
  for (auto&& xi : x) {
    const double dx = to_double(xi) - xbar;
    const double dy = to_double(*yi) - ybar;
    xy.add(dx * dy);
    if constexpr (kSquares) {
      xx.add(dx * dx);
      yy.add(dy * dy);
    }
    ++yi;
  }
}

template <bool kSquares, class X, class Y>
DeviationSums deviation_sums(X&& x, Y&& y, double xbar, double ybar, std::size_t n) {
  DeviationSums sums;
  if (n >= kBinnedSumFrom) {
    BinnedSum xy;
    BinnedSum xx;
    BinnedSum yy;
    add_paired_deviations<kSquares>(xy, xx, yy, x, y, xbar, ybar);
    xy.finish(sums.xy);
    xx.finish(sums.xx);
    yy.finish(sums.yy);
  } else {
    add_paired_deviations<kSquares>(sums.xy, sums.xx, sums.yy, x, y, xbar, ybar);
  }
  return sums;
}

template <class R>
TotalFor<R> parallel_total(R&& data) {
  return parallel_accumulate<TotalFor<R>>(
      data, [](auto& acc, auto first, auto last) { add_values(acc, first, last); });
}

template <class R>
FloatTotal parallel_fsum(R&& data) {
  return parallel_accumulate<FloatTotal>(
      data, [](auto& acc, auto first, auto last) { add_values(acc, first, last); });
}

inline double finish_fmean(const FloatTotal& f) {
  const double total = fsum_result(f.sum);
  if (f.count == 0) {
    throw StatisticsError("fmean requires at least one data point");
  }
  return total / static_cast<double>(f.count);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Averages and measures of central location

/// Python's mean(data): the exact mean, correctly rounded. NaN and infinities propagate as
/// Python's do (inf and -inf together give NaN).
template <NumericRange R>
[[nodiscard]] double mean(R&& data) {
  return detail::finish_mean(detail::total_of(data));
}

/// mean(std::execution::par, data): the same result, summed on all cores (seq: on this one).
template <detail::ExecutionPolicy P, NumericRange R>
requires std::ranges::random_access_range<R> && std::ranges::sized_range<R>
[[nodiscard]] double mean(P&& /*policy*/, R&& data) {
  if constexpr (detail::kSequenced<P>) {
    return mean(data);
  }
  return detail::finish_mean(detail::parallel_total(data));
}

template <Number T>
[[nodiscard]] double mean(std::initializer_list<T> data) {
  return mean(std::span<const T>(data.begin(), data.size()));
}

/// Python's fmean(data): math.fsum(data) / len(data). fsum's errors come first:
/// ValueError('-inf + inf in fsum'), OverflowError('intermediate overflow in fsum').
template <NumericRange R>
[[nodiscard]] double fmean(R&& data) {
  return detail::finish_fmean(detail::fsum_of(data));
}

template <detail::ExecutionPolicy P, NumericRange R>
requires std::ranges::random_access_range<R> && std::ranges::sized_range<R>
[[nodiscard]] double fmean(P&& /*policy*/, R&& data) {
  if constexpr (detail::kSequenced<P>) {
    return fmean(data);
  }
  return detail::finish_fmean(detail::parallel_fsum(data));
}

template <Number T>
[[nodiscard]] double fmean(std::initializer_list<T> data) {
  return fmean(std::span<const T>(data.begin(), data.size()));
}

/// Python's fmean(data, weights): fsum(x * w) / fsum(weights), each product rounded as Python
/// rounds it.
template <NumericRange R, NumericRange W>
[[nodiscard]] double fmean(R&& data, W&& weights) {
  detail::ExactSum num;
  std::uint64_t n = 0;
  std::uint64_t num_weights = 0;
  auto x = std::ranges::begin(data);
  const auto x_end = std::ranges::end(data);
  auto w = std::ranges::begin(weights);
  const auto w_end = std::ranges::end(weights);
  detail::ExactSum den;
  for (; x != x_end && w != w_end; ++x, ++w) {
    const auto wi = *w;
    num.add(detail::product(*x, wi));
    den.add(detail::to_double(wi));
    ++n;
    ++num_weights;
  }
  const double numerator = detail::fsum_result(num);
  for (; x != x_end; ++x) {
    ++n;
  }
  for (; w != w_end; ++w) {
    den.add(detail::to_double(*w));
    ++num_weights;
  }
  if (n != num_weights) {
    throw StatisticsError("data and weights must be the same length");
  }
  const double denominator = detail::fsum_result(den);
  if (denominator == 0.0) {
    throw StatisticsError("sum of weights must be non-zero");
  }
  return numerator / denominator;
}

/// Python's geometric_mean(data): exp(fmean(log(x) for x in data)), with glibc's log and exp
/// as CPython uses them.
template <NumericRange R>
[[nodiscard]] double geometric_mean(R&& data) {
  detail::ExactSum logs;
  std::uint64_t n = 0;
  for (auto&& x : data) {
    const double v = detail::to_double(x);
    if (!(v > 0.0) && !std::isnan(v)) {
      throw StatisticsError(
          "geometric mean requires a non-empty dataset containing positive numbers");
    }
    logs.add(std::log(v));
    ++n;
  }
  if (n == 0) {
    throw StatisticsError(
        "geometric mean requires a non-empty dataset containing positive numbers");
  }
  const double mean_log = detail::fsum_result(logs) / static_cast<double>(n);
  const double result = std::exp(mean_log);
  if (std::isinf(result) && std::isfinite(mean_log)) {
    throw OverflowError("math range error");
  }
  return result;
}

template <Number T>
[[nodiscard]] double geometric_mean(std::initializer_list<T> data) {
  return geometric_mean(std::span<const T>(data.begin(), data.size()));
}

namespace detail {

inline constexpr std::string_view kHarmonicNegative =
    "harmonic mean does not support negative values";

/// harmonic_mean's finish: sum_weights / total, exact when both are.
template <class Weights>
double harmonic_finish(const Weights& sum_weights, const ExactSum& total) {
  if (total.finite() && exact_sign(total) <= 0) {
    throw StatisticsError("Weighted sum must be positive");
  }
  bool weights_exact = true;
  if constexpr (std::is_same_v<Weights, ExactSum>) {
    weights_exact = sum_weights.finite();
  }
  if (total.finite() && weights_exact) {
    return exact_quotient(sum_weights, total);
  }
  // A float (inf or NaN) meets a Fraction: Python turns the Fraction into a float, which
  // raises OverflowError when it is too large, and divides in floats.
  double weights_value = 0;
  if constexpr (std::is_same_v<Weights, ExactSum>) {
    weights_value = weights_exact ? exact_float(sum_weights) : sum_weights.special_value();
  } else {
    weights_value = int128_to_double(sum_weights.value());
  }
  const double t = total.finite() ? exact_float(total) : total.special_value();
  return weights_value / t;
}

}  // namespace detail

/// Python's harmonic_mean(data): len(data) over the exact sum of the rounded reciprocals.
/// A zero value makes the result 0; a negative one raises StatisticsError.
template <NumericRange R>
[[nodiscard]] double harmonic_mean(R&& data) {
  const auto values = detail::to_vector(data);
  const std::size_t n = values.size();
  if (n < 1) {
    throw StatisticsError("harmonic_mean requires at least one data point");
  }
  if (n == 1) {
    if (detail::is_negative(values[0])) {
      throw StatisticsError(std::string(detail::kHarmonicNegative));
    }
    return detail::to_double(values[0]);
  }
  detail::ExactSum total;
  for (const auto x : values) {
    if (detail::is_negative(x)) {
      throw StatisticsError(std::string(detail::kHarmonicNegative));
    }
    if (x == 0) {
      return 0.0;
    }
    total.add(detail::quotient(1, x));
  }
  detail::IntSum count;
  count.add(static_cast<detail::Int128>(n));
  return detail::harmonic_finish(count, total);
}

template <Number T>
[[nodiscard]] double harmonic_mean(std::initializer_list<T> data) {
  return harmonic_mean(std::span<const T>(data.begin(), data.size()));
}

/// Python's harmonic_mean(data, weights): the exact sum of the weights over the exact sum of
/// the rounded w / x.
template <NumericRange R, NumericRange W>
[[nodiscard]] double harmonic_mean(R&& data, W&& weights) {
  const auto values = detail::to_vector(data);
  const auto ws = detail::to_vector(weights);
  const std::size_t n = values.size();
  if (n < 1) {
    throw StatisticsError("harmonic_mean requires at least one data point");
  }
  if (ws.size() != n) {
    throw StatisticsError("Number of weights does not match data size");
  }
  using WT = typename decltype(ws)::value_type;
  std::conditional_t<std::is_floating_point_v<WT>, detail::ExactSum, detail::IntSum> sum_weights;
  for (const auto w : ws) {
    if (detail::is_negative(w)) {
      throw StatisticsError(std::string(detail::kHarmonicNegative));
    }
    if constexpr (std::is_floating_point_v<WT>) {
      sum_weights.add(detail::to_double(w));
    } else {
      sum_weights.add(static_cast<detail::Int128>(w));
    }
  }
  detail::ExactSum total;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = values[i];
    if (detail::is_negative(x)) {
      throw StatisticsError(std::string(detail::kHarmonicNegative));
    }
    const auto w = ws[i];
    if (w != 0) {  // a NaN weight counts as true, as in Python
      if (x == 0) {
        return 0.0;
      }
      total.add(detail::quotient(w, x));
    }
  }
  return detail::harmonic_finish(sum_weights, total);
}

/// Python's median(data): the middle value, or the mean of the two middle values computed as
/// Python does, (a + b) / 2.
template <NumericRange R>
[[nodiscard]] double median(R&& data) {
  detail::Ordered ordered(detail::to_vector(data));
  const std::size_t n = ordered.size();
  if (n == 0) {
    throw StatisticsError("no median for empty data");
  }
  if (n % 2 == 1) {
    ordered.select({n / 2});
    return detail::to_double(ordered.at(n / 2));
  }
  ordered.select({n / 2 - 1, n / 2});
  return detail::midpoint(ordered.at(n / 2 - 1), ordered.at(n / 2));
}

template <Number T>
[[nodiscard]] double median(std::initializer_list<T> data) {
  return median(std::span<const T>(data.begin(), data.size()));
}

namespace detail {

/// The value at position k of Python's sorted(data), for median_low and median_high.
template <class R>
auto sorted_at(R&& data, bool low) {
  using T = Value<std::ranges::range_value_t<R>>;
  std::vector<T> values = to_vector(data);
  const std::size_t n = values.size();
  if (n == 0) {
    throw StatisticsError("no median for empty data");
  }
  const std::size_t k = low && n % 2 == 0 ? n / 2 - 1 : n / 2;
  if constexpr (Number<T>) {
    Ordered<T> ordered(std::move(values));
    ordered.select({k});
    return ordered.at(k);
  } else {
    std::stable_sort(values.begin(), values.end());
    return T(std::move(values[k]));
  }
}

}  // namespace detail

/// Python's median_low(data): the smaller middle value. Takes any totally ordered type.
template <std::ranges::input_range R>
requires std::totally_ordered<std::ranges::range_value_t<R>>
[[nodiscard]] auto median_low(R&& data) { return detail::sorted_at(data, true); }

template <std::totally_ordered T>
[[nodiscard]] T median_low(std::initializer_list<T> data) {
  return median_low(std::span<const T>(data.begin(), data.size()));
}

/// Python's median_high(data): the larger middle value. Takes any totally ordered type.
template <std::ranges::input_range R>
requires std::totally_ordered<std::ranges::range_value_t<R>>
[[nodiscard]] auto median_high(R&& data) { return detail::sorted_at(data, false); }

template <std::totally_ordered T>
[[nodiscard]] T median_high(std::initializer_list<T> data) {
  return median_high(std::span<const T>(data.begin(), data.size()));
}

/// Python's median_grouped(data, interval): the 50th percentile of grouped data, computed in
/// Python 3.11's float operations.
template <NumericRange R>
[[nodiscard]] double median_grouped(R&& data, double interval = 1.0) {
  using T = detail::Value<std::ranges::range_value_t<R>>;
  detail::Ordered<T> ordered(detail::to_vector(data));
  const std::size_t n = ordered.size();
  if (n == 0) {
    throw StatisticsError("no median for empty data");
  }
  ordered.select({n / 2});
  const T middle = ordered.at(n / 2);
  const auto [cf, f] = ordered.rank(middle);
  const double x = detail::to_double(middle);
  const double lower = x - interval / 2.0;
  const double half = static_cast<double>(n) / 2.0;
  return lower + interval * (half - static_cast<double>(cf)) / static_cast<double>(f);
}

template <Number T>
[[nodiscard]] double median_grouped(std::initializer_list<T> data, double interval = 1.0) {
  return median_grouped(std::span<const T>(data.begin(), data.size()), interval);
}

/// Python's mode(data): the most common value, the first seen among equals. Takes any type
/// with std::hash and ==.
template <std::ranges::input_range R>
[[nodiscard]] auto mode(R&& data) {
  auto entries = detail::count_values(data);
  if (entries.empty()) {
    throw StatisticsError("no mode for empty data");
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].count > entries[best].count) {
      best = i;
    }
  }
  return std::move(entries[best].value);
}

template <class T>
[[nodiscard]] T mode(std::initializer_list<T> data) {
  return mode(std::span<const T>(data.begin(), data.size()));
}

/// Python's multimode(data): every most common value, in the order first seen.
template <std::ranges::input_range R>
[[nodiscard]] auto multimode(R&& data) {
  auto entries = detail::count_values(data);
  using T = detail::Value<std::ranges::range_value_t<R>>;
  std::vector<T> out;
  std::size_t most = 0;
  for (const auto& e : entries) {
    most = std::max(most, e.count);
  }
  for (auto& e : entries) {
    if (e.count == most) {
      out.push_back(std::move(e.value));
    }
  }
  return out;
}

template <class T>
[[nodiscard]] std::vector<T> multimode(std::initializer_list<T> data) {
  return multimode(std::span<const T>(data.begin(), data.size()));
}

/// Python's quantiles(data, n=4, method='exclusive'): n - 1 cut points, interpolated as
/// Python does. method is "exclusive" or "inclusive"; anything else is a ValueError.
template <NumericRange R>
[[nodiscard]] std::vector<double> quantiles(R&& data, QuantilesOptions options = {}) {
  using T = detail::Value<std::ranges::range_value_t<R>>;
  const std::int64_t n = options.n;
  if (n < 1) {
    throw StatisticsError("n must be at least 1");
  }
  detail::Ordered<T> ordered(detail::to_vector(data));
  const auto ld = static_cast<std::int64_t>(ordered.size());
  if (ld < 2) {
    throw StatisticsError("must have at least two data points");
  }
  const bool inclusive = options.method == "inclusive";
  if (!inclusive && options.method != "exclusive") {
    throw ValueError(std::string("Unknown method: ").append(py_repr(options.method)));
  }
  // The positions each cut point reads, and the weights of its interpolation.
  struct Cut {
    std::int64_t j;
    detail::Int128 delta;
  };
  std::vector<Cut> cuts;
  cuts.reserve(static_cast<std::size_t>(n - 1));
  std::vector<std::size_t> positions;
  const detail::Int128 n128 = n;
  for (std::int64_t i = 1; i < n; ++i) {
    std::int64_t j = 0;
    detail::Int128 delta = 0;
    if (inclusive) {
      const detail::Int128 scaled = static_cast<detail::Int128>(i) * (ld - 1);
      j = static_cast<std::int64_t>(scaled / n128);
      delta = scaled % n128;
    } else {
      const detail::Int128 scaled = static_cast<detail::Int128>(i) * (ld + 1);
      j = std::clamp(static_cast<std::int64_t>(scaled / n128), std::int64_t{1}, ld - 1);
      delta = scaled - static_cast<detail::Int128>(j) * n128;
      --j;  // Python reads data[j - 1] and data[j]
    }
    cuts.push_back({j, delta});
    positions.push_back(static_cast<std::size_t>(j));
    positions.push_back(static_cast<std::size_t>(j + 1));
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  ordered.select(std::move(positions));
  std::vector<double> result;
  result.reserve(cuts.size());
  for (const Cut& cut : cuts) {
    const auto j = static_cast<std::size_t>(cut.j);
    result.push_back(detail::interpolate(ordered.at(j), ordered.at(j + 1), n128, cut.delta));
  }
  return result;
}

template <Number T>
[[nodiscard]] std::vector<double> quantiles(std::initializer_list<T> data,
                                            QuantilesOptions options = {}) {
  return quantiles(std::span<const T>(data.begin(), data.size()), options);
}

// ---------------------------------------------------------------------------------------------
// Measures of spread

/// Python's variance(data): the exact sample variance, correctly rounded. OverflowError when
/// it is too large for a double, as Python's int / int division raises.
template <NumericRange R>
[[nodiscard]] double variance(R&& data) {
  return detail::spread(data, detail::Spread::variance);
}

/// Python's variance(data, xbar): squared deviations from the given mean, as Python computes
/// them ((x - xbar) * (x - xbar) in floats, exactly for integers), summed exactly.
template <NumericRange R, Number X>
[[nodiscard]] double variance(R&& data, X xbar) {
  return detail::spread_about(data, xbar, detail::Spread::variance);
}

/// Python's pvariance(data[, mu]): the population variance.
template <NumericRange R>
[[nodiscard]] double pvariance(R&& data) {
  return detail::spread(data, detail::Spread::pvariance);
}

template <NumericRange R, Number X>
[[nodiscard]] double pvariance(R&& data, X mu) {
  return detail::spread_about(data, mu, detail::Spread::pvariance);
}

/// Python's stdev(data[, xbar]): the square root of the exact sample variance, correctly
/// rounded (CPython's _float_sqrt_of_frac).
template <NumericRange R>
[[nodiscard]] double stdev(R&& data) {
  return detail::spread(data, detail::Spread::stdev);
}

template <NumericRange R, Number X>
[[nodiscard]] double stdev(R&& data, X xbar) {
  return detail::spread_about(data, xbar, detail::Spread::stdev);
}

/// Python's pstdev(data[, mu]): the population standard deviation.
template <NumericRange R>
[[nodiscard]] double pstdev(R&& data) {
  return detail::spread(data, detail::Spread::pstdev);
}

template <NumericRange R, Number X>
[[nodiscard]] double pstdev(R&& data, X mu) {
  return detail::spread_about(data, mu, detail::Spread::pstdev);
}

#define BATTERIES_STATISTICS_SPREAD(NAME, KIND)                               \
  template <detail::ExecutionPolicy P, NumericRange R>                        \
  requires std::ranges::random_access_range<R> && std::ranges::sized_range<R> \
  [[nodiscard]] double NAME(P&& policy, R&& data) {                           \
    return detail::spread(policy, data, detail::Spread::KIND);                \
  }                                                                           \
  template <detail::ExecutionPolicy P, NumericRange R, Number X>              \
  requires std::ranges::random_access_range<R> && std::ranges::sized_range<R> \
  [[nodiscard]] double NAME(P&& policy, R&& data, X centre) {                 \
    return detail::spread_about(policy, data, centre, detail::Spread::KIND);  \
  }                                                                           \
  template <Number T>                                                         \
  [[nodiscard]] double NAME(std::initializer_list<T> data) {                  \
    return NAME(std::span<const T>(data.begin(), data.size()));               \
  }                                                                           \
  template <Number T, Number X>                                               \
  [[nodiscard]] double NAME(std::initializer_list<T> data, X centre) {        \
    return NAME(std::span<const T>(data.begin(), data.size()), centre);       \
  }

// The parallel and initializer_list forms of the four.
BATTERIES_STATISTICS_SPREAD(variance, variance)
BATTERIES_STATISTICS_SPREAD(pvariance, pvariance)
BATTERIES_STATISTICS_SPREAD(stdev, stdev)
BATTERIES_STATISTICS_SPREAD(pstdev, pstdev)
#undef BATTERIES_STATISTICS_SPREAD

// ---------------------------------------------------------------------------------------------
// Statistics for relations between two inputs

/// Python's covariance(x, y): fsum((x - xbar) * (y - ybar)) / (n - 1).
template <NumericSequence X, NumericSequence Y>
[[nodiscard]] double covariance(X&& x, Y&& y) {
  const std::size_t n = detail::paired_length(x, y, "covariance");
  const auto [xbar, ybar] = detail::centre(x, y, n);
  const auto sums = detail::deviation_sums<false>(x, y, xbar, ybar, n);
  return detail::fsum_result(sums.xy) / static_cast<double>(n - 1);
}

/// Python's correlation(x, y): Pearson's r, sxy / sqrt(sxx * syy) from fsums.
template <NumericSequence X, NumericSequence Y>
[[nodiscard]] double correlation(X&& x, Y&& y) {
  const std::size_t n = detail::paired_length(x, y, "correlation");
  const auto [xbar, ybar] = detail::centre(x, y, n);
  const auto sums = detail::deviation_sums<true>(x, y, xbar, ybar, n);
  const double sxy = detail::fsum_result(sums.xy);
  const double sxx = detail::fsum_result(sums.xx);
  const double syy = detail::fsum_result(sums.yy);
  const double den = std::sqrt(sxx * syy);
  if (den == 0.0) {
    throw StatisticsError("at least one of the inputs is constant");
  }
  return sxy / den;
}

/// Python's linear_regression(x, y, proportional=False): ordinary least squares, slope and
/// intercept (0.0 with {.proportional = true}).
template <NumericSequence X, NumericSequence Y>
[[nodiscard]] LinearRegression linear_regression(X&& x, Y&& y,
                                                 LinearRegressionOptions options = {}) {
  detail::paired_length(x, y, "linear regression");
  const std::size_t n = static_cast<std::size_t>(std::ranges::distance(x));
  double sxy = 0;
  double sxx = 0;
  double xbar = 0;
  double ybar = 0;
  if (options.proportional) {
    detail::ExactSum products;
    auto yi = std::ranges::begin(y);
    for (auto&& xi : x) {
      products.add(detail::product(xi, *yi));
      ++yi;
    }
    sxy = detail::fsum_result(products);
    detail::ExactSum squares;
    for (auto&& xi : x) {
      squares.add(detail::product(xi, xi));
    }
    sxx = detail::fsum_result(squares);
  } else {
    const auto c = detail::centre(x, y, n);
    xbar = c.xbar;
    ybar = c.ybar;
    const auto sums = detail::deviation_sums<true>(x, y, xbar, ybar, n);
    sxy = detail::fsum_result(sums.xy);
    sxx = detail::fsum_result(sums.xx);
  }
  if (sxx == 0.0) {
    throw StatisticsError("x is constant");
  }
  const double slope = sxy / sxx;
  const double intercept = options.proportional ? 0.0 : detail::minus_product(ybar, slope, xbar);
  return {slope, intercept};
}

}  // namespace batteries::statistics
