// `batteries`: parses the command line with CLI11 and dispatches to the subcommands.
#include <batteries/errors.hpp>
#include <batteries/version.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) try {
  CLI::App app{"batteries: Python 3.4's standard-library additions, in C++20.", "batteries"};
  app.set_version_flag("--version", fmt::format("batteries {}", batteries::version),
                       "Print the version and exit");
  app.require_subcommand(0, 1);

  const std::vector<batteries::cli::Command> commands = {
      batteries::cli::add_info(app),
      batteries::cli::add_tracemalloc(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; usage errors exit 2, as argparse and pip do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    for (const auto& command : commands) {
      if (command.app->parsed()) {
        return command.run();
      }
    }
    // No subcommand: show what there is, as pip does.
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const batteries::BaseException& e) {
    fmt::print(stderr, "batteries: error: {}: {}\n", e.type_name(), e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "batteries: error: {}\n", e.what());
  }
  return 1;
} catch (const std::exception& e) {
  // Only setting up the parser can get here (say, out of memory).
  std::fprintf(stderr, "batteries: error: %s\n", e.what());
  return 1;
}
