// Tests for NormalDist: CPython 3.11's test_statistics cases and documented examples, every
// error, and differential runs against python3 compared bit for bit.
#include <batteries/statistics/normal_dist.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <ranges>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "floats.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace batteries::statistics {
namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();
const double k_nan = std::numeric_limits<double>::quiet_NaN();

using batteries::testing::same_bits;

// Compile-time use: the value parts are constexpr.
static_assert(NormalDist().mean() == 0.0 && NormalDist().stdev() == 1.0);
static_assert(NormalDist(100, 15).variance() == 225.0);
static_assert((NormalDist(100, 15) * -2.0).stdev() == 30.0);
static_assert((10.0 - NormalDist(100, 15)) == NormalDist(-90, 15));
static_assert(NormalDist(100, 15) / 10.0 == NormalDist(10, 1.5));
// What Python rejects with TypeError does not compile.
template <class A, class B>
concept Divisible = requires(A a, B b) {
  a / b;
};
template <class A, class B>
concept Multipliable = requires(A a, B b) {
  a* b;
};
template <class A, class B>
concept EqualityComparable = requires(A a, B b) {
  a == b;
};
static_assert(Divisible<NormalDist, double> && !Divisible<double, NormalDist>);
static_assert(!Multipliable<NormalDist, NormalDist>);
static_assert(!EqualityComparable<NormalDist, double>);
static_assert(!std::is_convertible_v<double, NormalDist>);

// A range that can be read only once, as Python's iter(data): input iterators only.
class OneShot {
 public:
  explicit OneShot(std::vector<int> values) : m_values(std::move(values)) {}

  class Iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    Iterator() = default;
    explicit Iterator(const std::vector<int>* values) : m_values(values) {}
    int operator*() const { return (*m_values)[m_index]; }
    Iterator& operator++() {
      ++m_index;
      return *this;
    }
    void operator++(int) { ++m_index; }
    bool operator==(std::default_sentinel_t) const { return m_index == m_values->size(); }

   private:
    const std::vector<int>* m_values = nullptr;
    std::size_t m_index = 0;
  };

  [[nodiscard]] Iterator begin() const { return Iterator(&m_values); }
  [[nodiscard]] std::default_sentinel_t end() const { return {}; }

 private:
  std::vector<int> m_values;
};
static_assert(std::ranges::input_range<OneShot> && !std::ranges::forward_range<OneShot>);

TEST(NormalDist, InstantiationAndAttributes) {
  NormalDist nd(500, 17);
  EXPECT_EQ(nd.mean(), 500);
  EXPECT_EQ(nd.stdev(), 17);
  EXPECT_EQ(nd.variance(), 17 * 17);
  nd = NormalDist();
  EXPECT_EQ(nd.mean(), 0);
  EXPECT_EQ(nd.stdev(), 1);
  EXPECT_EQ(nd.variance(), 1);
  EXPECT_RAISES_MSG((void)NormalDist(500, -10), StatisticsError, "sigma must be non-negative");
  EXPECT_RAISES_MSG((void)NormalDist(0, -5e-324), StatisticsError, "sigma must be non-negative");
  EXPECT_RAISES((void)NormalDist(0, -k_inf), ValueError);
  // Python checks sigma < 0.0, which lets -0.0 and NaN through.
  EXPECT_EQ(NormalDist(1, -0.0).repr(), "NormalDist(mu=1.0, sigma=-0.0)");
  EXPECT_TRUE(std::isnan(NormalDist(1, k_nan).stdev()));
}

TEST(NormalDist, Properties) {
  const NormalDist x(100, 15);
  EXPECT_EQ(x.mean(), 100);
  EXPECT_EQ(x.median(), 100);
  EXPECT_EQ(x.mode(), 100);
  EXPECT_EQ(x.stdev(), 15);
  EXPECT_EQ(x.variance(), 225);
}

TEST(NormalDist, FromSamples) {
  const std::vector<int> data = {96, 107, 90, 92, 110};
  EXPECT_EQ(NormalDist::from_samples(data), NormalDist(99, 9));
  EXPECT_EQ(NormalDist::from_samples(std::vector<double>(data.begin(), data.end())),
            NormalDist(99, 9));
  EXPECT_EQ(NormalDist::from_samples({96, 107, 90, 92, 110}), NormalDist(99, 9));
  // A single-pass range, as Python's iter(data).
  EXPECT_EQ(NormalDist::from_samples(OneShot(data)), NormalDist(99, 9));
  // Python's own docs: birth weights.
  EXPECT_EQ(NormalDist::from_samples({2.5, 3.1, 2.1, 2.4, 2.7, 3.5}).repr(),
            "NormalDist(mu=2.716666666666667, sigma=0.5076087732365021)");

  EXPECT_RAISES_MSG((void)NormalDist::from_samples(std::vector<double>{}), StatisticsError,
                    "stdev requires at least two data points");
  EXPECT_RAISES_MSG((void)NormalDist::from_samples({10.0}), StatisticsError,
                    "stdev requires at least two data points");
  EXPECT_RAISES_MSG((void)NormalDist::from_samples(OneShot({10})), StatisticsError,
                    "stdev requires at least two data points");
  // Even when the one value is not finite.
  EXPECT_RAISES_MSG((void)NormalDist::from_samples({k_inf}), StatisticsError,
                    "stdev requires at least two data points");

  // Infinities and NaNs: mu is their sum, sigma NaN (Python's float(xbar) / float(ss)).
  EXPECT_EQ(NormalDist::from_samples({1.0, k_inf}).repr(), "NormalDist(mu=inf, sigma=nan)");
  EXPECT_EQ(NormalDist::from_samples({k_inf, k_inf}).repr(), "NormalDist(mu=inf, sigma=nan)");
  EXPECT_EQ(NormalDist::from_samples({-k_inf, 2.0}).repr(), "NormalDist(mu=-inf, sigma=nan)");
  EXPECT_EQ(NormalDist::from_samples({k_nan, 1.0}).repr(), "NormalDist(mu=nan, sigma=nan)");
  EXPECT_EQ(NormalDist::from_samples({-k_inf, k_inf}).repr(), "NormalDist(mu=nan, sigma=nan)");
  // Exact arithmetic, as Python's Fractions: no overflow in the sum, no loss for big ints.
  EXPECT_EQ(NormalDist::from_samples({1e308, 1e308, -1e308}).repr(),
            "NormalDist(mu=3.333333333333333e+307, sigma=1.1547005383792515e+308)");
  EXPECT_EQ(NormalDist::from_samples(std::vector<std::uint64_t>{1, std::uint64_t{1} << 63}).repr(),
            "NormalDist(mu=4.611686018427388e+18, sigma=6.521908912666392e+18)");
}

