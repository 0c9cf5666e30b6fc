// Tests of Flag and IntFlag on Python 3.11's documented examples: names, iteration, boundaries.
#include <gtest/gtest.h>

#include <batteries/enum.hpp>
#include <ranges>
#include <string>
#include <vector>

#include "raises.hpp"

namespace e = batteries::enums;
using batteries::ValueError;

namespace fl {
// class Perm(IntFlag): R = 4; W = 2; X = 1
BATTERIES_INT_FLAG(Perm, unsigned, (R, 4), (W, 2), (X, 1));
// class Color(Flag): RED = auto(); BLUE = auto(); GREEN = auto()
BATTERIES_FLAG(Color, unsigned, RED, BLUE, GREEN);
// The docs' Color with BLACK = 0 and the multi-bit WHITE.
BATTERIES_FLAG(Shade, unsigned, (BLACK, 0), (RED, 1), (GREEN, 2), (BLUE, 4),
               (WHITE, RED | GREEN | BLUE));
// The boundary examples of the docs (STRICT, CONFORM, EJECT, KEEP).
BATTERIES_FLAG(StrictFlag, unsigned, RED, GREEN, BLUE);
BATTERIES_FLAG(ConformFlag, unsigned, RED, GREEN, BLUE);
BATTERIES_ENUM_OPTIONS(ConformFlag, .boundary = CONFORM);
BATTERIES_FLAG(EjectFlag, unsigned, RED, GREEN, BLUE);
BATTERIES_ENUM_OPTIONS(EjectFlag, .boundary = EJECT);
BATTERIES_FLAG(KeepFlag, unsigned, RED, GREEN, BLUE);
BATTERIES_ENUM_OPTIONS(KeepFlag, .boundary = KEEP);
// A multi-bit member alongside its parts, and a value with a gap in its bits.
BATTERIES_FLAG(Weird, unsigned, (A, 1), (B, 2), (AB, 3), (C, 8));
}  // namespace fl

using namespace fl;

template <class E>
std::vector<std::string> names_of(E value) {
  std::vector<std::string> out;
  for (E m : e::members(value)) out.emplace_back(e::name(m).value_or("None"));
  return out;
}

TEST(Flag, CompositeNamesAndRepr) {
  EXPECT_EQ(e::repr(Perm::R | Perm::W), "<Perm.R|W: 6>");
  EXPECT_EQ(e::str(Perm::R | Perm::W), "6");  // IntFlag's str() is the integer's
  EXPECT_EQ(e::name(Perm::R | Perm::W), "R|W");
  EXPECT_EQ(e::repr(Color::RED | Color::GREEN), "<Color.RED|GREEN: 5>");
  EXPECT_EQ(e::str(Color::RED | Color::GREEN), "Color.RED|GREEN");
  EXPECT_EQ(e::repr(Perm::R | Perm::W | Perm::X), "<Perm.R|W|X: 7>");
}

TEST(Flag, ZeroWithoutAMemberHasNoName) {
  EXPECT_EQ(e::name(Perm{}), std::nullopt);
  EXPECT_EQ(e::repr(Perm{}), "<Perm: 0>");
  EXPECT_EQ(e::str(Perm{}), "0");
  EXPECT_EQ(e::repr(Color{}), "<Color: 0>");
  EXPECT_EQ(e::str(Color{}), "Color(0)");
  EXPECT_FALSE(e::bool_(Color{}));
  using namespace e::operators;
  EXPECT_TRUE(!Color{});
  EXPECT_FALSE(!Color::RED);
}

TEST(Flag, NamedZeroAndMultiBitMembers) {
  EXPECT_EQ(e::repr(Shade::BLACK), "<Shade.BLACK: 0>");
  EXPECT_EQ(e::repr(Shade::RED | Shade::GREEN | Shade::BLUE), "<Shade.WHITE: 7>");
  EXPECT_EQ(e::repr(Shade::RED | Shade::GREEN), "<Shade.RED|GREEN: 3>");
  // Iteration and len() skip zero and multi-bit members.
  EXPECT_EQ(e::count<Shade>(), 3u);
  ASSERT_EQ(e::members<Shade>().size(), 3u);
  EXPECT_EQ(e::members<Shade>()[0], Shade::RED);
  EXPECT_EQ(e::members_with_aliases<Shade>().size(), 5u);
  EXPECT_EQ(names_of(Shade::WHITE), (std::vector<std::string>{"RED", "GREEN", "BLUE"}));
}

