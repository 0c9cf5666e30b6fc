// The LD_PRELOAD agent of `batteries tracemalloc`: traces the program it is loaded into and
// writes snapshots at exit, on a timer, on SIGUSR2 and when a fatal signal ends the program.
//
// Configured by the tool through the environment: BATTERIES_TRACEMALLOC_OUTPUT (the snapshot
// path; the agent does nothing without it), _NFRAMES, _SAMPLE_RATE, _INTERVAL (seconds) and
// _MAIN_PID (the process that writes OUTPUT itself; any other traced process, a forked child
// or an exec'd descendant, writes OUTPUT.<pid>). Periodic and SIGUSR2 snapshots are OUTPUT.1,
// OUTPUT.2, ... and come from the main process only. The agent starts a thread only for
// --interval: a single-threaded program stays single-threaded, and glibc then lets the tracer
// skip its atomic instructions.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "dump.hpp"
#include "tracer.hpp"

namespace {

using namespace batteries::tracemalloc::detail;

char g_output[4096];
bool g_active = false;
pid_t g_main_pid = 0;
double g_interval = 0;
int g_wake[2] = {-1, -1};
std::atomic<unsigned> g_sequence{0};
std::atomic<pid_t> g_final_pid{0};
std::atomic<bool> g_dumping{false};
alignas(DumpWriter) unsigned char g_writer[sizeof(DumpWriter)];

// A path built without malloc or stdio: the output, then ".<number>" when asked.
struct PathBuffer {
  char text[4200];
  std::size_t n = 0;
  void add(const char* s) noexcept {
    while (*s != '\0' && n + 1 < sizeof text) {
      text[n++] = *s++;
    }
    text[n] = '\0';
  }
  void add(std::uint64_t v) noexcept {
    char digits[24];
    int k = 0;
    do {
      digits[k++] = char('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (k > 0 && n + 1 < sizeof text) {
      text[n++] = digits[--k];
    }
    text[n] = '\0';
  }
};

/// Writes a snapshot to `path` through a temporary file renamed into place. One dump at a
/// time: a signal arriving during a dump gives up rather than wait for itself.
bool write_snapshot(const char* path, bool from_signal) noexcept {
  bool expected = false;
  int spins = 0;
  while (!g_dumping.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
    expected = false;
    if (from_signal && ++spins > 100000) {
      return false;
    }
    if (!from_signal) {
      ::sched_yield();
    }
  }
  int saved_errno = errno;
  PathBuffer tmp;
  tmp.add(path);
  tmp.add(".tmp");
  tmp.add(std::uint64_t(::getpid()));
  bool ok = false;
  int fd = ::open(tmp.text, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    auto* writer = new (g_writer) DumpWriter(fd);
    ok = tracer_write_dump(*writer, std::uint64_t(::getpid()), from_signal);
    ok = ::close(fd) == 0 && ok;
    if (ok) {
      ok = ::rename(tmp.text, path) == 0;
    }
    if (!ok) {
      ::unlink(tmp.text);
    }
  }
  errno = saved_errno;
  g_dumping.store(false, std::memory_order_release);
  return ok;
}

/// The snapshot a process writes when it ends, once per process.
void write_final(bool from_signal) noexcept {
  if (!g_active) {
    return;
  }
  pid_t self = ::getpid();
  if (g_final_pid.exchange(self) == self) {
    return;
  }
  PathBuffer path;
  path.add(g_output);
  if (self != g_main_pid) {
    path.add(".");
    path.add(std::uint64_t(self));
  }
  write_snapshot(path.text, from_signal);
}

void at_exit() { write_final(false); }

constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP,  SIGQUIT, SIGSEGV, SIGBUS,
                                 SIGFPE, SIGILL,  SIGABRT, SIGXCPU, SIGXFSZ};

void on_fatal_signal(int sig) {
  write_final(true);
  // SA_RESETHAND put the default action back; the signal ends the process as it would have.
  ::raise(sig);
}

void write_numbered() noexcept {
  if (::getpid() != g_main_pid) {
    return;
  }
  PathBuffer path;
  path.add(g_output);
  path.add(".");
  path.add(std::uint64_t(g_sequence.fetch_add(1) + 1));
  write_snapshot(path.text, false);
}

void on_usr2(int) {
  int saved = errno;
  if (g_wake[1] >= 0) {
    char byte = 1;  // the periodic thread writes it
    [[maybe_unused]] ssize_t n = ::write(g_wake[1], &byte, 1);
  } else if (!busy()) {
    write_numbered();  // this thread holds none of the tracer's locks
  } else {
    g_dump_request.store(true);  // interrupted inside the tracer: the next allocation writes it
  }
  errno = saved;
}

void* periodic(void*) {
  busy() = true;  // this thread's own allocations are never traced
  int timeout = g_interval > 0 ? int(std::min(g_interval * 1000.0, 2e9)) : -1;
  for (;;) {
    pollfd pfd{g_wake[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, timeout);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r > 0) {
      char buf[64];
      [[maybe_unused]] ssize_t n = ::read(g_wake[0], buf, sizeof buf);
    }
    if (::getpid() != g_main_pid) {
      return nullptr;
    }
    write_numbered();
  }
}

void install_handler(int sig, void (*handler)(int), int flags) {
  struct sigaction old {};
  if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL ||
      (old.sa_flags & SA_SIGINFO) != 0) {
    return;  // the program (or its parent) chose something: leave it
  }
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags;
  ::sigaction(sig, &sa, nullptr);
}

