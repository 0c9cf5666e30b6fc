// NormalDist: CPython 3.11's statistics.NormalDist, float operation for float operation.
//
// Each function follows Lib/statistics.py (and Modules/_statisticsmodule.c for inv_cdf) in
// the order of its float operations, so that the results round exactly as CPython's do. Two
// things CPython does not take from the C library are ported here: math.hypot (its own
// compensated norm, which differs from glibc's hypot in the last bit for about 0.1% of
// inputs) and the Mersenne Twister seeding and float conversion of random.Random.
#include <batteries/statistics/normal_dist.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <utility>

namespace batteries::statistics {

namespace {

constexpr double k_tau = 6.283185307179586;     // math.tau, random.TWOPI
constexpr double k_sqrt2 = 1.4142135623730951;  // statistics._SQRT2 = sqrt(2.0)
constexpr double k_split = 134217729.0;         // 2**27 + 1, Veltkamp-Dekker splitting
constexpr std::uint64_t k_hash_modulus = (std::uint64_t{1} << 61) - 1;  // sys.hash_info.modulus

// Python 3.11's math.hypot(x, y) (Modules/mathmodule.c, vector_norm): both coordinates are
// scaled by a power of two, squared without loss by splitting, summed with compensation, and
// the square root gets one differential correction, so the result is almost always correctly
// rounded. Its last bit can differ from glibc's hypot, which is why this is not std::hypot.
double vector_norm(const std::array<double, 2>& vec, double max, bool found_nan) {
  if (std::isinf(max)) {
    return max;
  }
  if (found_nan) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (max == 0.0) {
    return max;
  }
  int max_e = 0;
  std::frexp(max, &max_e);
  double csum = 1.0;
  double frac1 = 0.0;
  double frac2 = 0.0;
  double frac3 = 0.0;
  double x = 0.0;
  double t = 0.0;
  double hi = 0.0;
  double lo = 0.0;
  double oldcsum = 0.0;
  if (max_e < -1023) {
    // ldexp(1.0, -max_e) would overflow: 3.11 divides by max instead, with one compensated
    // sum (later versions rescale the subnormals and recurse, which rounds differently).
    for (double v : vec) {
      x = v / max;
      x = x * x;
      oldcsum = csum;
      csum += x;
      frac1 += (oldcsum - csum) + x;
    }
    return max * std::sqrt(csum - 1.0 + frac1);
  }
  const double scale = std::ldexp(1.0, -max_e);
  for (double v : vec) {
    x = v * scale;
    t = x * k_split;
    hi = t - (t - x);
    lo = x - hi;

    x = hi * hi;
    oldcsum = csum;
    csum += x;
    frac1 += (oldcsum - csum) + x;

    x = 2.0 * hi * lo;
    oldcsum = csum;
    csum += x;
    frac2 += (oldcsum - csum) + x;

    frac3 += lo * lo;
  }
  const double h = std::sqrt(csum - 1.0 + (frac1 + frac2 + frac3));

  x = h;
  t = x * k_split;
  hi = t - (t - x);
  lo = x - hi;

  x = -hi * hi;
  oldcsum = csum;
  csum += x;
  frac1 += (oldcsum - csum) + x;

  x = -2.0 * hi * lo;
  oldcsum = csum;
  csum += x;
  frac2 += (oldcsum - csum) + x;

  x = -lo * lo;
  oldcsum = csum;
  csum += x;
  frac3 += (oldcsum - csum) + x;

  x = csum - 1.0 + (frac1 + frac2 + frac3);
  return (h + x / (2.0 * h)) / scale;
}

double py_hypot(double a, double b) {
  const std::array<double, 2> vec = {std::fabs(a), std::fabs(b)};
  double max = 0.0;
  bool found_nan = false;
  for (double v : vec) {
    found_nan |= std::isnan(v);
    if (v > max) {
      max = v;
    }
  }
  return vector_norm(vec, max, found_nan);
}

// Python's hash(float) (Python/pyhash.c, _Py_HashDouble), reduced modulo 2**61 - 1. NaN has
// no reproducible hash in Python 3.10+ (it is the object's address); it is 0 here.
std::uint64_t hash_double(double v) {
  if (!std::isfinite(v)) {
    if (std::isinf(v)) {
      return v > 0 ? 314159 : static_cast<std::uint64_t>(-314159);
    }
    return 0;
  }
  int e = 0;
  double m = std::frexp(v, &e);
  std::uint64_t sign = 1;
  if (m < 0) {
    sign = static_cast<std::uint64_t>(-1);
    m = -m;
  }
  std::uint64_t x = 0;
  while (m != 0.0) {
    x = ((x << 28) & k_hash_modulus) | x >> (61 - 28);
    m *= 268435456.0;  // 2**28
    e -= 28;
    const auto y = static_cast<std::uint64_t>(m);
    m -= static_cast<double>(y);
    x += y;
    if (x >= k_hash_modulus) {
      x -= k_hash_modulus;
    }
  }
  e = e >= 0 ? e % 61 : 61 - 1 - ((-1 - e) % 61);
  x = ((x << e) & k_hash_modulus) | x >> (61 - e);
  x = x * sign;
  if (x == static_cast<std::uint64_t>(-1)) {
    x = static_cast<std::uint64_t>(-2);
  }
  return x;
}

// Python's hash of a 2-tuple (Objects/tupleobject.c, tuplehash: xxHash's mixing).
std::uint64_t hash_pair(std::uint64_t a, std::uint64_t b) {
  constexpr std::uint64_t k_prime1 = 11400714785074694791ULL;
  constexpr std::uint64_t k_prime2 = 14029467366897019727ULL;
  constexpr std::uint64_t k_prime5 = 2870177450012600261ULL;
  std::uint64_t acc = k_prime5;
  for (std::uint64_t lane : {a, b}) {
    acc += lane * k_prime2;
    acc = (acc << 31) | (acc >> 33);
    acc *= k_prime1;
  }
  acc += 2 ^ (k_prime5 ^ 3527539UL);
  if (acc == static_cast<std::uint64_t>(-1)) {
    return 1546275796;
  }
  return acc;
}

// random.Random: the Mersenne Twister seeded with init_by_array as CPython's
// Modules/_randommodule.c does it, generating through std::mt19937 (the same recurrence).
class PyRandom {
 public:
  explicit PyRandom(const std::vector<std::uint32_t>& key) {
    constexpr std::size_t n = std::mt19937::state_size;
    std::array<std::uint32_t, n> mt{};
    // init_genrand(19650218)
    mt[0] = 19650218U;
    for (std::size_t i = 1; i < n; ++i) {
      mt[i] = 1812433253U * (mt[i - 1] ^ (mt[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    }
    std::size_t i = 1;
    std::size_t j = 0;
    for (std::size_t k = std::max(n, key.size()); k != 0; --k) {
      mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U)) + key[j] +
              static_cast<std::uint32_t>(j);
      ++i;
      ++j;
      if (i >= n) {
        mt[0] = mt[n - 1];
        i = 1;
      }
      if (j >= key.size()) {
        j = 0;
      }
    }
    for (std::size_t k = n - 1; k != 0; --k) {
      mt[i] =
          (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - static_cast<std::uint32_t>(i);
      ++i;
      if (i >= n) {
        mt[0] = mt[n - 1];
        i = 1;
      }
    }
    mt[0] = 0x80000000U;
    // The standard's textual state of a mersenne_twister_engine is its last n words; the next
    // output twists them first, as CPython's does when its index is N. libstdc++ also reads
    // the index after them; other libraries leave it unread.
    std::stringstream state;
    for (std::uint32_t word : mt) {
      state << word << ' ';
    }
    state << n;
    state >> m_engine;
  }

  // random(): 53 random bits from two 32-bit outputs.
  double random() {
    const auto a = static_cast<double>(m_engine() >> 5);
    const auto b = static_cast<double>(m_engine() >> 6);
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  // gauss(mu, sigma) of Lib/random.py 3.11, with its cached second value.
  double gauss(double mu, double sigma) {
    std::optional<double> z = m_gauss_next;
    m_gauss_next.reset();
    if (!z) {
      const double x2pi = random() * k_tau;
      const double g2rad = std::sqrt(-2.0 * std::log(1.0 - random()));
      z = std::cos(x2pi) * g2rad;
      m_gauss_next = std::sin(x2pi) * g2rad;
    }
    return mu + *z * sigma;
  }

 private:
  std::mt19937 m_engine;
  std::optional<double> m_gauss_next;
};

// The key CPython's random_seed() makes of an int: abs(seed) in 32-bit words, least
// significant first, at least one word.
std::vector<std::uint32_t> key_of(std::int64_t seed) {
  const std::uint64_t magnitude = seed < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(seed)
                                           : static_cast<std::uint64_t>(seed);
  std::vector<std::uint32_t> key{static_cast<std::uint32_t>(magnitude)};
  if (magnitude >> 32 != 0) {
    key.push_back(static_cast<std::uint32_t>(magnitude >> 32));
  }
  return key;
}

// As CPython seeds from os.urandom: N words of entropy through init_by_array.
std::vector<std::uint32_t> random_key() {
  std::random_device device;
  std::vector<std::uint32_t> key(std::mt19937::state_size);
  for (auto& word : key) {
    word = device();
  }
  return key;
}

// Modules/_statisticsmodule.c: Wichura's AS241 rational approximations.
double normal_dist_inv_cdf(double p, double mu, double sigma) {
  double num = 0.0;
  double den = 0.0;
  double r = 0.0;
  double x = 0.0;
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) {
    r = 0.180625 - q * q;
    // Hash sum AB: 55.88319 28806 14901 4439
    num = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r +
                6.7265770927008700853e+4) *
                   r +
               4.5921953931549871457e+4) *
                  r +
              1.3731693765509461125e+4) *
                 r +
             1.9715909503065514427e+3) *
                r +
            1.3314166789178437745e+2) *
               r +
           3.3871328727963666080e+0) *
          q;
    den = (((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r +
                3.9307895800092710610e+4) *
                   r +
               2.1213794301586595867e+4) *
                  r +
              5.3941960214247511077e+3) *
                 r +
             6.8718700749205790830e+2) *
                r +
            4.2313330701600911252e+1) *
               r +
           1.0);
    x = num / den;
    return mu + (x * sigma);
  }
  r = q <= 0.0 ? p : 1.0 - p;
  r = std::sqrt(-std::log(r));
  if (r <= 5.0) {
    r = r - 1.6;
    // Hash sum CD: 49.33206 50330 16102 89036
    num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r +
                2.41780725177450611770e-1) *
                   r +
               1.27045825245236838258e+0) *
                  r +
              3.64784832476320460504e+0) *
                 r +
             5.76949722146069140550e+0) *
                r +
            4.63033784615654529590e+0) *
               r +
           1.42343711074968357734e+0);
    den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r +
                1.51986665636164571966e-2) *
                   r +
               1.48103976427480074590e-1) *
                  r +
              6.89767334985100004550e-1) *
                 r +
             1.67638483018380384940e+0) *
                r +
            2.05319162663775882187e+0) *
               r +
           1.0);
  } else {
    r -= 5.0;
    // Hash sum EF: 47.52583 31754 92896 71629
    num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                1.24266094738807843860e-3) *
                   r +
               2.65321895265761230930e-2) *
                  r +
              2.96560571828504891230e-1) *
                 r +
             1.78482653991729133580e+0) *
                r +
            5.46378491116411436990e+0) *
               r +
           6.65790464350110377720e+0);
    den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r +
                1.84631831751005468180e-5) *
                   r +
               7.86869131145613259100e-4) *
                  r +
              1.48753612908506148525e-2) *
                 r +
             1.36929880922735805310e-1) *
                r +
            5.99832206555887937690e-1) *
               r +
           1.0);
  }
  x = num / den;
  if (q < 0.0) {
    x = -x;
  }
  return mu + (x * sigma);
}

}  // namespace

