// Tour section: Python's statistics examples, with the values CPython 3.11 prints.
#include <fmt/ranges.h>

#include <batteries/statistics.hpp>
#include <string>
#include <vector>

#include "tour.hpp"

namespace st = batteries::statistics;
using batteries::py_repr;

namespace {

// Python's repr() of a list of floats.
std::string reprs(const std::vector<double>& values) {
  std::vector<std::string> out;
  for (const double x : values) {
    out.push_back(py_repr(x));
  }
  return fmt::format("[{}]", fmt::join(out, ", "));
}

}  // namespace

void tour::statistics() {
  heading("statistics: Python's statistics module, exactly rounded");
  // data = [2, 5, 5, 7, 9, 10, 10, 10, 14]
  // print(mean(data), median(data), mode(data), stdev(data), variance(data))
  const std::vector<int> data{2, 5, 5, 7, 9, 10, 10, 10, 14};
  // Integer data gives doubles; {} prints them shortest, as Python prints these results.
  fmt::print("mean {} median {} mode {} stdev {} variance {}\n", st::mean(data), st::median(data),
             st::mode(data), st::stdev(data), st::variance(data));

  // Exact sums: a naive double loop loses the 1 and the 3 to the 1e100s.
  const std::vector<double> hard{1e100, 1.0, 3.0, -1e100};
  double naive = 0;
  for (const double x : hard) {
    naive += x;
  }
  fmt::print("mean([1e100, 1, 3, -1e100]) -> {} (a naive loop says {})\n", py_repr(st::mean(hard)),
             py_repr(naive / 4));
  fmt::print("fmean([3.5, 4.0, 5.25]) -> {}\n", py_repr(st::fmean({3.5, 4.0, 5.25})));
  fmt::print("harmonic_mean([40, 60]) -> {}\n", py_repr(st::harmonic_mean({40, 60})));
  fmt::print("median([1, 3, 5, 7]) -> {}, median_low -> {}, median_high -> {}\n",
             py_repr(st::median({1, 3, 5, 7})), st::median_low({1, 3, 5, 7}),
             st::median_high({1, 3, 5, 7}));
  fmt::print("median_grouped([52, 52, 53, 54]) -> {}\n",
             py_repr(st::median_grouped({52, 52, 53, 54})));
  fmt::print("multimode('aabbbbccddddeeffffgg') -> {}\n",
             st::multimode(std::string_view("aabbbbccddddeeffffgg")));
  fmt::print("pvariance([0.0, 0.25, 0.25, 1.25, 1.5, 1.75, 2.75, 3.25]) -> {}\n",
             py_repr(st::pvariance({0.0, 0.25, 0.25, 1.25, 1.5, 1.75, 2.75, 3.25})));
  const std::vector<double> scores{105, 129, 87,  86,  111, 111, 89,  81,  108, 92,  110, 100, 75,
                                   105, 103, 109, 76,  119, 99,  91,  103, 129, 106, 101, 84,  111,
                                   74,  87,  86,  103, 103, 106, 86,  111, 75,  87,  102, 121, 111,
                                   88,  89,  101, 106, 95,  103, 107, 101, 81,  109, 104};
  fmt::print("quantiles(scores, n=10) -> {}\n", reprs(st::quantiles(scores, {.n = 10})));

  // Two inputs: the films example of Python's docs.
  const std::vector<int> year{1971, 1975, 1979, 1982, 1983};
  const std::vector<int> films_total{1, 2, 3, 4, 5};
  const auto fit = st::linear_regression(year, films_total);
  fmt::print("linear_regression(year, films_total) -> slope={} intercept={}\n", py_repr(fit.slope),
             py_repr(fit.intercept));
  fmt::print("correlation(year, films_total) -> {}\n", py_repr(st::correlation(year, films_total)));

  // NormalDist: what share of SAT takers score between 1100 and 1200?
  const st::NormalDist sat(1060, 195);
  const double fraction = sat.cdf(1200 + 0.5) - sat.cdf(1100 - 0.5);
  fmt::print("{}: {:.1f}% score 1100..1200, deciles {}\n", sat.repr(), fraction * 100,
             reprs(sat.quantiles(10)));

  // Beyond Python: an exact streaming accumulator that merges across threads.
  st::Running left;
  st::Running right;
  left.add(std::vector<double>{2, 5, 5, 7});
  right.add(std::vector<double>{9, 10, 10, 10, 14});
  left.merge(right);
  fmt::print("Running over the same data, in two parts: mean {} stdev {}\n", py_repr(left.mean()),
             py_repr(left.stdev()));
}
