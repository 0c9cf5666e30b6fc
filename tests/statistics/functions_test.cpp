// Tests of batteries::statistics' exact machinery: the accumulators, every input path to them
// (binned, per value, parallel, streaming), the range and type handling, and the decisions
// that differ from CPython. The function-by-function comparison with CPython is diff_test.cpp.
#include <batteries/statistics.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <random>
#include <ranges>
#include <sstream>
#include <string>
#include <vector>

#include "floats.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace st = batteries::statistics;
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();

using batteries::testing::hex_double;
using batteries::testing::same_bits;

#define EXPECT_SAME(a, b) EXPECT_PRED2(same_bits, a, b)

/// A call's outcome as text: the result in hex, or the name of the exception it raised.
template <class F>
std::string outcome(F f) {
  try {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", f());
    return buf;
  } catch (const batteries::BaseException& e) {
    return std::string(e.type_name());
  }
}

#define EXPECT_SAME_OUTCOME(a, b) EXPECT_EQ(outcome([&] { return a; }), outcome([&] { return b; }))

/// Python's printed outcome (float.hex() or an exception name) in outcome()'s spelling.
std::string from_python(const std::string& token) {
  if (token.find("0x") == std::string::npos && token != "inf" && token != "-inf" &&
      token != "nan") {
    return token;
  }
  return outcome([&] { return std::strtod(token.c_str(), nullptr); });
}

/// Data sets whose exact sums are hard: mixed magnitudes, cancellation, subnormals, huge values.
std::vector<std::vector<double>> hard_sets(std::size_t length, int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> sets;
  for (int s = 0; s < count; ++s) {
    std::vector<double> v;
    v.reserve(length);
    const int kind = s % 6;
    for (std::size_t i = 0; i < length; ++i) {
      const double u = std::uniform_real_distribution<double>(-1, 1)(rng);
      const int e = std::uniform_int_distribution<int>(-1074, 1020)(rng);
      switch (kind) {
        case 0:  // any finite magnitude
          v.push_back(std::ldexp(u, e));
          break;
        case 1:  // offset by 1e15: cancellation in the variance
          v.push_back(1e15 + u);
          break;
        case 2:  // subnormals and zeros of both signs
          v.push_back(i % 7 == 0 ? (i % 2 == 0 ? 0.0 : -0.0) : std::ldexp(u, -1060));
          break;
        case 3:  // huge values that cancel
          v.push_back(i % 2 == 0 ? std::ldexp(u, 1000) : -std::ldexp(u, 1000) + 1.0);
          break;
        case 4:  // near 1 with a spread of tiny ones
          v.push_back(i % 3 == 0 ? 1.0 + u * 1e-10 : std::ldexp(u, -500));
          break;
        default:  // ordinary data
          v.push_back(1000.0 + 10.0 * u);
          break;
      }
    }
    sets.push_back(std::move(v));
  }
  return sets;
}

TEST(StatisticsExact, SumsAreCorrectlyRoundedLikeFsum) {
  const auto sets = hard_sets(2000, 24, 7);
  std::string script = "import math\nsets = [\n";
  std::vector<double> ours;
  for (const auto& v : sets) {
    script += "[";
    for (const double x : v) {
      script += "float.fromhex('" + hex_double(x) + "'),";
    }
    script += "],\n";
    st::detail::ExactSum sum;
    for (const double x : v) {
      sum.add(x);
    }
    ours.push_back(st::detail::exact_value(sum));
  }
  script += "]\nfor s in sets: print(math.fsum(s).hex())\n";
  const auto out = batteries::testing::run_python(script);
  ASSERT_TRUE(out.has_value());
  std::istringstream lines(*out);
  std::string line;
  std::size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    ASSERT_LT(i, ours.size());
    EXPECT_SAME(ours[i], std::strtod(line.c_str(), nullptr)) << "set " << i;
  }
  EXPECT_EQ(i, sets.size());
}

