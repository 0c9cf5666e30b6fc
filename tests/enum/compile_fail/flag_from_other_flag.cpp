// Must not compile: members of two different flags do not combine.
// expect: operator\||invalid operands
#include <batteries/enum.hpp>

BATTERIES_FLAG(Perm, unsigned, R, W, X);
BATTERIES_FLAG(Color, unsigned, RED, GREEN, BLUE);

auto check() {
  auto p = Perm::R | Perm::X;
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  auto mixed = Perm::R | Color::RED;
  (void)mixed;
#endif
  return p;
}
