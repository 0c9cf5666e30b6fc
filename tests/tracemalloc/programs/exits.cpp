// Leaves a known leak, then ends the way argv[1] says: return, exit, _exit, _Exit, abort,
// segv, term (SIGTERM to itself), kill (SIGKILL, which no one can catch), sleep (600 ms)
// or usr2 (SIGUSR2 to itself, then 300 ms).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

[[gnu::noinline]] void* leak() {
  return std::malloc(4242);  // MARK: exits_leak
}

}  // namespace

int main(int argc, char** argv) {
  void* p = leak();
  asm volatile("" : : "g"(p) : "memory");
  const char* how = argc > 1 ? argv[1] : "return";
  std::fflush(stdout);
  if (std::strcmp(how, "exit") == 0) {
    std::exit(3);
  } else if (std::strcmp(how, "_exit") == 0) {
    _exit(4);
  } else if (std::strcmp(how, "_Exit") == 0) {
    std::_Exit(5);
  } else if (std::strcmp(how, "abort") == 0) {
    std::abort();
  } else if (std::strcmp(how, "segv") == 0) {
    volatile int* null = nullptr;
    *null = 1;
  } else if (std::strcmp(how, "term") == 0) {
    raise(SIGTERM);
  } else if (std::strcmp(how, "kill") == 0) {
    raise(SIGKILL);
  } else if (std::strcmp(how, "sleep") == 0) {
    usleep(600 * 1000);  // long enough for a few periodic snapshots
  } else if (std::strcmp(how, "usr2") == 0) {
    raise(SIGUSR2);  // asks the agent for a snapshot
    usleep(300 * 1000);
  }
  return 0;
}