TEST(StatisticsExact, BinnedRunsEqualValueByValue) {
  // A vector of 512 doubles or more goes through the bins; the same values in a std::list go
  // one at a time through the digit accumulator. The answers must agree bit for bit.
  auto sets = hard_sets(20000, 12, 11);
  for (const std::size_t length : {std::size_t{512}, std::size_t{700}, std::size_t{5000}}) {
    const auto more = hard_sets(length, 6, length);
    sets.insert(sets.end(), more.begin(), more.end());
  }
  sets.push_back(std::vector<double>(20000, 5e-324));
  std::vector<double> with_specials(20000, 1.5);
  with_specials[17] = kInf;
  sets.push_back(with_specials);
  with_specials[18] = -kInf;
  sets.push_back(with_specials);
  with_specials[19] = kNan;
  sets.push_back(with_specials);
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const auto& v = sets[s];
    const std::list<double> l(v.begin(), v.end());
    SCOPED_TRACE("set " + std::to_string(s));
    EXPECT_SAME(st::mean(v), st::mean(l));
    EXPECT_SAME_OUTCOME(st::pvariance(v), st::pvariance(l));
    EXPECT_SAME_OUTCOME(st::stdev(v), st::stdev(l));
    EXPECT_SAME_OUTCOME(st::fmean(v), st::fmean(l));
  }
}

TEST(StatisticsExact, VarianceOfHardSetsMatchesPython) {
  const auto sets = hard_sets(300, 18, 3);
  std::string script = "import statistics as s\nsets = [\n";
  for (const auto& v : sets) {
    script += "[";
    for (const double x : v) {
      script += "float.fromhex('" + hex_double(x) + "'),";
    }
    script += "],\n";
  }
  script +=
      "]\n"
      "def r(f, d):\n"
      "    try: return float(f(d)).hex()\n"
      "    except Exception as e: return type(e).__name__\n"
      "for d in sets: print(r(s.mean, d), r(s.variance, d), r(s.pstdev, d))\n";
  const auto out = batteries::testing::run_python(script);
  ASSERT_TRUE(out.has_value());
  std::istringstream lines(*out);
  for (const auto& v : sets) {
    std::string mean_hex;
    std::string var_hex;
    std::string pstdev_hex;
    lines >> mean_hex >> var_hex >> pstdev_hex;
    EXPECT_SAME(st::mean(v), std::strtod(mean_hex.c_str(), nullptr));
    if (var_hex == "OverflowError") {
      EXPECT_RAISES((void)st::variance(v), batteries::OverflowError);
    } else {
      EXPECT_SAME(st::variance(v), std::strtod(var_hex.c_str(), nullptr));
    }
    if (pstdev_hex == "OverflowError") {
      EXPECT_RAISES((void)st::pstdev(v), batteries::OverflowError);
    } else {
      EXPECT_SAME(st::pstdev(v), std::strtod(pstdev_hex.c_str(), nullptr));
    }
  }
}

TEST(StatisticsExact, LongTwoInputSumsMatchPython) {
  // 20,000 pairs: the products of deviations go through BinnedSum rather than ExactSum.
  const auto xs = hard_sets(20000, 6, 21);
  const auto ys = hard_sets(20000, 6, 22);
  std::string script = "import statistics as s\nxs = [\n";
  for (const auto* sets : {&xs, &ys}) {
    for (const auto& v : *sets) {
      script += "[";
      for (const double x : v) {
        script += "float.fromhex('" + hex_double(x) + "'),";
      }
      script += "],\n";
    }
    script += sets == &xs ? "]\nys = [\n" : "]\n";
  }
  script +=
      "def r(f):\n"
      "    try: return float(f()).hex()\n"
      "    except Exception as e: return type(e).__name__\n"
      "for x, y in zip(xs, ys):\n"
      "    print(r(lambda: s.covariance(x, y)), r(lambda: s.correlation(x, y)),\n"
      "          r(lambda: s.linear_regression(x, y).slope))\n";
  const auto out = batteries::testing::run_python(script);
  ASSERT_TRUE(out.has_value());
  std::istringstream lines(*out);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    std::string cov;
    std::string cor;
    std::string slope;
    lines >> cov >> cor >> slope;
    const auto& x = xs[i];
    const auto& y = ys[i];
    EXPECT_EQ(outcome([&] { return st::covariance(x, y); }), from_python(cov)) << "set " << i;
    EXPECT_EQ(outcome([&] { return st::correlation(x, y); }), from_python(cor)) << "set " << i;
    EXPECT_EQ(outcome([&] { return st::linear_regression(x, y).slope; }), from_python(slope))
        << "set " << i;
  }
}