TEST(NormalDist, Samples) {
  const NormalDist x(10'000, 3.0);
  const std::vector<double> data = x.samples(1'000);
  ASSERT_EQ(data.size(), 1000u);
  double sum = 0.0;
  for (double v : data) {
    sum += v;
  }
  const double xbar = sum / 1000.0;
  EXPECT_TRUE(10'000 - 3.0 * 8 <= xbar && xbar <= 10'000 + 3.0 * 8) << xbar;
  // Unseeded calls differ; seeded ones repeat.
  EXPECT_NE(x.samples(10), x.samples(10));
  EXPECT_EQ(x.samples(100, {.seed = 42}), x.samples(100, {.seed = 42}));
  EXPECT_NE(x.samples(100, {.seed = 42}), x.samples(100, {.seed = 43}));
  // Python's int seeds use abs().
  EXPECT_EQ(x.samples(10, {.seed = -7}), x.samples(10, {.seed = 7}));
  // A prefix of a longer run (gauss caches its second value).
  const std::vector<double> seven = x.samples(7, {.seed = 1});
  const std::vector<double> eight = x.samples(8, {.seed = 1});
  EXPECT_TRUE(std::equal(seven.begin(), seven.end(), eight.begin()));
  EXPECT_TRUE(x.samples(0).empty());
  EXPECT_TRUE(x.samples(-5, {.seed = 1}).empty());
  // random.Random(0).gauss(0.0, 1.0), random.Random(2**63 - 1).gauss(...)
  EXPECT_EQ(NormalDist().samples(2, {.seed = 0}),
            (std::vector<double>{0.9417154046806644, -1.3965781047011498}));
  // The docs' Monte Carlo example: the first draws of its three inputs.
  EXPECT_EQ(NormalDist(10, 2.5).samples(3, {.seed = 3652260728}),
            (std::vector<double>{7.968842274383572, 15.160515398873137, 9.978471449940333}));
}

TEST(NormalDist, DocsMonteCarlo) {
  // statistics docs, "Classic probability problems": the model's quartiles.
  constexpr std::int64_t n = 100'000;
  const auto xs = NormalDist(10, 2.5).samples(n, {.seed = 3652260728});
  const auto ys = NormalDist(15, 1.75).samples(n, {.seed = 4582495471});
  const auto zs = NormalDist(50, 1.25).samples(n, {.seed = 6582483453});
  std::vector<double> model;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    const double y = ys[i];
    const double z = zs[i];
    model.push_back((3 * x + 7 * x * y - 5 * y) / (11 * z));
  }
  // (The docs print 2.175091447274739; CPython 3.11.7 gives 2.1750914472747396.)
  EXPECT_EQ(quantiles(model),
            (std::vector<double>{1.4591308524824727, 1.8035946855390597, 2.1750914472747396}));
}

TEST(NormalDist, DocsExamples) {
  // SAT scores.
  const NormalDist sat(1060, 195);
  const double fraction = sat.cdf(1200 + 0.5) - sat.cdf(1100 - 0.5);
  EXPECT_EQ(fraction, 0.18413322064972626);
  EXPECT_EQ(sat.quantiles(), (std::vector<double>{928.474498711764, 1060.0, 1191.525501288236}));
  std::vector<long> deciles;
  for (double q : sat.quantiles(10)) {
    deciles.push_back(std::lround(q));
  }
  EXPECT_EQ(deciles, (std::vector<long>{810, 896, 958, 1011, 1060, 1109, 1162, 1224, 1310}));
  // Celsius to Fahrenheit.
  EXPECT_EQ((NormalDist(5, 2.5) * (9.0 / 5) + 32).repr(), "NormalDist(mu=41.0, sigma=4.5)");
  // Birth weights plus a drug's effect.
  const NormalDist combined =
      NormalDist::from_samples({2.5, 3.1, 2.1, 2.4, 2.7, 3.5}) + NormalDist(0.4, 0.15);
  EXPECT_EQ(combined.repr(), "NormalDist(mu=3.1166666666666667, sigma=0.5293077239816802)");
  // The overlap docstring.
  EXPECT_EQ(NormalDist(2.4, 1.6).overlap(NormalDist(3.2, 2.0)), 0.8035050657330205);
  // Naive Bayesian classifier.
  const auto height_male = NormalDist::from_samples({6, 5.92, 5.58, 5.92});
  const auto height_female = NormalDist::from_samples({5, 5.5, 5.42, 5.75});
  const auto weight_male = NormalDist::from_samples({180, 190, 170, 165});
  const auto weight_female = NormalDist::from_samples({100, 150, 130, 150});
  const auto foot_size_male = NormalDist::from_samples({12, 11, 12, 10});
  const auto foot_size_female = NormalDist::from_samples({6, 8, 7, 9});
  const double ht = 6.0;
  const double wt = 130;
  const double fs = 8;
  const double posterior_male =
      0.5 * height_male.pdf(ht) * weight_male.pdf(wt) * foot_size_male.pdf(fs);
  const double posterior_female =
      0.5 * height_female.pdf(ht) * weight_female.pdf(wt) * foot_size_female.pdf(fs);
  EXPECT_EQ(posterior_male, 6.197071843878093e-09);
  EXPECT_EQ(posterior_female, 0.0005377909183630021);
  EXPECT_LT(posterior_male, posterior_female);  // 'female'
}

TEST(NormalDist, Pdf) {
  const NormalDist x(100, 15);
  EXPECT_LT(x.pdf(99), x.pdf(100));
  EXPECT_LT(x.pdf(101), x.pdf(100));
  for (int i = 0; i < 50; ++i) {
    EXPECT_NEAR(x.pdf(100 - i), x.pdf(100 + i), 1e-7);
  }
  const double dx = std::ldexp(1.0, -10);
  for (int v = 90; v < 111; ++v) {
    EXPECT_NEAR(x.pdf(v), (x.cdf(v + dx) - x.cdf(v)) / dx, 1e-4);
  }
  // CRC 26th Edition table.
  const double table[] = {0.3989, 0.3989, 0.3989, 0.3988, 0.3986, 0.3984, 0.3982, 0.3980, 0.3977,
                          0.3973, 0.3970, 0.3965, 0.3961, 0.3956, 0.3951, 0.3945, 0.3939, 0.3932,
                          0.3925, 0.3918, 0.3910, 0.3902, 0.3894, 0.3885, 0.3876, 0.3867, 0.3857,
                          0.3847, 0.3836, 0.3825, 0.3814, 0.3802, 0.3790, 0.3778, 0.3765, 0.3752,
                          0.3739, 0.3725, 0.3712, 0.3697, 0.3683, 0.3668, 0.3653, 0.3637, 0.3621,
                          0.3605, 0.3589, 0.3572, 0.3555, 0.3538};
  const NormalDist z;
  for (int i = 0; i < 50; ++i) {
    EXPECT_NEAR(z.pdf(i / 100.0), table[i], 0.5e-4);
    EXPECT_NEAR(z.pdf(-i / 100.0), table[i], 0.5e-4);
  }
  EXPECT_RAISES_MSG((void)NormalDist(100, 0).pdf(90), StatisticsError,
                    "pdf() not defined when sigma is zero");
  // sigma * sigma underflows to zero.
  EXPECT_RAISES_MSG((void)NormalDist(100, 1e-200).pdf(90), StatisticsError,
                    "pdf() not defined when sigma is zero");
  EXPECT_EQ(x.pdf(-k_inf), 0.0);
  EXPECT_EQ(x.pdf(k_inf), 0.0);
  EXPECT_TRUE(std::isnan(x.pdf(k_nan)));
}

TEST(NormalDist, Cdf) {
  const NormalDist x(100, 15);
  double previous = 0.0;
  for (int v = 1; v < 200; ++v) {
    EXPECT_LE(previous, x.cdf(v));
    previous = x.cdf(v);
  }
  EXPECT_EQ(x.cdf(100), 0.5);
  const NormalDist z;
  const std::pair<double, double> table[] = {
      {0.00, 0.50000}, {0.01, 0.50399}, {0.02, 0.50798}, {0.14, 0.55567}, {0.29, 0.61409},
      {0.33, 0.62930}, {0.54, 0.70540}, {0.60, 0.72575}, {1.17, 0.87900}, {1.60, 0.94520},
      {2.05, 0.97982}, {2.89, 0.99807}, {3.52, 0.99978}, {3.98, 0.99997}, {4.07, 0.99998}};
  for (const auto& [v, p] : table) {
    EXPECT_NEAR(z.cdf(v), p, 0.5e-5);
    EXPECT_NEAR(z.cdf(-v), 1.0 - p, 0.5e-5);
  }
  EXPECT_RAISES_MSG((void)NormalDist(100, 0).cdf(90), StatisticsError,
                    "cdf() not defined when sigma is zero");
  EXPECT_EQ(x.cdf(-k_inf), 0.0);
  EXPECT_EQ(x.cdf(k_inf), 1.0);
  EXPECT_TRUE(std::isnan(x.cdf(k_nan)));
}

TEST(NormalDist, InvCdf) {
  const NormalDist iq(100, 15);
  EXPECT_EQ(iq.inv_cdf(0.50), iq.mean());
  const NormalDist z;
  const std::map<double, std::vector<double>> pp = {
      {5.0, {0.000, 1.645, 2.576, 3.291, 3.891, 4.417, 4.892, 5.327, 5.731, 6.109}},
      {2.5, {0.674, 1.960, 2.807, 3.481, 4.056, 4.565, 5.026, 5.451, 5.847, 6.219}},
      {1.0, {1.282, 2.326, 3.090, 3.719, 4.265, 4.753, 5.199, 5.612, 5.998, 6.361}}};
  for (const auto& [base, row] : pp) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const double p = base * std::pow(10.0, -static_cast<double>(i + 1));
      EXPECT_NEAR(-z.inv_cdf(p), row[i], 0.5e-3);
      EXPECT_NEAR(z.inv_cdf(1.0 - p), row[i], 0.5e-3);
    }
  }
  // The MS Excel example.
  EXPECT_EQ(NormalDist(40, 1.5).inv_cdf(0.908789), 42.00000200956616);
  constexpr int n = 1 << 16;
  for (int i = 1; i < n; ++i) {
    const double p = static_cast<double>(i) / n;
    EXPECT_NEAR(iq.cdf(iq.inv_cdf(p)), p, 0.5e-7);
  }
  for (int e = 1; e < 51; ++e) {
    const double p = std::ldexp(1.0, -e);
    EXPECT_NEAR(iq.cdf(iq.inv_cdf(p)), p, 0.5e-7);
    EXPECT_NEAR(iq.cdf(iq.inv_cdf(1.0 - p)), 1.0 - p, 0.5e-7);
  }
  for (int v = 0; v < 200; ++v) {
    EXPECT_NEAR(iq.inv_cdf(iq.cdf(v)), v, 0.5e-5);
  }
  for (double p : {0.0, -0.1, 1.0, 1.1, -k_inf, k_inf}) {
    EXPECT_RAISES_MSG((void)iq.inv_cdf(p), StatisticsError, "p must be in the range 0.0 < p < 1.0");
  }
  EXPECT_RAISES_MSG((void)NormalDist(100, 0).inv_cdf(0.5), StatisticsError,
                    "cdf() not defined when sigma at or below zero");
  // p is checked first.
  EXPECT_RAISES_MSG((void)NormalDist(100, 0).inv_cdf(2.0), StatisticsError,
                    "p must be in the range");
  // CPython's C version lets NaN through both checks.
  EXPECT_TRUE(std::isnan(z.inv_cdf(k_nan)));
  EXPECT_TRUE(std::isnan(NormalDist(0, k_nan).inv_cdf(0.3)));
}

