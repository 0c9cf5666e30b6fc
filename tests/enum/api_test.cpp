// Tests of the shared API on Python's documented Enum and IntEnum examples.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <batteries/enum.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "raises.hpp"

namespace e = batteries::enums;
using batteries::KeyError;
using batteries::LookupError;
using batteries::ValueError;

namespace api {
BATTERIES_ENUM(Color, int, RED, GREEN, BLUE);
BATTERIES_INT_ENUM(Number, int, ONE, TWO, THREE);
BATTERIES_INT_ENUM(Shape, int, (CIRCLE, 1), (SQUARE, 2));

// Python's _missing_ hook: look a value up some other way before failing.
BATTERIES_ENUM(Level, int, (LOW, 1), (HIGH, 10));
std::optional<Level> batteries_enum_missing(Level, long long v) {
  if (v > 10) return Level::HIGH;
  if (v >= 0 && v < 1) return Level::LOW;
  return std::nullopt;
}

enum class Plain { A = 1, B = 2 };  // reflected, no opt-in: no operator<< and no fmt
}  // namespace api

using namespace api;

TEST(Api, NameAndValue) {
  EXPECT_EQ(e::name(Color::RED), "RED");
  EXPECT_EQ(e::value(Color::RED), 1);
  static_assert(std::is_same_v<decltype(e::value(Color::RED)), int>);
}

TEST(Api, StrAndReprInPython311Formats) {
  EXPECT_EQ(e::str(Color::RED), "Color.RED");
  EXPECT_EQ(e::repr(Color::RED), "<Color.RED: 1>");
  // IntEnum's str() is the integer's since 3.11; repr() stays.
  EXPECT_EQ(e::str(Number::ONE), "1");
  EXPECT_EQ(e::repr(Number::ONE), "<Number.ONE: 1>");
}

TEST(Api, StreamAndFmtPrintStr) {
  std::ostringstream os;
  os << Color::GREEN << ' ' << Number::TWO;
  EXPECT_EQ(os.str(), "Color.GREEN 2");
  EXPECT_EQ(fmt::format("{}", Color::BLUE), "Color.BLUE");
  EXPECT_EQ(fmt::format("[{:>12}]", Color::BLUE), "[  Color.BLUE]");
  EXPECT_EQ(fmt::format("{:03d}", Number::THREE), "003");  // format(IntEnum, "03d")
}

TEST(Api, FromNameIsPythonsSubscript) {
  EXPECT_EQ(e::from_name<Color>("GREEN"), Color::GREEN);
  EXPECT_EQ(e::try_from_name<Color>("GREEN"), Color::GREEN);
  EXPECT_EQ(e::try_from_name<Color>("PURPLE"), std::nullopt);
  // Color['PURPLE'] raises KeyError('PURPLE'), whose str() is the repr of the key.
  EXPECT_RAISES_MSG((void)e::from_name<Color>("PURPLE"), KeyError, "'PURPLE'");
  EXPECT_RAISES((void)e::from_name<Color>("PURPLE"), LookupError);
  EXPECT_RAISES((void)e::from_name<Color>("red"), KeyError);  // case-sensitive
  EXPECT_RAISES((void)e::from_name<Color>(""), KeyError);
  EXPECT_RAISES((void)e::from_name<Color>("RED "), KeyError);
  EXPECT_RAISES_MSG((void)e::from_name<Color>("it's"), KeyError, "\"it's\"");
  EXPECT_RAISES((void)e::from_name<Color>(std::string_view("RED\0", 4)), KeyError);
}

TEST(Api, FromValueIsPythonsCall) {
  EXPECT_EQ(e::from_value<Color>(3), Color::BLUE);
  EXPECT_EQ(e::from_value<Color>(3L), Color::BLUE);
  EXPECT_EQ(e::from_value<Color>(3ULL), Color::BLUE);
  EXPECT_RAISES_MSG((void)e::from_value<Color>(4), ValueError, "4 is not a valid Color");
  EXPECT_RAISES_MSG((void)e::from_value<Color>(0), ValueError, "0 is not a valid Color");
  EXPECT_RAISES_MSG((void)e::from_value<Color>(-1), ValueError, "-1 is not a valid Color");
  // Values that do not fit the underlying type are not members either, and do not wrap.
  EXPECT_RAISES_MSG((void)e::from_value<Color>(4294967297LL), ValueError,
                    "4294967297 is not a valid Color");
  EXPECT_RAISES_MSG((void)e::from_value<Color>(18446744073709551615ULL), ValueError,
                    "18446744073709551615 is not a valid Color");
  EXPECT_EQ(e::try_from_value<Color>(2), Color::GREEN);
  EXPECT_EQ(e::try_from_value<Color>(7), std::nullopt);
  EXPECT_EQ(e::try_from_value<Color>(4294967297LL), std::nullopt);
}

TEST(Api, MissingHookIsAskedAboutUnknownValues) {
  EXPECT_EQ(e::from_value<Level>(10), Level::HIGH);
  EXPECT_EQ(e::from_value<Level>(500), Level::HIGH);
  EXPECT_EQ(e::from_value<Level>(0), Level::LOW);
  EXPECT_EQ(e::try_from_value<Level>(99), Level::HIGH);
  EXPECT_RAISES_MSG((void)e::from_value<Level>(5), ValueError, "5 is not a valid Level");
  EXPECT_EQ(e::try_from_value<Level>(-3), std::nullopt);
}