TEST(StatisticsExact, RunningEqualsTheFunctionsAndMerges) {
  const auto sets = hard_sets(5000, 6, 9);
  for (const auto& v : sets) {
    st::Running one;
    for (const double x : v) {
      one.add(x);
    }
    st::Running left;
    st::Running right;
    left.add(std::span(v).first(1234));
    right.add(std::span(v).subspan(1234));
    left.merge(right);
    for (const st::Running* r : {&one, &left}) {
      EXPECT_EQ(r->count(), v.size());
      EXPECT_SAME(r->mean(), st::mean(v));
      EXPECT_SAME_OUTCOME(r->variance(), st::variance(v));
      EXPECT_SAME_OUTCOME(r->pvariance(), st::pvariance(v));
      EXPECT_SAME_OUTCOME(r->stdev(), st::stdev(v));
      EXPECT_SAME_OUTCOME(r->pstdev(), st::pstdev(v));
    }
  }
  st::Running empty;
  EXPECT_RAISES_MSG((void)empty.mean(), st::StatisticsError,
                    "mean requires at least one data point");
  empty.add(1.0);
  EXPECT_RAISES_MSG((void)empty.variance(), st::StatisticsError,
                    "variance requires at least two data points");
  EXPECT_EQ(empty.pvariance(), 0.0);
}

TEST(StatisticsExact, IntegersNeverOverflow) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::uint64_t kUMax = std::numeric_limits<std::uint64_t>::max();
  // Python: mean([2**63-1]*3) == 2**63-1, which rounds to 2**63 as a float.
  EXPECT_EQ(st::mean({kMax, kMax, kMax}), 9223372036854775808.0);
  EXPECT_EQ(st::variance({kMax, kMin}), 1.7014118346046923e+38);
  EXPECT_EQ(st::mean({kUMax, kUMax}), 18446744073709551616.0);
  const auto out = batteries::testing::run_python(
      "import statistics as s\n"
      "u = 2**64 - 1\n"
      "print(float(s.variance([u, 0, u, 1])).hex(), s.pstdev([u, 0, 3]).hex(),\n"
      "      float(s.pvariance([u, 0], -2**63)).hex(), s.stdev([2**63-1, -2**63, 5], "
      "2**63-1).hex())\n");
  ASSERT_TRUE(out.has_value());
  std::istringstream in(*out);
  std::string a;
  std::string b;
  std::string c;
  std::string d;
  in >> a >> b >> c >> d;
  EXPECT_SAME(st::variance({kUMax, std::uint64_t{0}, kUMax, std::uint64_t{1}}),
              std::strtod(a.c_str(), nullptr));
  EXPECT_SAME(st::pstdev({kUMax, std::uint64_t{0}, std::uint64_t{3}}),
              std::strtod(b.c_str(), nullptr));
  EXPECT_SAME(st::pvariance({kUMax, std::uint64_t{0}}, kMin), std::strtod(c.c_str(), nullptr));
  EXPECT_SAME(st::stdev({kMax, kMin, std::int64_t{5}}, kMax), std::strtod(d.c_str(), nullptr));
}