__attribute__((constructor)) void agent_init() {
  const char* output = ::getenv("BATTERIES_TRACEMALLOC_OUTPUT");
  if (output == nullptr || output[0] == '\0' || std::strlen(output) >= sizeof g_output - 32) {
    return;
  }
  std::strcpy(g_output, output);
  std::size_t nframes = 16;
  if (const char* v = ::getenv("BATTERIES_TRACEMALLOC_NFRAMES")) {
    nframes = std::strtoull(v, nullptr, 10);
  }
  std::uint64_t rate = 0;
  if (const char* v = ::getenv("BATTERIES_TRACEMALLOC_SAMPLE_RATE")) {
    rate = std::strtoull(v, nullptr, 10);
  }
  if (const char* v = ::getenv("BATTERIES_TRACEMALLOC_INTERVAL")) {
    g_interval = std::strtod(v, nullptr);
    if (!(g_interval > 0) || !std::isfinite(g_interval)) {
      g_interval = 0;
    }
  }
  g_main_pid = ::getpid();
  if (const char* v = ::getenv("BATTERIES_TRACEMALLOC_MAIN_PID")) {
    g_main_pid = pid_t(std::strtol(v, nullptr, 10));
  }
  g_active = true;

  for (int sig : kFatalSignals) {
    install_handler(sig, on_fatal_signal, SA_RESETHAND | SA_NODEFER);
  }
  g_dump_callback = write_numbered;
  install_handler(SIGUSR2, on_usr2, SA_RESTART);
  if (g_interval > 0 && ::getpid() == g_main_pid && ::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) == 0) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);  // signals go to the program's threads
    if (pthread_create(&thread, &attr, periodic, nullptr) != 0) {
      ::close(g_wake[0]);
      ::close(g_wake[1]);
      g_wake[0] = g_wake[1] = -1;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    pthread_attr_destroy(&attr);
  }
  std::atexit(at_exit);
  tracer_start(std::max<std::size_t>(1, std::min<std::size_t>(nframes, 65535)), rate);
}

}  // namespace

// A program that leaves through _exit or _Exit skips atexit: write its snapshot first.
extern "C" __attribute__((visibility("default"), noreturn)) void _exit(int status) {
  write_final(false);
  ::syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

extern "C" __attribute__((visibility("default"), noreturn)) void _Exit(int status) {
  write_final(false);
  ::syscall(SYS_exit_group, status);
  __builtin_unreachable();
}
