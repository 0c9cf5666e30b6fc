// `batteries`: parses the command line with CLI11 and dispatches to the subcommands.
#include <batteries/errors.hpp>
#include <batteries/version.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) try {
  CLI::App app{"batteries: Python 3.4's standard-library additions, in C++20.", "batteries"};
  app.set_version_flag("--version", fmt::format("batteries {}", batteries::version),
                       "Print the version and exit");
  app.require_subcommand(0, 1);

  std::vector<std::pair<CLI::App*, batteries::cli::Run>> commands;
  auto add = [&](batteries::cli::Run (*add_command)(CLI::App&)) {
    batteries::cli::Run run = add_command(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(run));
  };
  add(&batteries::cli::add_info);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; usage errors exit 2, as argparse and pip do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    for (auto& [command, run] : commands) {
      if (command->parsed()) {
        return run();
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
