// The tour: one section per batteries module, each showing Python's documented examples
// ported to C++ with the output they print.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace tour {

inline void heading(std::string_view title) { fmt::print("\n== {} ==\n", title); }

void asyncio();
void errors();
void enum_();  // `enum` is a C++ keyword
void networking();
void pathlib();
void selectors();
void statistics();
void tracemalloc();

}  // namespace tour
