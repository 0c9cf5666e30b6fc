// Must not compile: a plain Enum does not compare with integers (only IntEnum does).
// expect: operator==|invalid operands
#include <batteries/enum.hpp>

BATTERIES_ENUM(Status, int, (PENDING, 0), RUNNING, FAILED, DONE);
BATTERIES_INT_ENUM(Number, int, ONE, TWO);

bool check() {
  bool ok = Number::ONE == 1;  // IntEnum: fine
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  ok = ok && Status::RUNNING == 1;
#endif
  return ok;
}
