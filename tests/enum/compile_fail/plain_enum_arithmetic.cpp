// Must not compile: arithmetic on a plain Enum (Python raises TypeError at run time).
// expect: operator\+|invalid operands
#include <batteries/enum.hpp>

BATTERIES_ENUM(Status, int, (PENDING, 0), RUNNING, FAILED, DONE);
BATTERIES_INT_ENUM(Number, int, ONE, TWO);

int check() {
  int n = Number::ONE + 1;  // IntEnum: fine
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  n += Status::RUNNING + 1;
#endif
  return n;
}