TEST(NormalDist, Quantiles) {
  const NormalDist z;
  EXPECT_TRUE(z.quantiles(1).empty());
  EXPECT_EQ(z.quantiles(2), (std::vector<double>{0.0}));
  EXPECT_EQ(z.quantiles(3), (std::vector<double>{-0.43072729929545744, 0.43072729929545733}));
  const std::vector<double> quartiles = z.quantiles();
  ASSERT_EQ(quartiles.size(), 3u);
  EXPECT_NEAR(quartiles[0], -0.6745, 1e-4);
  EXPECT_EQ(quartiles[1], 0.0);
  EXPECT_NEAR(quartiles[2], 0.6745, 1e-4);
  // Python's range(1, n) is empty for n < 2: no error, even when sigma is zero.
  EXPECT_TRUE(z.quantiles(0).empty());
  EXPECT_TRUE(z.quantiles(-3).empty());
  EXPECT_TRUE(NormalDist(5, 0).quantiles(1).empty());
  EXPECT_RAISES_MSG((void)NormalDist(5, 0).quantiles(2), StatisticsError,
                    "cdf() not defined when sigma at or below zero");
  EXPECT_EQ(z.quantiles(100).size(), 99u);
}

TEST(NormalDist, Overlap) {
  EXPECT_EQ(NormalDist(0.0, 2.0).overlap(NormalDist(1.0, 2.0)), 0.8025873486341526);
  EXPECT_EQ(NormalDist(1.0, 2.0).overlap(NormalDist(0.0, 2.0)), 0.8025873486341526);
  EXPECT_EQ(NormalDist(0.0, 1.0).overlap(NormalDist(1.0, 2.0)), 0.6099343398789443);
  EXPECT_EQ(NormalDist(1.0, 2.0).overlap(NormalDist(0.0, 1.0)), 0.6099343398789443);
  const NormalDist pairs[][2] = {
      {NormalDist(70, 4), NormalDist(65, 3.5)},
      {NormalDist(100, 15), NormalDist(110, 15)},
      {NormalDist(-100, 15), NormalDist(-110, 15)},
      {NormalDist(100, 12), NormalDist(150, 35)},
      {NormalDist(1.000, 0.002), NormalDist(1.006, 0.0003)},
  };
  for (const auto& pair : pairs) {
    EXPECT_EQ(pair[0].overlap(pair[1]), pair[1].overlap(pair[0]));
    EXPECT_GE(pair[0].overlap(pair[1]), 0.0);
    EXPECT_LE(pair[0].overlap(pair[1]), 1.0);
  }
  EXPECT_EQ(NormalDist(3, 2).overlap(NormalDist(3, 2)), 1.0);
  const NormalDist x;
  EXPECT_RAISES_MSG((void)x.overlap(NormalDist(1, 0)), StatisticsError,
                    "overlap() not defined when sigma is zero");
  EXPECT_RAISES_MSG((void)NormalDist(1, 0).overlap(x), StatisticsError,
                    "overlap() not defined when sigma is zero");
}

