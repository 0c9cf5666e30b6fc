// batteries::enums: Python 3.11's enum module for C++ enumerations.
//
// Two ways in, one API. Any enum or enum class works with no macro: names come from
// compile-time reflection over a configurable range (default [-128, 255]; flags scan all
// bit positions). BATTERIES_ENUM declares an enum class that also keeps declaration order,
// aliases, Python's auto() values and values far outside any range. Then:
//
//     enums::name(Color::RED)            -> "RED"           enums::value(Color::RED) -> 1
//     enums::from_name<Color>("RED")     -> Color::RED      (KeyError otherwise)
//     enums::from_value<Color>(1)        -> Color::RED      (ValueError otherwise)
//     enums::members<Color>()            -> {RED, GREEN, BLUE}
//     enums::str(Color::RED)             -> "Color.RED"     enums::repr(...) -> "<Color.RED: 1>"
//
// Everything is built at compile time into constexpr tables: thread-safe, no initialisation
// order issues, no allocation except for the strings str(), repr() and flag names return.
// docs/enum.md maps every Python name to its C++ spelling and states what reflection can't do.
#pragma once

#include "batteries/enum/core.hpp"
#include "batteries/enum/declare.hpp"
#include "batteries/enum/format.hpp"
#include "batteries/enum/operators.hpp"
#include "batteries/enum/options.hpp"
