// Must not compile: unique<E>() on an enum with an alias, Python's @unique at compile time.
// expect: has aliases
#include <batteries/enum.hpp>

BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);
BATTERIES_ENUM(Shape, int, (SQUARE, 2), (DIAMOND, 1), (CIRCLE, 3), (ALIAS_FOR_SQUARE, 2));

static_assert(batteries::enums::unique<Color>());
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
static_assert(batteries::enums::unique<Shape>());
#endif