TEST(StatisticsRanges, AnyInputRangeAndNumberType) {
  const std::vector<int> ints{1, 2, 3, 4, 4};
  const std::deque<float> floats{1.5f, 2.5f};
  const std::list<unsigned char> bytes{1, 2, 250};
  EXPECT_EQ(st::mean(ints), 2.8);
  EXPECT_EQ(st::mean(floats), 2.0);
  EXPECT_EQ(st::mean(bytes), 253.0 / 3.0);
  std::vector<bool> bits{true, false, true, true};  // elements are proxy references
  EXPECT_EQ(st::mean(bits), 0.75);
  EXPECT_EQ(st::fmean(bits), 0.75);
  EXPECT_EQ(st::fmean(ints, std::vector<bool>{true, false, false, true, true}), 3.0);
  EXPECT_EQ(st::geometric_mean(std::vector<bool>{true, true}), 1.0);
  EXPECT_EQ(st::linear_regression(bits, bits, {.proportional = true}).slope, 1.0);
  EXPECT_EQ(st::correlation(bits, std::vector<int>{1, 0, 1, 1}), 1.0);
  // clang 14 with libstdc++ 12 does not see iota_view and istream_view as ranges.
#if !defined(__clang__)
  EXPECT_EQ(st::mean(std::views::iota(1, 101)), 50.5);
  EXPECT_EQ(
      st::variance(std::views::iota(0, 10) | std::views::transform([](int i) { return i * 0.5; })),
      2.2916666666666665);
  // A single-pass range: read from a stream, once.
  std::istringstream text("1.5 2.5 3.5 10");
  EXPECT_EQ(st::mean(std::views::istream<double>(text)), 4.375);
  std::istringstream again("3 1 2");
  EXPECT_EQ(st::median(std::views::istream<int>(again)), 2.0);
#endif
  // mode, multimode, median_low and median_high take any hashable or ordered type.
  const std::vector<std::string> words{"red", "blue", "blue", "red", "green", "yellow"};
  EXPECT_EQ(st::mode(words), "red");
  EXPECT_EQ(st::multimode(words), (std::vector<std::string>{"red", "blue"}));
  EXPECT_EQ(st::median_low(words), "green");
  EXPECT_EQ(st::median_high(words), "red");
  EXPECT_EQ(st::multimode(std::string_view("aabbbbccddddeeffffgg")),
            (std::vector<char>{'b', 'd', 'f'}));
  EXPECT_EQ(st::multimode(std::vector<int>{}), std::vector<int>{});
}

TEST(StatisticsOrder, ZeroSignsFollowPythonsStableSort) {
  // sorted() keeps equal values in input order, so which zero is "the middle" depends on it.
  EXPECT_TRUE(std::signbit(st::median({0.0, -0.0, 1.0})));
  EXPECT_FALSE(std::signbit(st::median({-0.0, 0.0, 1.0})));
  EXPECT_TRUE(std::signbit(st::median_low({-1.0, 0.0, -0.0, 0.0, -0.0, 2.0})));
  EXPECT_TRUE(std::signbit(st::median({-0.0, -0.0})));
  EXPECT_FALSE(std::signbit(st::median({-0.0, 0.0})));
  // mode keeps the first of the equal values it counted, as Counter does.
  EXPECT_TRUE(std::signbit(st::mode({-0.0, 0.0, 1.0})));
  EXPECT_EQ(st::multimode({0.0, -0.0, 2.0, 2.0}).size(), 2u);
}

