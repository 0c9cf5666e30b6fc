// bench/statistics/compare.py's C++ peers: batteries::statistics beside a naive loop and
// Boost.Math's boost::math::statistics, timed in-process on the same data.
//
//   statistics_bench [--n N] [--quick] [--repeat R] [--kind normal|wide] [--seed S]
//                    [--only f,g,...] [--dump FILE] [--dump-n M]
//
//     --n N        data size (default 10,000,000; --quick: 100,000)
//     --repeat R   timed runs of every (function, implementation), median reported (default 5;
//                  --quick: 3). The runs go round-robin: run r of every pair, then run r + 1,
//                  so a noisy neighbour on the 2-core machine hits every implementation alike
//     --kind       normal: 1000 + 50 z, z standard normal (Box-Muller on a PCG stream);
//                  y = 0.6 x + 40 z' for correlation. wide: sign * 10^u, u uniform in
//                  [-6, 6], for exact sums whose terms span 40 binary orders of magnitude;
//                  y = 0.5 x + an independent value of the same kind
//     --only       the functions to time (default all: mean fmean variance stdev median
//                  quantiles correlation)
//     --dump FILE  also write the first M values of x, then of y, to FILE as raw doubles (the
//                  machine's byte order), and print batteries' results on those M values as
//                  "check" lines: compare.py times CPython on the same values and compares
//     --dump-n M   M (default 1,000,000, at most N)
//
// The implementations:
//   batteries      batteries::statistics::f(x) (correlation(x, y)); exact results
//   batteries-par  f(std::execution::par, x), where batteries has it (mean, fmean, variance,
//                  stdev)
//   naive          the loop a C++ programmer writes: mean and fmean sum / n; variance two-pass
//                  (the mean, then the sum of squared deviations, / (n - 1)), stdev its sqrt;
//                  median: a copy, nth_element at n / 2 and, for even n, the largest of the
//                  lower half; quantiles (n = 4, "exclusive", Python's default): a copy, and
//                  the six order statistics the cut points need by nth_element, the middle
//                  one first, then each side's (min_element for one just above the last
//                  placed); correlation: the means, then sxy, sxx, syy in one pass,
//                  sxy / sqrt(sxx * syy)
//   boost          boost::math::statistics (Boost 1.74, when BATTERIES_BENCH_BOOST is defined):
//                  mean (both mean and fmean), sample_variance, sqrt(sample_variance) for
//                  stdev, median (on a copy: it reorders its argument), and
//                  correlation_coefficient; Boost 1.74 has no quantiles
//
// Median and quantiles need the data reordered: batteries copies inside the call, so the
// naive and Boost versions copy into a fresh std::vector inside the timed region too.
//
// Output: one JSON line per (function, implementation):
//   {"kind", "n", "function", "impl", "ns", "best_ns", "repeat", "value"}
// ns is the median over the runs of nanoseconds per element, best_ns the fastest run; value
// is the result (a list for quantiles), printed with 17 significant digits. Before them, a
// {"meta": ...} line; with --dump, {"check": function, "n": M, "value": ...} lines.
#include <batteries/statistics.hpp>

#ifdef BATTERIES_BENCH_BOOST
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wfloat-conversion"
#include <boost/math/statistics/bivariate_statistics.hpp>
#include <boost/math/statistics/univariate_statistics.hpp>
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <execution>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace st = batteries::statistics;
using Clock = std::chrono::steady_clock;

// ---- keeping the optimiser honest ----

