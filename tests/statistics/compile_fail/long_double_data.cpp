// Must not compile: long double data (no exact accumulator is wide enough for it).
// expect: error
#include <batteries/statistics.hpp>

#include <vector>

double control() { return batteries::statistics::variance(std::vector<float>{1, 2}); }
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
double bad() { return batteries::statistics::variance(std::vector<long double>{1, 2}); }
#endif
