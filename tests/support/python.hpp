// Runs CPython as an oracle: differential tests compare batteries' output with Python's.
#pragma once

#include <optional>
#include <string>

namespace batteries::testing {

/// The path of the reference interpreter: $BATTERIES_PYTHON, else `python3` on PATH.
std::string python_executable();

/// Runs `python3 -c script` and returns its standard output, or nullopt when no Python is
/// available (the caller then skips). A script that fails is a test failure, reported with
/// its standard error.
std::optional<std::string> run_python(const std::string& script);

}  // namespace batteries::testing
