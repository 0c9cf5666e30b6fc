// The subcommands of `batteries`: each module's command adds itself to the app here.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace batteries::cli {

/// What a subcommand registers: its CLI11 subcommand, and the code run when it was chosen,
/// which returns the exit status.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

/// `batteries info`: the version, the compiler and the backends this build has.
Command add_info(CLI::App& app);

/// `batteries tracemalloc`: runs a program with the tracemalloc agent preloaded, and
/// `batteries tracemalloc show` prints a snapshot's top allocation sites.
Command add_tracemalloc(CLI::App& app);

}  // namespace batteries::cli
