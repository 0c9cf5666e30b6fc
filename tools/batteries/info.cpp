// `batteries info`: what this build of batteries is and what it can use on this machine.
#include <batteries/selectors.hpp>
#include <batteries/version.hpp>

#include <fmt/format.h>

#include <string>
#include <type_traits>

#include "commands.hpp"

namespace batteries::cli {

namespace {

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

std::string default_selector() {
  using selectors::DefaultSelector;
#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
  if (std::is_same_v<DefaultSelector, selectors::EpollSelector>) {
    return "epoll";
  }
#endif
#if defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
  if (std::is_same_v<DefaultSelector, selectors::KqueueSelector>) {
    return "kqueue";
  }
#endif
  return "poll";
}

}  // namespace

Command add_info(CLI::App& app) {
  CLI::App* info =
      app.add_subcommand("info", "Show the version, the compiler and the available backends");
  return {info, [] {
            fmt::print("batteries {}\n", version);
            fmt::print("compiler: {}, C++ {}\n", compiler(), __cplusplus);
            std::string available;
#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
            available += "epoll ";
#endif
#if defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
            available += "kqueue ";
#endif
            available += "poll select";
            fmt::print("selectors: {} (default: {})\n", available, default_selector());
            return 0;
          }};
}

}  // namespace batteries::cli