std::vector<double> NormalDist::samples(std::int64_t n, SamplesOptions options) const {
  std::vector<double> out;
  if (n <= 0) {
    return out;
  }
  PyRandom generator(options.seed ? key_of(*options.seed) : random_key());
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    out.push_back(generator.gauss(m_mu, m_sigma));
  }
  return out;
}

double NormalDist::pdf(double x) const {
  const double variance = m_sigma * m_sigma;
  if (variance == 0.0) {
    throw StatisticsError("pdf() not defined when sigma is zero");
  }
  const double diff = x - m_mu;
  return std::exp(diff * diff / (-2.0 * variance)) / std::sqrt(k_tau * variance);
}

double NormalDist::cdf(double x) const {
  if (m_sigma == 0.0) {
    throw StatisticsError("cdf() not defined when sigma is zero");
  }
  return 0.5 * (1.0 + std::erf((x - m_mu) / (m_sigma * k_sqrt2)));
}

double NormalDist::inv_cdf(double p) const {
  if (p <= 0.0 || p >= 1.0) {
    throw StatisticsError("p must be in the range 0.0 < p < 1.0");
  }
  if (m_sigma <= 0.0) {
    throw StatisticsError("cdf() not defined when sigma at or below zero");
  }
  return normal_dist_inv_cdf(p, m_mu, m_sigma);
}