TEST(NormalDist, Zscore) {
  const NormalDist x(100, 15);
  EXPECT_EQ(x.zscore(142), 2.8);
  EXPECT_EQ(x.zscore(58), -2.8);
  EXPECT_EQ(x.zscore(100), 0.0);
  EXPECT_RAISES_MSG((void)NormalDist(1, 0).zscore(100), StatisticsError,
                    "zscore() not defined when sigma is zero");
}

TEST(NormalDist, Arithmetic) {
  const NormalDist x(100, 12);
  const NormalDist y(40, 5);
  EXPECT_EQ(x + y, NormalDist(140, 13));
  EXPECT_EQ(x - y, NormalDist(60, 13));

  const NormalDist d(100, 15);
  const double c = 10;
  EXPECT_EQ(+d, NormalDist(100, 15));
  EXPECT_EQ(-d, NormalDist(-100, 15));
  EXPECT_EQ(d + c, NormalDist(110, 15));
  EXPECT_EQ(c + d, NormalDist(110, 15));
  EXPECT_EQ(d - c, NormalDist(90, 15));
  EXPECT_EQ(c - d, NormalDist(-90, 15));
  EXPECT_EQ(d * c, NormalDist(1000, 150));
  EXPECT_EQ(c * d, NormalDist(1000, 150));
  EXPECT_EQ(d / c, NormalDist(10, 1.5));
  EXPECT_EQ(d * -2, NormalDist(-200, 30));
  EXPECT_EQ(d / -2, NormalDist(-50, 7.5));
  // Python's __rsub__ is -(x - c): 0.0 - NormalDist(0.0) has mu -0.0.
  EXPECT_EQ((0.0 - NormalDist(0.0, 1.0)).repr(), "NormalDist(mu=-0.0, sigma=1.0)");
  EXPECT_EQ((NormalDist(0.0, 1.0) * -0.0).repr(), "NormalDist(mu=-0.0, sigma=0.0)");
  EXPECT_RAISES_MSG((void)(d / 0.0), ZeroDivisionError, "float division by zero");
  EXPECT_RAISES_MSG((void)(d / -0.0), ZeroDivisionError, "float division by zero");
  EXPECT_RAISES_MSG((void)(NormalDist(k_nan, 1) / 0), ZeroDivisionError, "float division by zero");
  // inf * 0 is NaN, which the constructor lets through.
  EXPECT_TRUE(std::isnan((NormalDist(1, k_inf) * 0.0).stdev()));

  NormalDist e(100, 15);
  e += 10;
  e *= 2;
  e -= 20;
  e /= 4;
  EXPECT_EQ(e, NormalDist(50, 7.5));
  e += NormalDist(0, 10);
  EXPECT_EQ(e, NormalDist(50, 12.5));
  e -= NormalDist(50, 0);
  EXPECT_EQ(e, NormalDist(0, 12.5));
  // hypot as Python's: inf beats NaN.
  EXPECT_EQ((NormalDist(0, k_inf) + NormalDist(0, k_nan)).stdev(), k_inf);
  EXPECT_TRUE(std::isnan((NormalDist(0, 1) + NormalDist(0, k_nan)).stdev()));
  EXPECT_EQ((NormalDist(0, 3e-320) + NormalDist(0, 4e-320)).stdev(), 5e-320);
  EXPECT_EQ((NormalDist(0, 3e300) + NormalDist(0, 4e300)).stdev(), 5e300);
}