TEST(Flag, IterationIsDefinitionOrder) {
  EXPECT_EQ(names_of(Perm::R | Perm::X), (std::vector<std::string>{"R", "X"}));
  EXPECT_EQ(names_of(Color::GREEN | Color::RED), (std::vector<std::string>{"RED", "GREEN"}));
  EXPECT_TRUE(names_of(Color{}).empty());
}

TEST(Flag, LenBoolAndMembership) {
  const Perm rx = Perm::R | Perm::X;
  EXPECT_EQ(e::count(rx), 2u);
  EXPECT_TRUE(e::bool_(rx));
  EXPECT_TRUE(e::contains(rx, Perm::R));
  EXPECT_FALSE(e::contains(rx, Perm::W));
  EXPECT_TRUE(e::contains(rx, rx));
  EXPECT_FALSE(e::contains(rx, Perm::R | Perm::W));
}

TEST(Flag, InvertStaysWithinTheDeclaredBits) {
  EXPECT_EQ(e::repr(~Perm::R), "<Perm.W|X: 3>");
  EXPECT_EQ(e::repr(~Color::RED), "<Color.BLUE|GREEN: 6>");
  EXPECT_EQ(e::repr(~(Color::RED | Color::BLUE | Color::GREEN)), "<Color: 0>");
  EXPECT_EQ(e::repr(~Color{}), "<Color.RED|BLUE|GREEN: 7>");
  EXPECT_EQ(e::repr(~Weird::A), "<Weird.B|C: 10>");
}

TEST(Flag, AssignmentOperators) {
  Perm p = Perm::R;
  p |= Perm::W;
  EXPECT_EQ(p, Perm::R | Perm::W);
  p &= Perm::W;
  EXPECT_EQ(p, Perm::W);
  p ^= Perm::X;
  EXPECT_EQ(e::repr(p), "<Perm.W|X: 3>");
}

TEST(Flag, IntFlagMixesWithIntegers) {
  using namespace e::operators;
  EXPECT_EQ(e::repr(Perm::R | 8), "<Perm.R|8: 12>");  // KEEP is IntFlag's default
  EXPECT_EQ(e::repr(8 | Perm::R), "<Perm.R|8: 12>");
  EXPECT_EQ(e::repr(Perm::R & 4), "<Perm.R: 4>");
  EXPECT_EQ(e::repr(Perm::R ^ 6), "<Perm.W: 2>");
  EXPECT_TRUE((Perm::R | Perm::W) == 6);
  EXPECT_EQ(Perm::R + 1, 5u);
}

TEST(Flag, StrictRaisesWithPythonsMessage) {
  EXPECT_RAISES_MSG((void)e::from_value<StrictFlag>(8), ValueError,
                    "<flag 'StrictFlag'> invalid value 8\n    given 0b0 1000\n  allowed 0b0 0111");
  EXPECT_EQ(e::try_from_value<StrictFlag>(8), std::nullopt);
  EXPECT_EQ(e::repr(e::from_value<StrictFlag>(5)), "<StrictFlag.RED|BLUE: 5>");
  // A STRICT flag holding bits it does not define (possible in C++ only) has no name...
  const auto bogus = static_cast<StrictFlag>(9);
  EXPECT_RAISES_MSG((void)e::name(bogus), ValueError, "invalid value 9");
  // ...but it prints without throwing, showing the unknown bits.
  EXPECT_EQ(e::repr(bogus), "<StrictFlag.RED|8: 9>");
}

TEST(Flag, ConformDropsUnknownBits) {
  EXPECT_EQ(e::repr(e::from_value<ConformFlag>(15)), "<ConformFlag.RED|GREEN|BLUE: 7>");
  EXPECT_EQ(e::repr(e::from_value<ConformFlag>(8)), "<ConformFlag: 0>");
  EXPECT_EQ(e::name(static_cast<ConformFlag>(9)), "RED");
}

