// Tour section: Python's enum for C++ enumerations, declared and reflected, Enum and Flag.
#include <batteries/enum.hpp>

#include "tour.hpp"

namespace enums = batteries::enums;

namespace tour_enum {
// class Status(Enum): PENDING = 0; RUNNING = auto(); FAILED = auto(); DONE = auto()
BATTERIES_ENUM(Status, int, (PENDING, 0), RUNNING, FAILED, DONE);
// class Perm(Flag): R = 4; W = 2; X = 1
BATTERIES_FLAG(Perm, unsigned, (R, 4), (W, 2), (X, 1));
// Any existing enum works too, with no macro: names come from compile-time reflection.
enum class Weekday { MONDAY = 1, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY };
}  // namespace tour_enum

void tour::enum_() {
  using namespace tour_enum;
  heading("enum: names, values, iteration and flags for C++ enums");
  // print(Status.RUNNING, repr(Status.RUNNING), Status.RUNNING.name, Status.RUNNING.value)
  fmt::print("{} {} name={} value={}\n", Status::RUNNING, enums::repr(Status::RUNNING),
             enums::name(Status::RUNNING), enums::value(Status::RUNNING));
  // Status.RUNNING == 1 does not compile: a plain Enum is not an int (IntEnum is).
  fmt::print("Status['DONE'] -> {}, Status(2) -> {}\n", enums::from_name<Status>("DONE"),
             enums::from_value<Status>(2));
  fmt::print("list(Status) ->");
  for (const Status s : enums::members<Status>()) fmt::print(" {}", enums::name(s));
  fmt::print("\n");
  try {
    (void)enums::from_value<Status>(7);
  } catch (const batteries::ValueError& e) {
    fmt::print("Status(7) raises ValueError: {}\n", e.what());
  }
  try {
    (void)enums::from_name<Status>("PAUSED");
  } catch (const batteries::KeyError& e) {
    fmt::print("Status['PAUSED'] raises KeyError: {}\n", e.what());
  }

  // Flags: composite values get Python 3.11's names.
  const Perm rw = Perm::R | Perm::W;
  fmt::print("Perm.R | Perm.W -> {}   ~Perm.R -> {}   Perm(0) -> {}\n", enums::repr(rw),
             enums::repr(~Perm::R), enums::repr(Perm{}));
  fmt::print("list(Perm.R | Perm.X) ->");
  for (const Perm p : enums::members(Perm::R | Perm::X)) fmt::print(" {}", p);
  fmt::print("   len -> {}   Perm.W in rw -> {}\n", enums::count(rw), enums::contains(rw, Perm::W));
  try {
    (void)enums::from_value<Perm>(8);
  } catch (const batteries::ValueError& e) {
    fmt::print("Perm(8) raises ValueError: {}\n", e.what());
  }

  // Reflection: an ordinary enum class, no macro.
  fmt::print("reflected: {} has {} members, from_name('FRIDAY') -> {}\n",
             enums::type_name<Weekday>(), enums::count<Weekday>(),
             enums::repr(enums::from_name<Weekday>("FRIDAY")));
}
