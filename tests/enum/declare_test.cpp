// Tests of declared enums (BATTERIES_ENUM): auto values, aliases, order, kinds, far values.
#include <gtest/gtest.h>

#include <batteries/enum.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "raises.hpp"

namespace e = batteries::enums;
using batteries::KeyError;
using batteries::ValueError;

namespace decl {
// Python: class Color(Enum): RED = auto(); GREEN = auto(); BLUE = auto()
BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);
// The docs' Shape, with an alias.
BATTERIES_ENUM(Shape, int, (SQUARE, 2), (DIAMOND, 1), (CIRCLE, 3), (ALIAS_FOR_SQUARE, 2));
// auto() after explicit values: the largest so far plus one (Python 3.11 and 3.13 agree).
BATTERIES_ENUM(Mixed, int, (A, 5), (B, 1), C, (D, -7), E);
// Flags: auto() is the next power of two above every value so far.
BATTERIES_FLAG(Perm, unsigned, (R, 4), (W, 2), (X, 1));
BATTERIES_FLAG(Auto, std::uint8_t, A, B, C, (D, 16), E);
BATTERIES_INT_FLAG(Mode, unsigned, (R, 4), (W, 2), (X, 1), (RWX, R | W | X));
BATTERIES_INT_ENUM(Number, int, ONE, TWO, THREE);
// Values far outside any reflection range, and a 64-bit flag.
BATTERIES_ENUM(Big, long long, (SMALL, -5000000000LL), (HUGE_, 9000000000000000000LL),
               NEXT_TO_SMALL);
BATTERIES_FLAG(Wide, std::uint64_t, (LOW, 1), (HIGH, 1ULL << 63));
// The seed's example for the tour.
BATTERIES_ENUM(Status, int, (PENDING, 0), RUNNING, FAILED, DONE);
}  // namespace decl

using namespace decl;

TEST(Declared, AutoValuesStartAtOneAndCountUp) {
  EXPECT_EQ(e::value(Color::RED), 1);
  EXPECT_EQ(e::value(Color::GREEN), 2);
  EXPECT_EQ(e::value(Color::BLUE), 3);
}

TEST(Declared, AutoValueAfterExplicitValuesIsMaxPlusOne) {
  EXPECT_EQ(e::value(Mixed::C), 6);  // max(5, 1) + 1
  EXPECT_EQ(e::value(Mixed::E), 7);  // max(5, 1, 6, -7) + 1
}

TEST(Declared, FlagAutoValuesArePowersOfTwo) {
  EXPECT_EQ(e::value(Auto::A), 1);
  EXPECT_EQ(e::value(Auto::B), 2);
  EXPECT_EQ(e::value(Auto::C), 4);
  EXPECT_EQ(e::value(Auto::E), 32);  // after D = 16
}

TEST(Declared, ExplicitValuesMayUseEarlierMembers) {
  EXPECT_EQ(e::value(Mode::RWX), 7u);
  EXPECT_EQ(e::name(Mode::RWX), "RWX");
}

TEST(Declared, IsARealEnumClassUsableInSwitch) {
  static_assert(std::is_enum_v<Color>);
  static_assert(!std::is_convertible_v<Color, int>);
  auto describe = [](Color c) {
    switch (c) {
      case Color::RED:
        return 'r';
      case Color::GREEN:
        return 'g';
      case Color::BLUE:
        return 'b';
    }
    return '?';
  };
  EXPECT_EQ(describe(Color::GREEN), 'g');
}

TEST(Declared, MembersInDefinitionOrderWithoutAliases) {
  const auto& m = e::members<Shape>();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], Shape::SQUARE);
  EXPECT_EQ(m[1], Shape::DIAMOND);
  EXPECT_EQ(m[2], Shape::CIRCLE);
  EXPECT_EQ(e::count<Shape>(), 3u);
}

TEST(Declared, MembersWithAliasesIsPythonsDunderMembers) {
  std::vector<std::string> names;
  for (const auto& [name, member] : e::members_with_aliases<Shape>()) {
    names.emplace_back(name);
    EXPECT_EQ(e::from_name<Shape>(name), member);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"SQUARE", "DIAMOND", "CIRCLE", "ALIAS_FOR_SQUARE"}));
}

TEST(Declared, AliasesResolveToTheFirstName) {
  EXPECT_EQ(Shape::ALIAS_FOR_SQUARE, Shape::SQUARE);
  EXPECT_EQ(e::name(Shape::ALIAS_FOR_SQUARE), "SQUARE");
  EXPECT_EQ(e::from_name<Shape>("ALIAS_FOR_SQUARE"), Shape::SQUARE);
  EXPECT_EQ(e::from_value<Shape>(2), Shape::SQUARE);
  EXPECT_EQ(e::repr(Shape::ALIAS_FOR_SQUARE), "<Shape.SQUARE: 2>");
}

TEST(Declared, ValuesFarOutsideAnyRange) {
  EXPECT_EQ(e::name(Big::SMALL), "SMALL");
  EXPECT_EQ(e::name(Big::HUGE_), "HUGE_");
  EXPECT_EQ(e::value(Big::NEXT_TO_SMALL), 9000000000000000001LL);
  EXPECT_EQ(e::from_value<Big>(-5000000000LL), Big::SMALL);
  EXPECT_RAISES_MSG((void)e::from_value<Big>(0), ValueError, "0 is not a valid Big");
  EXPECT_EQ(e::repr(Wide::HIGH), "<Wide.HIGH: 9223372036854775808>");
  EXPECT_EQ(e::repr(Wide::HIGH | Wide::LOW), "<Wide.LOW|HIGH: 9223372036854775809>");
}

TEST(Declared, Kinds) {
  static_assert(e::kind<Color>() == e::Kind::Enum);
  static_assert(e::kind<Number>() == e::Kind::IntEnum);
  static_assert(e::kind<Perm>() == e::Kind::Flag);
  static_assert(e::kind<Mode>() == e::Kind::IntFlag);
  static_assert(e::boundary<Perm>() == e::STRICT);
  static_assert(e::boundary<Mode>() == e::KEEP);
}

TEST(Declared, TheTablesAreConstexpr) {
  static_assert(e::name(Color::BLUE) == "BLUE");
  static_assert(e::from_name<Color>("GREEN") == Color::GREEN);
  static_assert(e::from_value<Color>(3) == Color::BLUE);
  static_assert(e::members<Color>().size() == 3);
  static_assert(!e::try_from_name<Color>("blue"));
  SUCCEED();
}

TEST(Declared, UniqueHoldsWithoutAliases) {
  static_assert(e::unique<Color>());
  static_assert(e::unique<Perm>());
  SUCCEED();
}

TEST(Declared, SeedStatusExample) {
  EXPECT_EQ(e::str(Status::RUNNING), "Status.RUNNING");
  EXPECT_EQ(e::name(Status::RUNNING), "RUNNING");
  EXPECT_EQ(e::value(Status::RUNNING), 1);
  EXPECT_EQ(e::value(Status::DONE), 3);
}
