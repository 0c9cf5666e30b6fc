// Must not compile: | between members of an Enum that is not a Flag.
// expect: operator\||invalid operands
#include <batteries/enum.hpp>

BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);
BATTERIES_FLAG(Perm, unsigned, R, W, X);

auto check() {
  auto p = Perm::R | Perm::W;  // Flag: fine
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  auto c = Color::RED | Color::GREEN;
  (void)c;
#endif
  return p;
}