TEST(NormalDist, Equality) {
  EXPECT_NE(NormalDist(), NormalDist(2, 4));
  EXPECT_EQ(NormalDist(), NormalDist());
  EXPECT_EQ(NormalDist(2, 4), NormalDist(2, 4));
  EXPECT_NE(NormalDist(2, 4), NormalDist(2, 8));
  EXPECT_NE(NormalDist(2, 4), NormalDist(8, 4));
  EXPECT_EQ(NormalDist(0.0, 1), NormalDist(-0.0, 1));
  const NormalDist nan(k_nan, 1);
  EXPECT_NE(nan, nan);
}

TEST(NormalDist, Hash) {
  const std::unordered_set<NormalDist> s = {NormalDist(100, 15), NormalDist(100.0, 15.0),
                                            NormalDist(100, 10), NormalDist(95, 15),
                                            NormalDist(100, 15)};
  EXPECT_EQ(s.size(), 3u);
  // hash((100.0, 15.0)) and friends in CPython 3.11 on a 64-bit machine.
  EXPECT_EQ(static_cast<std::int64_t>(std::hash<NormalDist>{}(NormalDist(1, 2))),
            -3550055125485641917);
  EXPECT_EQ(NormalDist(0.0, 1).hash(), NormalDist(-0.0, 1).hash());
}

TEST(NormalDist, ReprAndFormatting) {
  const NormalDist nd(37.5, 5.625);
  EXPECT_EQ(nd.repr(), "NormalDist(mu=37.5, sigma=5.625)");
  EXPECT_EQ(nd.str(), nd.repr());
  EXPECT_EQ(NormalDist().repr(), "NormalDist(mu=0.0, sigma=1.0)");
  EXPECT_EQ(NormalDist(1e16, 1e-5).repr(), "NormalDist(mu=1e+16, sigma=1e-05)");
  EXPECT_EQ(NormalDist(-k_inf, k_inf).repr(), "NormalDist(mu=-inf, sigma=inf)");
  std::ostringstream out;
  out << nd;
  EXPECT_EQ(out.str(), "NormalDist(mu=37.5, sigma=5.625)");
  EXPECT_EQ(fmt::format("{}", nd), "NormalDist(mu=37.5, sigma=5.625)");
  EXPECT_EQ(fmt::format("[{:>34}]", nd), "[  NormalDist(mu=37.5, sigma=5.625)]");
}

