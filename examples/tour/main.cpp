// Runs every section of the tour, or the ones named on the command line.
#include <batteries/errors.hpp>
#include <batteries/version.hpp>

#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "tour.hpp"

int main(int argc, char** argv) {
  const std::map<std::string, std::function<void()>> sections = {
      {"errors", tour::errors},
      {"asyncio", tour::asyncio},
      {"enum", tour::enum_},
      {"networking", tour::networking},
      {"pathlib", tour::pathlib},
      {"selectors", tour::selectors},
      {"statistics", tour::statistics},
      {"tracemalloc", tour::tracemalloc},
  };
  fmt::print("batteries {}: a tour of Python's batteries in C++20\n", batteries::version);
  try {
    if (argc == 1) {
      for (const auto& [name, run] : sections) run();
    }
    for (int i = 1; i < argc; ++i) {
      const auto it = sections.find(argv[i]);
      if (it == sections.end()) {
        fmt::print(stderr, "tour: no section named {}\n", argv[i]);
        return 2;
      }
      it->second();
    }
  } catch (const batteries::BaseException& e) {
    fmt::print(stderr, "tour failed: {}: {}\n", e.type_name(), e.what());
    return 1;
  }
  return 0;
}