TEST(Api, NameOfAValueNoMemberHas) {
  const auto bogus = static_cast<Color>(42);
  EXPECT_RAISES_MSG((void)e::name(bogus), ValueError, "42 is not a valid Color");
  EXPECT_EQ(e::try_name(bogus), std::nullopt);
  EXPECT_EQ(e::try_name(Color::RED), "RED");
  // Printing never throws: it shows what is there.
  EXPECT_EQ(e::str(bogus), "Color(42)");
  EXPECT_EQ(e::repr(bogus), "<Color: 42>");
  EXPECT_FALSE(e::contains(bogus));
}

TEST(Api, Contains) {
  EXPECT_TRUE(e::contains(Color::RED));
  EXPECT_TRUE(e::contains<Color>(2));
  EXPECT_FALSE(e::contains<Color>(4));
  EXPECT_FALSE(e::contains<Color>(-4294967295LL));
}

TEST(Api, Iteration) {
  std::string seen;
  for (Color c : e::members<Color>()) seen += std::string(e::name(c)) + ",";
  EXPECT_EQ(seen, "RED,GREEN,BLUE,");
  EXPECT_EQ(e::count<Color>(), 3u);
}

TEST(Api, IntEnumComparesAndComputesWithIntegers) {
  using namespace e::operators;
  // The docs: Shape.CIRCLE == 1, Number.ONE + 1 == 2, Shape.CIRCLE == Request.POST, ...
  EXPECT_TRUE(Shape::CIRCLE == 1);
  EXPECT_TRUE(1 == Shape::CIRCLE);
  EXPECT_TRUE(Shape::SQUARE != 1);
  EXPECT_TRUE(Number::ONE < 2);
  EXPECT_TRUE(3 > Number::TWO);
  EXPECT_EQ(Number::ONE + 1, 2);
  EXPECT_EQ(Number::THREE - Number::ONE, 2);
  EXPECT_EQ(Number::TWO * 10, 20);
  EXPECT_EQ(+Number::THREE, 3);
  EXPECT_EQ(-Number::THREE, -3);
  EXPECT_EQ(Number::ONE | 2, 3);
  EXPECT_EQ(Number::THREE & Number::TWO, 2);
  EXPECT_TRUE(Number::ONE == 1u);
  EXPECT_FALSE(Number::ONE == -4294967295LL);  // no wrap-around in mixed comparisons
  int as_int = +Number::TWO;
  EXPECT_EQ(as_int, 2);
}

TEST(Api, PlainEnumsPrintThroughStr) {
  EXPECT_EQ(e::str(Plain::B), "Plain.B");
  static_assert(!e::Managed<Plain>);
  static_assert(e::Managed<Color>);
}

namespace api {
// Names that agree in length and in their first and last eight bytes: the fast hash
// collides on all of them, so the table must fall back to hashing every byte.
BATTERIES_ENUM(Collide, int, CONNECTION_STATE_00_IS_NOW_SET, CONNECTION_STATE_01_IS_NOW_SET,
               CONNECTION_STATE_02_IS_NOW_SET, CONNECTION_STATE_03_IS_NOW_SET,
               CONNECTION_STATE_04_IS_NOW_SET, CONNECTION_STATE_05_IS_NOW_SET,
               CONNECTION_STATE_06_IS_NOW_SET, CONNECTION_STATE_07_IS_NOW_SET,
               CONNECTION_STATE_08_IS_NOW_SET, CONNECTION_STATE_09_IS_NOW_SET);
}  // namespace api

TEST(Api, NamesThatDifferOnlyInTheMiddle) {
  static_assert(e::detail::Meta<Collide>::hash_mode == 1);
  for (const auto& [n, member] : e::members_with_aliases<Collide>()) {
    EXPECT_EQ(e::from_name<Collide>(n), member);
    std::string wrong(n);
    wrong[17] = 'X';
    EXPECT_EQ(e::try_from_name<Collide>(wrong), std::nullopt);
  }
}

TEST(Api, FromNameAgreesWithAMapOnRandomStrings) {
  // Every name, every prefix and extension of a name, and random strings: only names hit.
  std::mt19937 rng(1234);
  const std::string alphabet = "ABCDEGHILNORTU_ \0x";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const auto& names = e::members_with_aliases<Color>();
    const auto& base = names[rng() % names.size()].name;
    switch (rng() % 3) {
      case 0:
        s = std::string(base.substr(0, rng() % (base.size() + 1)));
        break;
      case 1:
        s = std::string(base) + alphabet[rng() % alphabet.size()];
        break;
      default:
        for (std::size_t k = rng() % 12; k > 0; --k) s += alphabet[rng() % alphabet.size()];
    }
    const bool is_name = s == "RED" || s == "GREEN" || s == "BLUE";
    EXPECT_EQ(e::try_from_name<Color>(s).has_value(), is_name) << s;
  }
}