// ---------------------------------------------------------------------------------------------
// Differential tests against CPython.

double from_bits(const std::string& hex) {
  return std::bit_cast<double>(std::stoull(hex, nullptr, 16));
}

std::int64_t ulps_apart(double a, double b) {
  const auto key = [](double v) {
    const auto bits = std::bit_cast<std::int64_t>(v);
    return bits < 0 ? std::numeric_limits<std::int64_t>::min() - bits : bits;
  };
  const std::int64_t d = key(a) - key(b);
  return d < 0 ? -d : d;
}

// What one case gave: doubles, or an exception's Python name and message, or text.
struct Outcome {
  std::vector<double> values;
  std::string text;
};

Outcome values(std::vector<double> v) { return {std::move(v), {}}; }
Outcome of(const NormalDist& d) { return values({d.mean(), d.stdev()}); }

// The cases Python generates: `op arg... = result`, args as 64-bit patterns in hex; results
// the same, or !Type:message, or text (repr, hash, ==).
constexpr const char* k_diff_script = R"PY(
import math, random, struct
from statistics import NormalDist
R = random.Random(31415926)
def bits(x): return '%016x' % struct.unpack('<Q', struct.pack('<d', x))[0]
def anybits(): return struct.unpack('<d', R.getrandbits(64).to_bytes(8, 'little'))[0]
SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
           1.7976931348623157e+308, -1.7976931348623157e+308, 1.0, -1.0, 0.5, 1e-300, 1e300]
def num():
    k = R.random()
    if k < 0.05: return R.choice(SPECIAL)
    if k < 0.10: return anybits()
    if k < 0.55: return R.gauss(0.0, 10.0)
    return R.uniform(-1.0, 1.0) * 10.0 ** R.randint(-20, 20)
def sig():
    k = R.random()
    if k < 0.04: return R.choice([0.0, -0.0, math.inf, math.nan, 5e-324, 1e-300, 1e-160,
                                  1e300, 1.7976931348623157e+308, -1.0])
    if k < 0.07: return abs(anybits())
    if k < 0.10: return R.random() * 1e-308
    if k < 0.60: return R.uniform(0.0, 20.0)
    return R.random() * 10.0 ** R.randint(-20, 20)
def prob():
    k = R.random()
    if k < 0.05: return R.choice([0.0, 1.0, -0.5, 1.5, math.nan, math.inf, -math.inf, 5e-324,
                                  1.0 - 2.0**-53, 0.5, 0.925, 0.075, 0.07499999999999998])
    if k < 0.30: return 10.0 ** -R.uniform(0.0, 300.0)
    if k < 0.45: return 1.0 - 10.0 ** -R.uniform(0.0, 16.0)
    return R.random()
def out(r):
    if isinstance(r, NormalDist): return bits(r.mean) + ' ' + bits(r.stdev)
    if isinstance(r, float): return bits(r)
    if isinstance(r, list): return ' '.join(map(bits, r))
    return str(r)
def case(op, args, f):
    try: r = out(f())
    except Exception as e: r = '!%s:%s' % (type(e).__name__, e)
    print(op, *args, '=', r)
N = NormalDist
for _ in range(3000):
    m, s, x, p, c = num(), sig(), num(), prob(), num()
    m2, s2 = num(), sig()
    a = (bits(m), bits(s))
    case('ctor', a, lambda: N(m, s))
    case('pdf', a + (bits(x),), lambda: N(m, s).pdf(x))
    case('cdf', a + (bits(x),), lambda: N(m, s).cdf(x))
    case('zscore', a + (bits(x),), lambda: N(m, s).zscore(x))
    case('inv_cdf', a + (bits(p),), lambda: N(m, s).inv_cdf(p))
    case('overlap', a + (bits(m2), bits(s2)), lambda: N(m, s).overlap(N(m2, s2)))
    # Overlap where the sigmas are close or equal and the means near, too.
    s3 = s * (1.0 + R.choice([0.0, 2.0**-52, 1e-9, 0.01])); m3 = m + R.choice([0.0, s, 1e-9])
    case('overlap', a + (bits(m3), bits(s3)), lambda: N(m, s).overlap(N(m3, s3)))
    n = R.randint(-2, 12)
    case('quantiles', a + (str(n),), lambda: N(m, s).quantiles(n))
    case('add_c', a + (bits(c),), lambda: N(m, s) + c)
    case('radd_c', a + (bits(c),), lambda: c + N(m, s))
    case('sub_c', a + (bits(c),), lambda: N(m, s) - c)
    case('rsub_c', a + (bits(c),), lambda: c - N(m, s))
    case('mul_c', a + (bits(c),), lambda: N(m, s) * c)
    case('rmul_c', a + (bits(c),), lambda: c * N(m, s))
    c0 = R.choice([c, c, c, 0.0, -0.0])
    case('div_c', a + (bits(c0),), lambda: N(m, s) / c0)
    case('add_nd', a + (bits(m2), bits(s2)), lambda: N(m, s) + N(m2, s2))
    case('sub_nd', a + (bits(m2), bits(s2)), lambda: N(m, s) - N(m2, s2))
    case('neg', a, lambda: -N(m, s))
    case('pos', a, lambda: +N(m, s))
    case('eq', a + (bits(m2), bits(s2)), lambda: N(m, s) == N(m2, s2))
    case('eq', a + a, lambda: N(m, s) == N(m, s))
    if not (math.isnan(m) or math.isnan(s)):
        case('hash', a, lambda: hash(N(m, s)))
    case('repr', a, lambda: repr(N(m, s)))
