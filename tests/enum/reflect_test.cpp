// Tests of reflection: any enum, no macro; ranges, signs, nesting, flags over 64 bits.
#include <gtest/gtest.h>

#include <batteries/enum.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "raises.hpp"

namespace e = batteries::enums;
using batteries::KeyError;
using batteries::ValueError;

namespace refl {
enum class Color { RED = 1, GREEN = 2, BLUE = 3 };
enum Unscoped : int { ALPHA = -128, BETA = 0, GAMMA = 255 };
enum class Small : std::uint8_t { LOW = 0, HIGH = 255 };
enum class Signed : signed char { NEG = -100, POS = 100 };
enum class OutOfRange { IN = 10, OUT = 1000 };
enum class Wider { IN = 10, OUT = 1000 };
BATTERIES_ENUM_OPTIONS(Wider, .min = 0, .max = 1000);
enum class Renamed { A = 1 };
BATTERIES_ENUM_OPTIONS(Renamed, .name = "Letters");
enum class Empty {};
enum class WithAlias { FIRST = 1, SECOND = 1, THIRD = 2 };
enum class Bits : std::uint64_t { B0 = 1, B7 = 128, B40 = 1ULL << 40, B63 = 1ULL << 63 };
BATTERIES_ENUM_OPTIONS(Bits, .kind = Kind::Flag);
enum class SignedBits : std::int32_t { A = 1, B = 1 << 30 };
BATTERIES_ENUM_OPTIONS(SignedBits, .kind = Kind::IntFlag);

struct Outer {
  enum class Inner { X = 7, Y = 8 };
  enum class Nested : unsigned { P = 1, Q = 2 };
  BATTERIES_ENUM_OPTIONS_FRIEND(Nested, .kind = Kind::Flag);
};
}  // namespace refl

using namespace refl;

TEST(Reflection, NamesAndValuesOfAnyEnumClass) {
  EXPECT_EQ(e::name(Color::GREEN), "GREEN");
  EXPECT_EQ(e::value(Color::GREEN), 2);
  EXPECT_EQ(e::from_name<Color>("BLUE"), Color::BLUE);
  EXPECT_EQ(e::from_value<Color>(1), Color::RED);
  EXPECT_EQ(e::count<Color>(), 3u);
  EXPECT_EQ(e::type_name<Color>(), "Color");
  EXPECT_EQ(e::repr(Color::RED), "<Color.RED: 1>");
}

TEST(Reflection, UnscopedEnumsAtTheEdgesOfTheDefaultRange) {
  EXPECT_EQ(e::name(ALPHA), "ALPHA");
  EXPECT_EQ(e::name(GAMMA), "GAMMA");
  EXPECT_EQ(e::str(BETA), "Unscoped.BETA");
  ASSERT_EQ(e::members<Unscoped>().size(), 3u);
  EXPECT_EQ(e::members<Unscoped>()[0], ALPHA);  // reflection gives value order
}

TEST(Reflection, RangeIsClampedToTheUnderlyingType) {
  EXPECT_EQ(e::name(Small::HIGH), "HIGH");
  EXPECT_EQ(e::name(Signed::NEG), "NEG");
  EXPECT_EQ(e::from_value<Small>(255), Small::HIGH);
  EXPECT_RAISES_MSG((void)e::from_value<Small>(256), ValueError, "256 is not a valid Small");
  EXPECT_RAISES_MSG((void)e::from_value<Small>(-1), ValueError, "-1 is not a valid Small");
}

TEST(Reflection, ValuesOutsideTheRangeAreInvisible) {
  EXPECT_EQ(e::count<OutOfRange>(), 1u);
  EXPECT_FALSE(e::try_name(OutOfRange::OUT));
  EXPECT_RAISES_MSG((void)e::name(OutOfRange::OUT), ValueError, "1000 is not a valid OutOfRange");
  EXPECT_EQ(e::repr(OutOfRange::OUT), "<OutOfRange: 1000>");
  EXPECT_EQ(e::str(OutOfRange::OUT), "OutOfRange(1000)");
}