std::vector<double> NormalDist::quantiles(std::int64_t n) const {
  std::vector<double> out;
  if (n <= 1) {
    return out;
  }
  out.reserve(static_cast<std::size_t>(n - 1));
  for (std::int64_t i = 1; i < n; ++i) {
    out.push_back(inv_cdf(static_cast<double>(i) / static_cast<double>(n)));
  }
  return out;
}

double NormalDist::overlap(const NormalDist& other) const {
  // Sorted to make the result commutative, by Python's tuple order on (sigma, mu): a NaN
  // compares neither less nor greater, so it never swaps.
  const NormalDist* x = this;
  const NormalDist* y = &other;
  const bool swap = y->m_sigma != x->m_sigma ? y->m_sigma < x->m_sigma : y->m_mu < x->m_mu;
  if (swap) {
    std::swap(x, y);
  }
  const double x_var = x->variance();
  const double y_var = y->variance();
  if (x_var == 0.0 || y_var == 0.0) {
    throw StatisticsError("overlap() not defined when sigma is zero");
  }
  const double dv = y_var - x_var;
  const double dm = std::fabs(y->m_mu - x->m_mu);
  if (dv == 0.0) {
    return 1.0 - std::erf(dm / (2.0 * x->m_sigma * k_sqrt2));
  }
  const double a = x->m_mu * y_var - y->m_mu * x_var;
  const double b = x->m_sigma * y->m_sigma * std::sqrt(dm * dm + dv * std::log(y_var / x_var));
  const double x1 = (a + b) / dv;
  const double x2 = (a - b) / dv;
  return 1.0 - (std::fabs(y->cdf(x1) - x->cdf(x1)) + std::fabs(y->cdf(x2) - x->cdf(x2)));
}

double NormalDist::zscore(double x) const {
  if (m_sigma == 0.0) {
    throw StatisticsError("zscore() not defined when sigma is zero");
  }
  return (x - m_mu) / m_sigma;
}

NormalDist operator+(const NormalDist& x1, const NormalDist& x2) {
  return NormalDist(x1.m_mu + x2.m_mu, py_hypot(x1.m_sigma, x2.m_sigma));
}

NormalDist operator-(const NormalDist& x1, const NormalDist& x2) {
  return NormalDist(x1.m_mu - x2.m_mu, py_hypot(x1.m_sigma, x2.m_sigma));
}

std::size_t NormalDist::hash() const noexcept {
  return static_cast<std::size_t>(hash_pair(hash_double(m_mu), hash_double(m_sigma)));
}

std::string NormalDist::repr() const {
  return std::string("NormalDist(mu=")
      .append(py_repr(m_mu))
      .append(", sigma=")
      .append(py_repr(m_sigma))
      .append(")");
}

}  // namespace batteries::statistics
