// Runs CPython as an oracle: differential tests compare batteries' output with Python's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs.hpp"

namespace batteries::testing {

/// The path of the reference interpreter: $BATTERIES_PYTHON, else `python3` on PATH.
std::string python_executable();

/// Runs `python3 -c script` and returns its standard output, or nullopt when no Python is
/// available (the caller then skips). A script that fails is a test failure, reported with
/// its standard error.
std::optional<std::string> run_python(const std::string& script);

/// An interpreter of Python 3.minor: python_executable() when it is one, else python3.minor
/// on PATH, else one that pyenv installed; nullopt when there is none.
std::optional<std::string> find_python(int minor);

/// Points python_executable() at another interpreter for the life of the object.
class ScopedPython : public ScopedEnv {
 public:
  explicit ScopedPython(const std::string& executable)
      : ScopedEnv("BATTERIES_PYTHON", executable) {}
};

/// Bytes as lowercase hex (how tests pass any bytes to Python: bytes.fromhex), and back;
/// nullopt for text that is not hex.
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

/// Text cut at every sep, empty pieces kept (Python's str.split(sep)), for reading a script's
/// output.
std::vector<std::string> split(std::string_view text, char sep);

/// Bytes for a failure message: printable ASCII as it is, '\\' doubled, the rest as \xNN.
std::string printable(std::string_view bytes);

}  // namespace batteries::testing