TEST(Flag, EjectGivesNoMemberForUnknownBits) {
  EXPECT_EQ(e::try_from_value<EjectFlag>(15), std::nullopt);  // Python returns the int 15
  EXPECT_EQ(e::repr(e::from_value<EjectFlag>(3)), "<EjectFlag.RED|GREEN: 3>");
  EXPECT_EQ(e::value(e::from_value<EjectFlag>(15)), 15u);  // the bits survive in C++
}

TEST(Flag, KeepShowsUnknownBitsAsANumber) {
  EXPECT_EQ(e::repr(e::from_value<KeepFlag>(15)), "<KeepFlag.RED|GREEN|BLUE|8: 15>");
  EXPECT_EQ(e::str(e::from_value<KeepFlag>(15)), "KeepFlag.RED|GREEN|BLUE|8");
  EXPECT_EQ(e::repr(e::from_value<KeepFlag>(8)), "<KeepFlag: 8>");
  EXPECT_EQ(e::name(e::from_value<KeepFlag>(8)), std::nullopt);
  EXPECT_EQ(e::repr(e::from_value<Perm>(20)), "<Perm.R|16: 20>");
  // ~ of a KEEP flag works on the whole value, then comes back within the flag's bits.
  EXPECT_EQ(e::repr(~KeepFlag::RED), "<KeepFlag.GREEN|BLUE: 6>");
  EXPECT_EQ(e::repr(~e::from_value<KeepFlag>(9)), "<KeepFlag.GREEN|BLUE: 6>");
}

TEST(Flag, NegativeValuesAreTwosComplementWithinTheFlag) {
  EXPECT_EQ(e::repr(e::from_value<StrictFlag>(-1)), "<StrictFlag.RED|GREEN|BLUE: 7>");
  EXPECT_EQ(e::repr(e::from_value<StrictFlag>(-2)), "<StrictFlag.GREEN|BLUE: 6>");
  EXPECT_RAISES_MSG((void)e::from_value<StrictFlag>(-9), ValueError,
                    "invalid value -9\n    given 0b1 0111\n  allowed 0b0 0111");
}

TEST(Flag, MultiBitMembersInCompositeNames) {
  EXPECT_EQ(e::repr(e::from_value<Weird>(11)), "<Weird.A|B|C: 11>");
  EXPECT_EQ(e::repr(e::from_value<Weird>(3)), "<Weird.AB: 3>");
  EXPECT_EQ(names_of(e::from_value<Weird>(11)), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_RAISES((void)e::from_value<Weird>(4), ValueError);  // bit 2 lies in the gap
}

TEST(Flag, ContainsForFlags) {
  EXPECT_TRUE(e::contains(Perm::R | Perm::W));
  EXPECT_TRUE(e::contains<Perm>(0));
  EXPECT_FALSE(e::contains<Perm>(8));
  EXPECT_FALSE(e::contains<Perm>(-1));
  EXPECT_TRUE(e::contains<Shade>(0));
}

TEST(Flag, MembersOfAValueIsAnInputRange) {
  static_assert(std::ranges::input_range<e::FlagMembers<Perm>>);
  static_assert(std::ranges::forward_range<e::FlagMembers<Perm>>);
  std::vector<Perm> all(std::ranges::begin(e::members(Perm::R | Perm::W | Perm::X)),
                        std::ranges::end(e::members(Perm::R | Perm::W | Perm::X)));
  EXPECT_EQ(all, (std::vector<Perm>{Perm::R, Perm::W, Perm::X}));
}

namespace fl {
// Aliases of a multi-bit member must not repeat it in composite names.
BATTERIES_FLAG(Dup, unsigned, (A, 1), (BC, 6), (CB, 6), (D, 16));
}  // namespace fl

TEST(Flag, AliasOfAMultiBitMemberIsNamedOnce) {
  EXPECT_EQ(e::repr(e::from_value<Dup>(23)), "<Dup.A|D|BC: 23>");
  EXPECT_EQ(e::repr(Dup::CB), "<Dup.BC: 6>");
}