# hypot over every magnitude, subnormals included (CPython rescales those first).
def wide(lo): return R.random() * 2.0 ** R.randint(lo, 1023)
for _ in range(3000):
    m, s, m2, s2 = num(), wide(-1074), num(), wide(-1074)
    case('add_nd', (bits(m), bits(s), bits(m2), bits(s2)), lambda: N(m, s) + N(m2, s2))
    s, s2 = R.random() * 2.0 ** R.randint(-1074, -1000), R.random() * 2.0 ** R.randint(-1074, -1000)
    case('sub_nd', (bits(m), bits(s), bits(m2), bits(s2)), lambda: N(m, s) - N(m2, s2))
    s, s2 = wide(-500), wide(-500)
    case('overlap', (bits(m), bits(s), bits(m2), bits(s2)), lambda: N(m, s).overlap(N(m2, s2)))
for n in [1, 2, 3, 4, 5, 10, 100, 1000]:
    case('quantiles', (bits(0.0), bits(1.0), str(n)), lambda: N().quantiles(n))
)PY";

Outcome compute(const std::string& op, const std::vector<std::string>& args) {
  const auto arg = [&](std::size_t i) { return from_bits(args.at(i)); };
  const auto nd = [&](std::size_t i) { return NormalDist(arg(i), arg(i + 1)); };
  try {
    if (op == "ctor") {
      return of(nd(0));
    }
    if (op == "pdf") {
      return values({nd(0).pdf(arg(2))});
    }
    if (op == "cdf") {
      return values({nd(0).cdf(arg(2))});
    }
    if (op == "zscore") {
      return values({nd(0).zscore(arg(2))});
    }
    if (op == "inv_cdf") {
      return values({nd(0).inv_cdf(arg(2))});
    }
    if (op == "overlap") {
      return values({nd(0).overlap(nd(2))});
    }
    if (op == "quantiles") {
      return values(nd(0).quantiles(std::stoll(args.at(2))));
    }
    if (op == "add_c") {
      return of(nd(0) + arg(2));
    }
    if (op == "radd_c") {
      return of(arg(2) + nd(0));
    }
    if (op == "sub_c") {
      return of(nd(0) - arg(2));
    }
    if (op == "rsub_c") {
      return of(arg(2) - nd(0));
    }
    if (op == "mul_c") {
      return of(nd(0) * arg(2));
    }
    if (op == "rmul_c") {
      return of(arg(2) * nd(0));
    }
    if (op == "div_c") {
      return of(nd(0) / arg(2));
    }
    if (op == "add_nd") {
      return of(nd(0) + nd(2));
    }
    if (op == "sub_nd") {
      return of(nd(0) - nd(2));
    }
    if (op == "neg") {
      return of(-nd(0));
    }
    if (op == "pos") {
      return of(+nd(0));
    }
    if (op == "eq") {
      return {{}, nd(0) == nd(2) ? "True" : "False"};
    }
    if (op == "hash") {
      return {{}, std::to_string(static_cast<std::int64_t>(nd(0).hash()))};
    }
    if (op == "repr") {
      return {{}, nd(0).repr()};
    }
  } catch (const BaseException& e) {
    return {{}, fmt::format("!{}:{}", e.type_name(), e.what())};
  }
  ADD_FAILURE() << "unknown op " << op;
  return {};
}

