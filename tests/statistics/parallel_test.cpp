// Tests of batteries::statistics across threads: the std::execution::par overloads and
// Running::merge must give the sequential results bit for bit. (Also run under TSan.)
#include <batteries/statistics.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace st = batteries::statistics;
namespace {

/// A call's outcome as text: the result's bits, or the name of the exception it raised.
template <class F>
std::string outcome(F f) {
  try {
    return std::to_string(std::bit_cast<std::uint64_t>(f()));
  } catch (const batteries::BaseException& e) {
    return std::string(e.type_name());
  }
}

#define EXPECT_SAME_OUTCOME(a, b) EXPECT_EQ(outcome([&] { return a; }), outcome([&] { return b; }))

/// Long data sets: ordinary values, values offset by 1e15, any magnitude, and subnormals.
std::vector<std::vector<double>> long_sets() {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-1074, 1000);
  std::vector<std::vector<double>> sets(4, std::vector<double>(300000));
  for (std::size_t i = 0; i < 300000; ++i) {
    sets[0][i] = 1000 + 10 * unit(rng);
    sets[1][i] = 1e15 + unit(rng);
    sets[2][i] = std::ldexp(unit(rng), exponent(rng));
    sets[3][i] = std::ldexp(unit(rng), -1060);
  }
  return sets;
}

TEST(StatisticsParallel, EqualsSequential) {
  for (const auto& v : long_sets()) {
    EXPECT_SAME_OUTCOME(st::mean(std::execution::par, v), st::mean(v));
    EXPECT_SAME_OUTCOME(st::fmean(std::execution::par, v), st::fmean(v));
    EXPECT_SAME_OUTCOME(st::variance(std::execution::par, v), st::variance(v));
    EXPECT_SAME_OUTCOME(st::pvariance(std::execution::par, v), st::pvariance(v));
    EXPECT_SAME_OUTCOME(st::stdev(std::execution::par_unseq, v), st::stdev(v));
    EXPECT_SAME_OUTCOME(st::pstdev(std::execution::par, v, 3.0), st::pstdev(v, 3.0));
    EXPECT_SAME_OUTCOME(st::variance(std::execution::seq, v), st::variance(v));
  }
  std::vector<std::int64_t> ints(200000);
  std::mt19937_64 rng(1);
  for (auto& x : ints) {
    x = static_cast<std::int64_t>(rng());
  }
  EXPECT_SAME_OUTCOME(st::mean(std::execution::par, ints), st::mean(ints));
  EXPECT_SAME_OUTCOME(st::variance(std::execution::par, ints), st::variance(ints));
  EXPECT_SAME_OUTCOME(st::stdev(std::execution::par, ints, 17), st::stdev(ints, 17));
}

TEST(StatisticsParallel, RunningMergesAcrossThreads) {
  const auto sets = long_sets();
  for (const auto& v : sets) {
    constexpr int kThreads = 4;
    std::vector<st::Running> parts(kThreads);
    std::vector<std::thread> threads;
    const std::size_t step = v.size() / kThreads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::size_t end = t + 1 == kThreads ? v.size() : (t + 1) * step;
        for (std::size_t i = t * step; i < end; ++i) {
          parts[t].add(v[i]);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    for (int t = 1; t < kThreads; ++t) {
      parts[0].merge(parts[t]);
    }
    EXPECT_EQ(parts[0].count(), v.size());
    EXPECT_SAME_OUTCOME(parts[0].mean(), st::mean(v));
    EXPECT_SAME_OUTCOME(parts[0].variance(), st::variance(v));
    EXPECT_SAME_OUTCOME(parts[0].pstdev(), st::pstdev(v));
  }
}

}  // namespace