TEST(StatisticsOrder, NansSortLastAndCountAsOneValue) {
  // Python leaves NaN's place in sorted data undefined; batteries puts NaNs last.
  EXPECT_EQ(st::median({3.0, kNan, 1.0}), 3.0);
  EXPECT_TRUE(std::isnan(st::median_high({kNan, kNan, 1.0})));
  EXPECT_EQ(st::quantiles({1.0, 2.0, 3.0, kNan}, {.n = 2}), std::vector<double>{2.5});
  EXPECT_TRUE(std::isnan(st::mode({kNan, 1.0, kNan})));
  // The exact functions propagate NaN and infinities as Python's do.
  EXPECT_TRUE(std::isnan(st::mean({kInf, -kInf})));
  EXPECT_EQ(st::mean({1.0, kInf}), kInf);
  EXPECT_EQ(st::variance({1.0, -kInf}), -kInf);
  EXPECT_EQ(st::stdev({1.0, kInf}), kInf);
  EXPECT_TRUE(std::isnan(st::pstdev({1.0, kNan})));
}

TEST(StatisticsErrors, MessagesArePythons) {
  const std::vector<double> none;
  const std::vector<double> one{1.0};
  EXPECT_RAISES_MSG((void)st::mean(none), st::StatisticsError,
                    "mean requires at least one data point");
  EXPECT_RAISES_MSG((void)st::fmean(none), st::StatisticsError,
                    "fmean requires at least one data point");
  EXPECT_RAISES_MSG((void)st::variance(one), st::StatisticsError,
                    "variance requires at least two data points");
  EXPECT_RAISES_MSG((void)st::stdev(one), st::StatisticsError,
                    "stdev requires at least two data points");
  EXPECT_RAISES_MSG((void)st::pvariance(none), st::StatisticsError,
                    "pvariance requires at least one data point");
  EXPECT_RAISES_MSG((void)st::pstdev(none, 1.0), st::StatisticsError,
                    "pstdev requires at least one data point");
  EXPECT_RAISES_MSG((void)st::median(none), st::StatisticsError, "no median for empty data");
  EXPECT_RAISES_MSG((void)st::mode(none), st::StatisticsError, "no mode for empty data");
  EXPECT_RAISES_MSG((void)st::quantiles(one, {.n = 0}), st::StatisticsError,
                    "n must be at least 1");
  EXPECT_RAISES_MSG((void)st::quantiles(one), st::StatisticsError,
                    "must have at least two data points");
  EXPECT_RAISES_MSG((void)st::quantiles({1.0, 2.0}, {.method = "linear"}), batteries::ValueError,
                    "Unknown method: 'linear'");
  EXPECT_RAISES_MSG((void)st::harmonic_mean({1.0, -2.0}), st::StatisticsError,
                    "harmonic mean does not support negative values");
  EXPECT_RAISES_MSG((void)st::geometric_mean({1.0, 0.0}), st::StatisticsError,
                    "geometric mean requires a non-empty dataset containing positive numbers");
  EXPECT_RAISES_MSG((void)st::fmean({1e308, 1e308}), batteries::OverflowError,
                    "intermediate overflow in fsum");
  EXPECT_RAISES_MSG((void)st::fmean({kInf, -kInf}), batteries::ValueError, "-inf + inf in fsum");
  EXPECT_RAISES_MSG((void)st::harmonic_mean(std::vector{5e-324, 1.0}, std::vector{1e308, 1e308}),
                    batteries::OverflowError, "integer division result too large for a float");
  EXPECT_RAISES_MSG((void)st::variance({-1e308, 1e308}), batteries::OverflowError,
                    "integer division result too large for a float");
  EXPECT_RAISES_MSG((void)st::correlation(std::vector{1.0, 2.0}, std::vector{3.0, 3.0}),
                    st::StatisticsError, "at least one of the inputs is constant");
  EXPECT_RAISES_MSG((void)st::covariance(std::vector{1.0, 2.0}, std::vector{3.0}),
                    st::StatisticsError,
                    "covariance requires that both inputs have same number of data points");
  EXPECT_RAISES_MSG((void)st::linear_regression(std::vector{1, 1}, std::vector{2, 3}),
                    st::StatisticsError, "x is constant");
  // StatisticsError is a ValueError, as in Python.
  EXPECT_RAISES((void)st::mean(none), batteries::ValueError);
}

}  // namespace