TEST(NormalDistDiff, AgreesWithCPython) {
  const auto python = testing::run_python(k_diff_script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  std::string line;
  std::map<std::string, int> cases;
  std::map<std::string, int> one_ulp;
  int failures = 0;
  while (std::getline(lines, line)) {
    const std::size_t eq = line.find(" = ");
    ASSERT_NE(eq, std::string::npos) << line;
    std::istringstream head(line.substr(0, eq));
    std::string op;
    head >> op;
    std::vector<std::string> args;
    for (std::string a; head >> a;) {
      args.push_back(a);
    }
    const std::string expected = line.substr(eq + 3);
    const Outcome got = compute(op, args);
    ++cases[op];
    bool ok = true;
    bool within_one = false;
    const bool is_text = expected.starts_with('!') || op == "eq" || op == "hash" || op == "repr";
    if (is_text) {
      ok = got.text == expected;
    } else {
      std::istringstream tokens(expected);
      std::vector<double> want;
      for (std::string t; tokens >> t;) {
        want.push_back(from_bits(t));
      }
      ok = got.text.empty() && want.size() == got.values.size();
      for (std::size_t i = 0; ok && i < want.size(); ++i) {
        if (same_bits(want[i], got.values[i])) {
          continue;
        }
        const bool tolerant = op == "pdf" || op == "cdf" || op == "overlap";
        if (tolerant && !std::isnan(want[i]) && ulps_apart(want[i], got.values[i]) == 1) {
          within_one = true;
        } else {
          ok = false;
        }
      }
    }
    if (within_one) {
      ++one_ulp[op];
    }
    if (!ok && ++failures <= 30) {
      std::string shown = got.text;
      for (double v : got.values) {
        shown += fmt::format(" {:a}", v);
      }
      ADD_FAILURE() << line << "\n  batteries gives:" << shown;
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GE(cases["pdf"], 3000);
  EXPECT_GE(cases["overlap"], 9000);
  EXPECT_GE(cases["add_nd"], 6000);
  // Every result is expected to be bit-identical; report any last-bit differences (allowed
  // only where CPython's results come from libm's exp/erf).
  for (const auto& [op, count] : one_ulp) {
    ADD_FAILURE() << op << ": " << count << " of " << cases[op] << " results differ by one ulp";
  }
}

// samples() against random.Random(seed).gauss(), including the seeds whose int has more than
// one 32-bit word and the most negative seed.
TEST(NormalDistDiff, SamplesAgreeWithCPython) {
  const std::vector<std::int64_t> seeds = {0,
                                           1,
                                           42,
                                           -7,
                                           (std::int64_t{1} << 40) + 3,
                                           std::numeric_limits<std::int64_t>::max(),
                                           std::numeric_limits<std::int64_t>::min(),
                                           4294967295,
                                           4294967296,
                                           3652260728};
  const std::vector<std::pair<double, double>> params = {
      {0.0, 1.0}, {100.0, 15.0}, {-3.5, 0.0}, {1e300, 1e300}};
  std::string script =
      "import struct\nfrom statistics import NormalDist\n"
      "def bits(x): return '%016x' % struct.unpack('<Q', struct.pack('<d', x))[0]\n";
  for (std::int64_t seed : seeds) {
    for (const auto& [mu, sigma] : params) {
      script += fmt::format("print(*map(bits, NormalDist({}, {}).samples(1001, seed={})))\n",
                            py_repr(mu), py_repr(sigma), seed);
    }
  }
  const auto python = testing::run_python(script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  for (std::int64_t seed : seeds) {
    for (const auto& [mu, sigma] : params) {
      std::string line;
      ASSERT_TRUE(std::getline(lines, line));
      std::istringstream tokens(line);
      std::vector<double> want;
      for (std::string t; tokens >> t;) {
        want.push_back(from_bits(t));
      }
      const std::vector<double> got = NormalDist(mu, sigma).samples(1001, {.seed = seed});
      ASSERT_EQ(got.size(), want.size());
      int differ = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        differ += same_bits(got[i], want[i]) ? 0 : 1;
      }
      EXPECT_EQ(differ, 0) << "seed " << seed << " mu " << mu << " sigma " << sigma;
    }
  }
}

// from_samples() on random data sets of ints and floats, with infinities and NaNs sometimes.
TEST(NormalDistDiff, FromSamplesAgreesWithCPython) {
  const std::string script = R"PY(
import math, random, struct
from statistics import NormalDist
R = random.Random(2718)
def bits(x): return '%016x' % struct.unpack('<Q', struct.pack('<d', x))[0]
for _ in range(2000):
    n = R.randint(0, 12)
    kind = R.choice(['int', 'float', 'wide', 'special'])
    if kind == 'int':
        data = [R.randint(-10**6, 10**6) for _ in range(n)]
    elif kind == 'float':
        data = [R.gauss(50.0, 20.0) for _ in range(n)]
    elif kind == 'wide':
        data = [R.uniform(-1.0, 1.0) * 10.0 ** R.randint(-300, 300) for _ in range(n)]
    else:
        data = [R.choice([1.0, -2.5, 1e308, math.inf, -math.inf, math.nan]) for _ in range(n)]
    try:
        d = NormalDist.from_samples(data)
        r = bits(d.mean) + ' ' + bits(d.stdev)
    except Exception as e:
        r = '!%s:%s' % (type(e).__name__, e)
    shown = [str(x) if kind == 'int' else bits(x) for x in data]
    print(kind, *shown, '=', r)
)PY";
  const auto python = testing::run_python(script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::istringstream lines(*python);
  std::string line;
  int failures = 0;
  int count = 0;
  while (std::getline(lines, line)) {
    const std::size_t eq = line.find(" = ");
    ASSERT_NE(eq, std::string::npos);
    std::istringstream head(line.substr(0, eq));
    std::string kind;
    head >> kind;
    std::vector<std::int64_t> ints;
    std::vector<double> floats;
    for (std::string t; head >> t;) {
      if (kind == "int") {
        ints.push_back(std::stoll(t));
      } else {
        floats.push_back(from_bits(t));
      }
    }
    std::string got;
    try {
      const NormalDist d =
          kind == "int" ? NormalDist::from_samples(ints) : NormalDist::from_samples(floats);
      got = fmt::format("{:016x} {:016x}", std::bit_cast<std::uint64_t>(d.mean()),
                        std::bit_cast<std::uint64_t>(d.stdev()));
    } catch (const BaseException& e) {
      got = fmt::format("!{}:{}", e.type_name(), e.what());
    }
    std::string expected = line.substr(eq + 3);
    // Any NaN is a NaN.
    const auto canonical = [](std::string s) {
      if (s.starts_with('!')) {
        return s;
      }
      std::istringstream tokens(s);
      std::string out;
      for (std::string t; tokens >> t;) {
        const double v = from_bits(t);
        out += std::isnan(v) ? std::string("nan ") : t + " ";
      }
      return out;
    };
    if (canonical(got) != canonical(expected) && ++failures <= 20) {
      ADD_FAILURE() << line << "\n  batteries gives: " << got;
    }
    ++count;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(count, 2000);
}

}  // namespace
}  // namespace batteries::statistics
