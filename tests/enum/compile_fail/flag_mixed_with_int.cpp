// Must not compile: a Flag (not IntFlag) mixed with an integer, a TypeError in Python.
// expect: operator\||invalid operands
#include <batteries/enum.hpp>

BATTERIES_FLAG(Perm, unsigned, R, W, X);
BATTERIES_INT_FLAG(Mode, unsigned, R, W, X);

auto check() {
  auto m = Mode::R | 8u;  // IntFlag: fine
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  auto p = Perm::R | 8u;
  (void)p;
#endif
  return m;
}
