// Must not compile: correlation over a single-pass range (it reads its inputs twice).
// expect: error
#include <batteries/statistics.hpp>

#include <sstream>
#include <vector>

double control() {
  return batteries::statistics::correlation(std::vector{1.0, 2.0}, std::vector{2.0, 1.0});
}
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
double bad(std::istringstream& in) {
  return batteries::statistics::correlation(std::views::istream<double>(in),
                                            std::vector{2.0, 1.0});
}
#endif