TEST(Reflection, RangeIsConfigurablePerEnum) {
  EXPECT_EQ(e::count<Wider>(), 2u);
  EXPECT_EQ(e::name(Wider::OUT), "OUT");
}

TEST(Reflection, PrintedNameCanBeChosen) { EXPECT_EQ(e::repr(Renamed::A), "<Letters.A: 1>"); }

TEST(Reflection, EnumWithoutMembers) {
  EXPECT_EQ(e::count<Empty>(), 0u);
  EXPECT_RAISES_MSG((void)e::name(Empty{}), ValueError, "0 is not a valid Empty");
  EXPECT_RAISES_MSG((void)e::from_name<Empty>("X"), KeyError, "'X'");
  EXPECT_FALSE(e::try_from_value<Empty>(0));
}

TEST(Reflection, AliasesShowAsTheFirstName) {
  // The compiler names a value once, so reflection cannot see the alias SECOND.
  EXPECT_EQ(e::name(WithAlias::SECOND), "FIRST");
  EXPECT_EQ(e::count<WithAlias>(), 2u);
  EXPECT_FALSE(e::try_from_name<WithAlias>("SECOND"));
}

TEST(Reflection, NestedEnumsUseTheirOwnName) {
  EXPECT_EQ(e::repr(Outer::Inner::Y), "<Inner.Y: 8>");
  EXPECT_EQ(e::from_name<Outer::Inner>("X"), Outer::Inner::X);
}

TEST(Reflection, LocalEnum) {
  enum class Local { ONE = 1, TWO = 2 };
  EXPECT_EQ(e::repr(Local::TWO), "<Local.TWO: 2>");
}

TEST(Reflection, FlagsScanAllSixtyFourBits) {
  EXPECT_EQ(e::count<Bits>(), 4u);
  EXPECT_EQ(e::name(Bits::B63), "B63");
  using namespace e::operators;
  EXPECT_EQ(e::repr(Bits::B0 | Bits::B40), "<Bits.B0|B40: 1099511627777>");
  EXPECT_EQ(e::str(~Bits::B0), "Bits.B7|B40|B63");
  std::vector<Bits> seen;
  for (Bits b : e::members(Bits::B63 | Bits::B7)) seen.push_back(b);
  EXPECT_EQ(seen, (std::vector<Bits>{Bits::B7, Bits::B63}));
}

TEST(Reflection, SignedFlagType) {
  EXPECT_EQ(e::repr(SignedBits::A | SignedBits::B), "<SignedBits.A|B: 1073741825>");
  EXPECT_EQ(e::repr(SignedBits::A | 4), "<SignedBits.A|4: 5>");  // IntFlag keeps unknown bits
}

TEST(Reflection, FlagOptionsForAnEnumInsideAClass) {
  using namespace e::operators;
  EXPECT_EQ(e::repr(Outer::Nested::P | Outer::Nested::Q), "<Nested.P|Q: 3>");
  EXPECT_RAISES((void)e::from_value<Outer::Nested>(4), ValueError);
}

namespace refl {
enum class Answer : bool { NO = false, YES = true };
enum class Letter : char { A = 'a', Z = 'z' };
}  // namespace refl

TEST(Reflection, BoolAndCharUnderlyingTypes) {
  EXPECT_EQ(e::name(Answer::YES), "YES");
  EXPECT_EQ(e::from_value<Answer>(0), Answer::NO);
  EXPECT_RAISES_MSG((void)e::from_value<Answer>(2), ValueError, "2 is not a valid Answer");
  EXPECT_EQ(e::repr(Letter::Z), "<Letter.Z: 122>");  // the value is a number, as in Python
  EXPECT_EQ(e::from_value<Letter>('a'), Letter::A);
}
