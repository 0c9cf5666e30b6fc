// Must not compile: the mean of a string (characters are not numbers here).
// expect: error
#include <batteries/statistics.hpp>

#include <string>
#include <vector>

double control() { return batteries::statistics::mean(std::vector<int>{1, 2}); }
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
double bad() { return batteries::statistics::mean(std::string("abc")); }
#endif
