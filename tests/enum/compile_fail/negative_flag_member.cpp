// Must not compile: a flag member with a negative value (Python's flags are bit sets).
// expect: flag_members_must_not_be_negative
#include <batteries/enum.hpp>

BATTERIES_FLAG(Fine, int, (A, 1), (B, 2));
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
BATTERIES_FLAG(Negative, int, (A, 1), (B, -2));
#endif

auto check() { return batteries::enums::name(Fine::A); }
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
auto check_negative() { return batteries::enums::name(Negative::A); }
#endif
