// Must not compile: from_value takes integers only; names go through from_name.
// expect: from_value
#include <batteries/enum.hpp>

BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);

Color check() {
  Color c = batteries::enums::from_name<Color>("RED");
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
  c = batteries::enums::from_value<Color>("RED");
#endif
  return c;
}
