// Must not compile: an auto() value that does not fit the underlying type.
// expect: auto_value_overflows_the_underlying_type
#include <batteries/enum.hpp>

#include <cstdint>

BATTERIES_ENUM(Fits, std::uint8_t, (A, 254), B);
#ifdef BATTERIES_EXPECT_COMPILE_ERROR
BATTERIES_ENUM(Overflows, std::uint8_t, (A, 255), B);
#endif
