// A downstream program: waits on a pipe with DefaultSelector and catches a Python error.
#include <batteries/errors.hpp>
#include <batteries/selectors.hpp>
#include <batteries/version.hpp>

#include <unistd.h>

#include <cstdio>

int main() {
  namespace sel = batteries::selectors;
  int fds[2];
  if (::pipe(fds) != 0) {
    return 1;
  }
  sel::DefaultSelector selector;
  selector.register_(fds[0], sel::EVENT_READ);
  if (::write(fds[1], "x", 1) != 1) {
    return 1;
  }
  const auto ready = selector.select(1.0);
  try {
    selector.unregister(fds[1]);
  } catch (const batteries::KeyError& e) {
    std::printf("consumer: batteries %s, %zu ready, KeyError: %s\n", batteries::version,
                ready.size(), e.what());
    return ready.size() == 1 ? 0 : 1;
  }
  return 1;
}