// The result leaves through a register or memory the compiler must assume is read.
template <class T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}
// The data may have changed: nothing computed from it before may be reused.
inline void clobber(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

// ---- the data ----

// PCG32 (O'Neill's pcg32_random_r): a fixed stream for a fixed seed.
class Pcg32 {
 public:
  explicit Pcg32(std::uint64_t seed) {
    next();
    m_state += seed;
    next();
  }
  std::uint32_t next() {
    const std::uint64_t old = m_state;
    m_state = old * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto xorshifted = static_cast<std::uint32_t>(((old >> 18U) ^ old) >> 27U);
    const auto rot = static_cast<std::uint32_t>(old >> 59U);
    return (xorshifted >> rot) | (xorshifted << ((32U - rot) & 31U));
  }
  // Uniform in (0, 1): 53 random bits, never 0.
  double uniform() {
    const std::uint64_t bits = (std::uint64_t{next()} << 21U) ^ next();
    return (static_cast<double>(bits & ((1ULL << 53U) - 1)) + 0.5) * 0x1p-53;
  }
  double normal() {
    if (m_have_spare) {
      m_have_spare = false;
      return m_spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double theta = 2.0 * std::numbers::pi * uniform();
    m_spare = r * std::sin(theta);
    m_have_spare = true;
    return r * std::cos(theta);
  }

 private:
  std::uint64_t m_state = 0;
  double m_spare = 0;
  bool m_have_spare = false;
};

struct Data {
  std::vector<double> x;
  std::vector<double> y;
};

Data make_data(std::string_view kind, std::size_t n, std::uint64_t seed) {
  Pcg32 rng(seed);
  Data d;
  d.x.resize(n);
  d.y.resize(n);
  if (kind == "normal") {
    for (std::size_t i = 0; i < n; ++i) {
      d.x[i] = 1000.0 + 50.0 * rng.normal();
      d.y[i] = 0.6 * d.x[i] + 40.0 * rng.normal();
    }
  } else if (kind == "wide") {
    auto value = [&rng] {
      const double sign = rng.next() & 1U ? -1.0 : 1.0;
      return sign * std::pow(10.0, 12.0 * rng.uniform() - 6.0);
    };
    for (std::size_t i = 0; i < n; ++i) {
      d.x[i] = value();
      d.y[i] = 0.5 * d.x[i] + value();
    }
  } else {
    throw std::invalid_argument("--kind must be normal or wide");
  }
  return d;
}

// ---- the naive loops ----

double naive_mean(const std::vector<double>& v) {
  double sum = 0;
  for (const double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double naive_variance(const std::vector<double>& v) {
  const double m = naive_mean(v);
  double ss = 0;
  for (const double x : v) ss += (x - m) * (x - m);
  return ss / static_cast<double>(v.size() - 1);
}

double naive_median(const std::vector<double>& v) {
  std::vector<double> c(v.begin(), v.end());
  const std::size_t n = c.size();
  const auto mid = c.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(c.begin(), mid, c.end());
  if (n % 2 == 1) return *mid;
  return (*std::max_element(c.begin(), mid) + *mid) / 2;
}

// Puts the order statistics ks (sorted, each in [lo, hi)) in place in c: nth_element at the
// middle one, then the same on each side. One that directly follows its range's start is
// that range's minimum: a swap with min_element does.
void select_all(std::vector<double>& c, std::size_t lo, std::size_t hi, const std::size_t* ks,
                std::size_t count) {
  while (count > 0 && ks[0] == lo) {
    const auto first = c.begin() + static_cast<std::ptrdiff_t>(lo);
    std::iter_swap(first, std::min_element(first, c.begin() + static_cast<std::ptrdiff_t>(hi)));
    ++lo;
    ++ks;
    --count;
  }
  if (count == 0) return;
  const std::size_t mid = count / 2;
  const std::size_t k = ks[mid];
  std::nth_element(c.begin() + static_cast<std::ptrdiff_t>(lo),
                   c.begin() + static_cast<std::ptrdiff_t>(k),
                   c.begin() + static_cast<std::ptrdiff_t>(hi));
  select_all(c, lo, k, ks, mid);
  select_all(c, k + 1, hi, ks + mid + 1, count - mid - 1);
}

// Python's quantiles(data, n=4) with the default method "exclusive": for i in 1..3,
// j = i (n + 1) // 4 clamped to 1 .. n - 1, delta = i (n + 1) - 4 j,
// (data[j - 1] (4 - delta) + data[j] delta) / 4 over the sorted data; the six order
// statistics found by select_all on a copy.
std::vector<double> naive_quantiles(const std::vector<double>& v) {
  constexpr std::size_t parts = 4;
  std::vector<double> c(v.begin(), v.end());
  const std::size_t n = c.size();
  const std::size_t m = n + 1;
  auto cut = [n, m](std::size_t i) { return std::clamp(i * m / parts, std::size_t{1}, n - 1); };
  std::vector<std::size_t> wanted;
  for (std::size_t i = 1; i < parts; ++i) {
    const std::size_t j = cut(i);
    wanted.push_back(j - 1);
    wanted.push_back(j);
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  select_all(c, 0, n, wanted.data(), wanted.size());
  std::vector<double> result;
  for (std::size_t i = 1; i < parts; ++i) {
    const std::size_t j = cut(i);
    const auto delta = static_cast<double>(static_cast<std::int64_t>(i * m) -
                                           static_cast<std::int64_t>(j * parts));
    const auto p = static_cast<double>(parts);
    result.push_back((c[j - 1] * (p - delta) + c[j] * delta) / p);
  }
  return result;
}

double naive_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double mx = naive_mean(x);
  const double my = naive_mean(y);
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx;
    const double dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / std::sqrt(sxx * syy);
}

#ifdef BATTERIES_BENCH_BOOST
namespace bs = boost::math::statistics;

double boost_median(const std::vector<double>& v) {
  std::vector<double> c(v.begin(), v.end());
  return bs::median(c);
}
#endif

// ---- the cases ----

// A result: a number, or quantiles' cut points.
using Result = std::vector<double>;

struct Case {
  std::string function;
  std::string impl;
  std::function<Result()> run;
  std::vector<double> nanos;  // per element, one per timed run
  Result value;
};

Result one(double v) { return Result{v}; }

std::vector<Case> make_cases(const Data& d, const std::vector<std::string>& only) {
  const auto& x = d.x;
  const auto& y = d.y;
  std::vector<Case> cases;
  auto add = [&](std::string function, std::string impl, std::function<Result()> run) {
    if (!only.empty() && std::find(only.begin(), only.end(), function) == only.end()) return;
    cases.push_back(Case{std::move(function), std::move(impl), std::move(run), {}, {}});
  };
  const auto par = std::execution::par;

  add("mean", "batteries", [&] { return one(st::mean(x)); });
  add("mean", "batteries-par", [&] { return one(st::mean(par, x)); });
  add("mean", "naive", [&] { return one(naive_mean(x)); });
  add("fmean", "batteries", [&] { return one(st::fmean(x)); });
  add("fmean", "batteries-par", [&] { return one(st::fmean(par, x)); });
  add("fmean", "naive", [&] { return one(naive_mean(x)); });
  add("variance", "batteries", [&] { return one(st::variance(x)); });
  add("variance", "batteries-par", [&] { return one(st::variance(par, x)); });
  add("variance", "naive", [&] { return one(naive_variance(x)); });
  add("stdev", "batteries", [&] { return one(st::stdev(x)); });
  add("stdev", "batteries-par", [&] { return one(st::stdev(par, x)); });
  add("stdev", "naive", [&] { return one(std::sqrt(naive_variance(x))); });
  add("median", "batteries", [&] { return one(st::median(x)); });
  add("median", "naive", [&] { return one(naive_median(x)); });
  add("quantiles", "batteries", [&] { return st::quantiles(x); });
  add("quantiles", "naive", [&] { return naive_quantiles(x); });
  add("correlation", "batteries", [&] { return one(st::correlation(x, y)); });
  add("correlation", "naive", [&] { return one(naive_correlation(x, y)); });
#ifdef BATTERIES_BENCH_BOOST
  add("mean", "boost", [&] { return one(bs::mean(x)); });
  add("fmean", "boost", [&] { return one(bs::mean(x)); });
  add("variance", "boost", [&] { return one(bs::sample_variance(x)); });
  add("stdev", "boost", [&] { return one(std::sqrt(bs::sample_variance(x))); });
  add("median", "boost", [&] { return one(boost_median(x)); });
  add("correlation", "boost", [&] { return one(bs::correlation_coefficient(x, y)); });
#endif
  // In the order of the list, each function's implementations together.
  static const std::vector<std::string> order{"mean",   "fmean",     "variance",   "stdev",
                                              "median", "quantiles", "correlation"};
  std::stable_sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) {
    return std::find(order.begin(), order.end(), a.function) <
           std::find(order.begin(), order.end(), b.function);
  });
  return cases;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void time_cases(std::vector<Case>& cases, const Data& d, int repeat) {
  const auto n = static_cast<double>(d.x.size());
  for (int r = 0; r < repeat; ++r) {
    for (Case& c : cases) {
      clobber(d.x.data());
      clobber(d.y.data());
      const auto start = Clock::now();
      Result value = c.run();
      do_not_optimize(value.data());
      do_not_optimize(value.front());
      const auto stop = Clock::now();
      c.nanos.push_back(std::chrono::duration<double, std::nano>(stop - start).count() / n);
      if (value != c.value) {
        throw std::runtime_error(c.function + " (" + c.impl + "): runs disagree");
      }
      c.value = std::move(value);
    }
  }
}

// ---- output ----

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string json_value(const std::string& function, const Result& r) {
  if (function != "quantiles") return number(r.front());
  std::string s = "[";
  for (std::size_t i = 0; i < r.size(); ++i) s += (i ? ", " : "") + number(r[i]);
  return s + "]";
}

// batteries' results on the first m values, for compare.py to set beside CPython's.
void print_checks(const Data& d, std::size_t m, const std::vector<std::string>& only) {
  const std::vector<double> x(d.x.begin(), d.x.begin() + static_cast<std::ptrdiff_t>(m));
  const std::vector<double> y(d.y.begin(), d.y.begin() + static_cast<std::ptrdiff_t>(m));
  auto check = [&](const std::string& function, const Result& r) {
    if (!only.empty() && std::find(only.begin(), only.end(), function) == only.end()) return;
    std::printf("{\"check\": \"%s\", \"n\": %zu, \"value\": %s}\n", function.c_str(), m,
                json_value(function, r).c_str());
  };
  check("mean", one(st::mean(x)));
  check("fmean", one(st::fmean(x)));
  check("variance", one(st::variance(x)));
  check("stdev", one(st::stdev(x)));
  check("median", one(st::median(x)));
  check("quantiles", st::quantiles(x));
  check("correlation", one(st::correlation(x, y)));
}

void dump(const Data& d, std::size_t m, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  const bool ok = std::fwrite(d.x.data(), sizeof(double), m, f) == m &&
                  std::fwrite(d.y.data(), sizeof(double), m, f) == m;
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write " + path);
}

std::size_t parse_size(std::string_view text, const char* what) {
  std::size_t value = 0;
  // Accept 1e7 and 10_000_000 as well as 10000000.
  std::string digits;
  for (const char ch : text)
    if (ch != '_') digits += ch;
  if (const auto e = digits.find_first_of("eE"); e != std::string::npos) {
    std::size_t mant = parse_size(digits.substr(0, e), what);
    const std::size_t exp = parse_size(digits.substr(e + 1), what);
    for (std::size_t i = 0; i < exp; ++i) mant *= 10;
    return mant;
  }
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) {
    throw std::invalid_argument(std::string("bad ") + what + ": " + std::string(text));
  }
  return value;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

int run(int argc, char** argv) {
  std::size_t n = 0;
  std::size_t dump_n = 1'000'000;
  int repeat = 0;
  bool quick = false;
  std::string kind = "normal";
  std::string dump_path;
  std::uint64_t seed = 20240601;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--n" || arg == "-n") {
      n = parse_size(value(), "--n");
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--repeat") {
      repeat = static_cast<int>(parse_size(value(), "--repeat"));
    } else if (arg == "--kind") {
      kind = value();
    } else if (arg == "--seed") {
      seed = parse_size(value(), "--seed");
    } else if (arg == "--only") {
      only = split(value());
    } else if (arg == "--dump") {
      dump_path = value();
    } else if (arg == "--dump-n") {
      dump_n = parse_size(value(), "--dump-n");
    } else {
      throw std::invalid_argument("unknown argument " + std::string(arg));
    }
  }
  if (n == 0) n = quick ? 100'000 : 10'000'000;
  if (repeat <= 0) repeat = quick ? 3 : 5;
  if (n < 4) throw std::invalid_argument("--n must be at least 4");

  const Data d = make_data(kind, n, seed);
  std::vector<Case> cases = make_cases(d, only);
#ifdef BATTERIES_BENCH_BOOST
  const bool boost = true;
#else
  const bool boost = false;
#endif
  std::printf(
      "{\"meta\": {\"kind\": \"%s\", \"n\": %zu, \"repeat\": %d, \"seed\": %llu, "
      "\"boost\": %s}}\n",
      kind.c_str(), n, repeat, static_cast<unsigned long long>(seed), boost ? "true" : "false");
  if (!dump_path.empty()) {
    dump_n = std::min(dump_n, n);
    dump(d, dump_n, dump_path);
    print_checks(d, dump_n, only);
  }
  std::fflush(stdout);

  // One untimed run of each first: page in the code and settle the allocator; every timed
  // run must give the same result as this one.
  for (Case& c : cases) c.value = c.run();
  time_cases(cases, d, repeat);
  for (const Case& c : cases) {
    std::printf(
        "{\"kind\": \"%s\", \"n\": %zu, \"function\": \"%s\", \"impl\": \"%s\", "
        "\"ns\": %.4f, \"best_ns\": %.4f, \"repeat\": %d, \"value\": %s}\n",
        kind.c_str(), n, c.function.c_str(), c.impl.c_str(), median_of(c.nanos),
        *std::min_element(c.nanos.begin(), c.nanos.end()), repeat,
        json_value(c.function, c.value).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "statistics_bench: %s\n", e.what());
    return 1;
  }
}
