// The subcommands of `batteries`: each module's command adds itself to the app here.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace batteries::cli {

/// What a subcommand registers: the code run when it was chosen. It returns the exit status.
using Run = std::function<int()>;

/// `batteries info`: the version, the compiler and the backends this build has.
Run add_info(CLI::App& app);

}  // namespace batteries::cli
