// A standalone echo server over batteries::selectors, as in Python's selectors docs.
// Usage: selectors_echo [port] [seconds]   (port 0 picks a free one; stops after `seconds`)
#include <cstdlib>

#include "selectors_echo.hpp"

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  const double seconds = argc > 2 ? std::atof(argv[2]) : 60.0;
  try {
    examples::sel::DefaultSelector selector;
    examples::EchoServer server(selector, port);
    fmt::print("echo server on 127.0.0.1:{} for {} s\n", server.port(), seconds);
    std::fflush(stdout);
    examples::run_loop(
        selector, [] { return false; }, seconds);
  } catch (const batteries::Exception& e) {
    fmt::print(stderr, "{}: {}\n", e.type_name(), e.what());
    return 1;
  }
  return 0;
}
