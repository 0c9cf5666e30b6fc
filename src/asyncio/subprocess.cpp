// Subprocesses (asyncio/subprocess.hpp): vfork+exec spawning, the pipe transports, the
// subprocess transport with its pidfd (or thread) exit watch, and Process.
#include <batteries/asyncio/future.hpp>
#include <batteries/asyncio/loop.hpp>
#include <batteries/asyncio/streams.hpp>
#include <batteries/asyncio/subprocess.hpp>
#include <batteries/asyncio/tasks.hpp>
#include <batteries/asyncio/transports.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

extern "C" {
extern char** environ;  // NOLINT(readability-redundant-declaration): unistd.h hides it
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// The code that runs in the child between vfork() and execve() shares the parent's memory:
// no sanitizer may instrument it (their bookkeeping would run, and write, in the child).
#define BATTERIES_CHILD_CODE \
  __attribute__((noinline, no_sanitize("address", "thread", "undefined")))

#include "transport_impl.hpp"

namespace batteries::asyncio {

namespace detail {

namespace {

// ---- descriptors ----------------------------------------------------------------------------

/// Owns a descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.m_fd, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const noexcept { return m_fd; }
  [[nodiscard]] explicit operator bool() const noexcept { return m_fd >= 0; }
  int release() noexcept { return std::exchange(m_fd, -1); }
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

/// A close-on-exec descriptor of this process is never 0, 1 or 2: a child's dup2() onto its
/// standard streams could otherwise overwrite it (CPython's bpo-12607). Moves fd above 2.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  const int err = errno;
  ::close(fd);
  if (moved < 0) raise_os_error(err);
  return moved;
}

/// A close-on-exec pipe, both ends above 2.
std::pair<UniqueFd, UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) raise_errno();
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  read_end = UniqueFd(above_stdio(read_end.release()));
  write_end = UniqueFd(above_stdio(write_end.release()));
  return {std::move(read_end), std::move(write_end)};
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) raise_errno();
}

/// write(), with SIGPIPE blocked in this thread: a pipe whose reader has gone gives EPIPE
/// and the SIGPIPE the kernel raised for this thread is taken back with sigtimedwait(),
/// unless one was already pending (then it was not ours). Returns write()'s result; errno
/// is write()'s.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t size) noexcept {
  sigset_t sigpipe;
  ::sigemptyset(&sigpipe);
  ::sigaddset(&sigpipe, SIGPIPE);
  sigset_t pending;
  ::sigemptyset(&pending);
  ::sigpending(&pending);
  const bool was_pending = ::sigismember(&pending, SIGPIPE) == 1;
  sigset_t old;
  ::pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
  ssize_t n = 0;
  do {
    n = ::write(fd, data, size);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (::sigtimedwait(&sigpipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

bool retry_later(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

/// Python's waitstatus_to_exitcode().
int exit_code_of(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 255;
}

/// Reaps pid in a thread of its own (the child was killed, or is about to end, and nobody
/// is left to wait for it). Blocks here when no thread can be started.
void reap_in_background(pid_t pid) noexcept {
  try {
    std::thread([pid] {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }).detach();
  } catch (...) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

// ---- spawning -------------------------------------------------------------------------------

/// stderr's source when it is STDOUT: whatever the child's fd 1 is by then.
constexpr int kFromStdout = -2;

enum ChildStage : int { kStageExec = 0, kStageChdir = 1, kStageOther = 2 };

/// What the child sends back through the error pipe when it fails before exec.
struct ChildReport {
  int err;
  int stage;
};

/// Everything the child needs, prepared by the parent: the child may not allocate.
struct ChildPlan {
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* const* programs = nullptr;  // the paths to try, null-terminated
  const char* cwd = nullptr;
  int stdio[3] = {-1, -1, -1};  // the sources of fds 0, 1 and 2; -1 leaves them
  const int* keep = nullptr;    // sorted, all > 2: what close_fds keeps
  std::size_t nkeep = 0;
  const int* pass = nullptr;  // made inheritable
  std::size_t npass = 0;
  int errpipe = -1;
  int max_fd = 0;
  int umask = -1;
  int pgid = -1;
  bool close_fds = true;
  bool restore_signals = true;
  bool new_session = false;
};

[[noreturn]] BATTERIES_CHILD_CODE void child_fail(const ChildPlan& plan, int err, int stage) {
  // Blocked again, so that no signal ends the child before the parent hears why.
  const std::uint64_t all = ~std::uint64_t{0};
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, sizeof all);
  const ChildReport report{err, stage};
  while (::syscall(SYS_write, plan.errpipe, &report, sizeof report) < 0 && errno == EINTR) {
  }
  ::syscall(SYS_exit_group, 255);
  __builtin_unreachable();
}

BATTERIES_CHILD_CODE bool child_keeps(const ChildPlan& plan, long fd) {
  for (std::size_t i = 0; i < plan.nkeep; ++i) {
    if (plan.keep[i] == fd) return true;
  }
  return false;
}

/// Closes every descriptor from 3 up but plan.keep: close_range(2) between the kept ones;
/// else (before Linux 5.9) what /proc/self/fd lists; else every number up to the limit.
BATTERIES_CHILD_CODE void child_close_fds(const ChildPlan& plan) {
  unsigned int low = 3;
  bool have_close_range = true;
  for (std::size_t i = 0; i <= plan.nkeep && have_close_range; ++i) {
    const unsigned int high = i < plan.nkeep ? static_cast<unsigned int>(plan.keep[i]) - 1U : ~0U;
    if (low <= high && ::syscall(SYS_close_range, low, high, 0) < 0) {
      if (errno == ENOSYS || errno == EINVAL) have_close_range = false;
    }
    if (i < plan.nkeep) low = static_cast<unsigned int>(plan.keep[i]) + 1U;
  }
  if (have_close_range) return;

  const long dir =
      ::syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    for (long fd = 3; fd < plan.max_fd; ++fd) {
      if (!child_keeps(plan, fd)) ::syscall(SYS_close, fd);
    }
    return;
  }
  alignas(8) char buffer[4096];
  while (true) {
    const long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n <= 0) break;
    for (long pos = 0; pos < n;) {
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
      unsigned short reclen = 0;
      __builtin_memcpy(&reclen, buffer + pos + 16, sizeof reclen);
      const char* name = buffer + pos + 19;
      long fd = 0;
      bool number = *name != '\0';
      for (const char* c = name; *c != '\0'; ++c) {
        if (*c < '0' || *c > '9') {
          number = false;
          break;
        }
        fd = fd * 10 + (*c - '0');
      }
      if (number && fd > 2 && fd != dir && !child_keeps(plan, fd)) ::syscall(SYS_close, fd);
      pos += reclen;
    }
  }
  ::syscall(SYS_close, dir);
}

/// The child, from vfork() to execve(): raw system calls only (and sigaction, which is
/// async-signal-safe), on memory the parent prepared. Never returns.
[[noreturn]] BATTERIES_CHILD_CODE void child_main(const ChildPlan& plan) {
  // Signals: every handler goes (it would run in the parent's memory), and with
  // restore_signals every ignored signal too. They are all blocked until just before exec.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // Not zero-initialised: that could compile to a memset() call, which a sanitizer
    // intercepts. The kernel fills `old`; every field of `dfl` the kernel reads is set.
    struct sigaction old;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    if (::sigaction(sig, nullptr, &old) != 0) continue;  // glibc's own, 32 and 33
    if (old.sa_handler == SIG_DFL) continue;             // NOLINT: the union's first member
    if (old.sa_handler == SIG_IGN && !plan.restore_signals) continue;  // NOLINT
    struct sigaction dfl;      // NOLINT(cppcoreguidelines-pro-type-member-init)
    dfl.sa_handler = SIG_DFL;  // NOLINT
    dfl.sa_flags = 0;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }

  // The standard streams. A source among 0..2 that is not already in place moves above 2
  // first, so that no dup2 overwrites a source still to be used.
  int src[3] = {plan.stdio[0], plan.stdio[1], plan.stdio[2]};
  for (int i = 0; i < 3; ++i) {
    if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
      const long moved = ::syscall(SYS_fcntl, src[i], F_DUPFD_CLOEXEC, 3);
      if (moved < 0) child_fail(plan, errno, kStageOther);
      src[i] = static_cast<int>(moved);
    }
  }
  for (int i = 0; i < 3; ++i) {
    const int from = src[i] == kFromStdout ? 1 : src[i];
    if (from < 0) continue;
    if (from == i) {
      if (::syscall(SYS_fcntl, i, F_SETFD, 0) < 0) child_fail(plan, errno, kStageOther);
    } else if (::syscall(SYS_dup3, from, i, 0) < 0) {
      child_fail(plan, errno, kStageOther);
    }
  }

  if (plan.cwd != nullptr && ::syscall(SYS_chdir, plan.cwd) < 0) {
    child_fail(plan, errno, kStageChdir);
  }
  if (plan.umask >= 0) ::syscall(SYS_umask, plan.umask);
  if (plan.new_session && ::syscall(SYS_setsid) < 0) child_fail(plan, errno, kStageOther);
  if (plan.pgid >= 0 && ::syscall(SYS_setpgid, 0, plan.pgid) < 0) {
    child_fail(plan, errno, kStageOther);
  }
  for (std::size_t i = 0; i < plan.npass; ++i) {
    if (::syscall(SYS_fcntl, plan.pass[i], F_SETFD, 0) < 0) child_fail(plan, errno, kStageOther);
  }
  if (plan.close_fds) child_close_fds(plan);

  const std::uint64_t none = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  // The first error that is not "not there" is the one to report (CPython's rule).
  int first = 0;
  int last = ENOENT;
  for (const char* const* program = plan.programs; *program != nullptr; ++program) {
    ::syscall(SYS_execve, *program, plan.argv, plan.envp);
    last = errno;
    if (last != ENOENT && last != ENOTDIR && first == 0) first = last;
  }
  child_fail(plan, first != 0 ? first : last, kStageExec);
}

/// vfork() and the child's side: in a function of its own, so that nothing the parent
/// keeps in this frame lives across the child's run. Under ThreadSanitizer, vfork() is
/// a fork(), which it supports.
BATTERIES_CHILD_CODE pid_t vfork_child(const ChildPlan* plan) {
  // NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.vfork): CPython's choice, for speed
  const pid_t pid = ::vfork();
  if (pid == 0) child_main(*plan);  // NOLINT(clang-analyzer-unix.Vfork): it never returns
  return pid;
}

/// A child to start: the argv, the program paths to try, and Popen's options.
struct SpawnRequest {
  std::vector<std::string> argv;
  std::string executable;  // for error messages: Python's orig_executable
  std::vector<std::string> programs;
  std::optional<std::string> cwd;
  std::optional<std::vector<std::string>> env;
  int stdio[3] = {-1, -1, -1};
  std::vector<int> pass_fds;
  bool close_fds = true;
  bool restore_signals = true;
  bool new_session = false;
  int umask = -1;
  int pgid = -1;
};

void check_no_nul(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) throw ValueError("embedded null byte");
}

/// Starts the child; raises what the child reported, as Python's _execute_child does.
pid_t spawn(const SpawnRequest& request) {
  std::vector<char*> argv;
  argv.reserve(request.argv.size() + 1);
  for (const std::string& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (request.env) {
    envp.reserve(request.env->size() + 1);
    for (const std::string& entry : *request.env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }
  std::vector<const char*> programs;
  programs.reserve(request.programs.size() + 1);
  for (const std::string& program : request.programs) programs.push_back(program.c_str());
  programs.push_back(nullptr);

  auto [err_read, err_write] = make_pipe();
  std::vector<int> keep;
  for (const int fd : request.pass_fds) {
    if (fd > 2) keep.push_back(fd);
  }
  keep.push_back(err_write.get());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

  ChildPlan plan;
  plan.argv = argv.data();
  plan.envp = request.env ? envp.data() : environ;
  plan.programs = programs.data();
  plan.cwd = request.cwd ? request.cwd->c_str() : nullptr;
  for (int i = 0; i < 3; ++i) plan.stdio[i] = request.stdio[i];
  plan.keep = keep.data();
  plan.nkeep = keep.size();
  plan.pass = request.pass_fds.data();
  plan.npass = request.pass_fds.size();
  plan.errpipe = err_write.get();
  rlimit limit{};
  plan.max_fd = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                    ? static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1U << 20U))
                    : 1 << 16;
  plan.umask = request.umask;
  plan.pgid = request.pgid;
  plan.close_fds = request.close_fds;
  plan.restore_signals = request.restore_signals;
  plan.new_session = request.new_session;

  // Every signal blocked while the child shares this memory: no handler may run in it.
  const std::uint64_t all = ~std::uint64_t{0};
  std::uint64_t old = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
  const pid_t pid = vfork_child(&plan);
  const int vfork_errno = errno;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof old);
  err_write.reset();
  if (pid < 0) raise_os_error(vfork_errno);

  // The error pipe closes at exec (close-on-exec) or when the child exits.
  ChildReport report{};
  std::size_t got = 0;
  while (got < sizeof report) {
    const ssize_t n =
        ::read(err_read.get(), reinterpret_cast<char*>(&report) + got, sizeof report - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got == 0) return pid;
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got < sizeof report) throw RuntimeError("Bad exception data from child");
  switch (report.stage) {
    case kStageChdir:
      raise_os_error(report.err, request.cwd);
    case kStageExec:
      raise_os_error(report.err, request.executable);
    default:
      raise_os_error(report.err);
  }
}

// ---- the exit watch -------------------------------------------------------------------------

std::atomic<bool> g_force_thread_watcher{false};

bool thread_watcher_forced() noexcept {
  if (g_force_thread_watcher.load(std::memory_order_relaxed)) return true;
  static const bool from_env = [] {
    const char* value = std::getenv("BATTERIES_ASYNCIO_NO_PIDFD");  // NOLINT(concurrency-mt-unsafe)
    return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
  }();
  return from_env;
}

/// A descriptor that becomes readable when the child has exited, not yet reaped: its pidfd,
/// or the read end of a pipe whose write end a thread closes once waitid(WNOWAIT) returns.
struct ExitWatch {
  UniqueFd fd;
  bool pidfd = false;
};

ExitWatch watch_exit(pid_t pid) {
  if (!thread_watcher_forced()) {
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);  // close-on-exec, as every pidfd
    if (fd >= 0) return {UniqueFd(above_stdio(static_cast<int>(fd))), true};
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) raise_errno();
    // ENOSYS (before Linux 5.3), EPERM (a seccomp filter), ...: a thread waits instead.
  }
  auto [read_end, write_end] = make_pipe();
  const int notify = write_end.get();
  std::thread([pid, notify] {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    ::close(notify);
  }).detach();
  (void)write_end.release();  // the thread's now
  return {std::move(read_end), false};
}

// ---- the pipe transports --------------------------------------------------------------------

/// Python's _UnixReadPipeTransport.max_size: the most read in one loop iteration.
constexpr std::size_t kMaxPipeRead = detail::kMaxReadSize;

/// "closed", "closing" or nothing, then fd=N, then the polling state, as Python's repr.
std::string pipe_repr_head(std::string_view name, int fd, bool open, bool closing) {
  std::string out = fmt::format("<{}", name);
  if (!open) {
    out += " closed";
  } else if (closing) {
    out += " closing";
  }
  out += fmt::format(" fd={}", fd);
  return out;
}

/// A protocol's pause_writing() or resume_writing() raised: reported, as Python does
/// (SystemExit and KeyboardInterrupt go on).
void report_hook_failure(EventLoop& loop, const char* what) {
  std::exception_ptr exc = std::current_exception();
  if (is_exit_exception(exc)) std::rethrow_exception(exc);
  loop.call_exception_handler({what, exc, std::nullopt});
}

/// What both pipe transports share: the loop, the descriptor and the protocol.
class PipeTransport : public Transport {
 public:
  PipeTransport(EventLoop& loop, int fd, std::shared_ptr<BaseProtocol> protocol)
      : m_loop(&loop), m_fd(fd), m_protocol(std::move(protocol)) {
    m_extra.emplace_back("pipe", fd);
  }
  ~PipeTransport() override {
    if (m_fd >= 0) ::close(m_fd);
  }

  [[nodiscard]] bool is_closing() const override { return m_closing; }
  [[nodiscard]] std::shared_ptr<BaseProtocol> get_protocol() const override { return m_protocol; }
  [[nodiscard]] int fileno() const noexcept { return m_fd; }

  /// The loop is closing: closes the descriptor now and lets the protocol go, without a
  /// callback (Python's __del__).
  void abandon() noexcept {
    m_closing = true;
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
    m_loop = nullptr;
    m_protocol.reset();
  }

 protected:
  /// Python's _call_connection_lost(exc): tells the protocol, then closes the pipe.
  void call_connection_lost(const std::exception_ptr& exc) {
    if (m_loop == nullptr) return;
    struct Finally {
      PipeTransport* self;
      ~Finally() {
        if (self->m_fd >= 0) ::close(self->m_fd);
        self->m_fd = -1;
        self->m_protocol.reset();
        self->m_loop = nullptr;
      }
    } finally{this};
    std::shared_ptr<BaseProtocol> protocol = m_protocol;  // lives through the call
    if (protocol) protocol->connection_lost(exc);
  }

  EventLoop* m_loop;  // null once the connection is lost
  int m_fd;           // -1 once closed
  std::shared_ptr<BaseProtocol> m_protocol;
  bool m_closing = false;
  bool m_polling = false;  // a reader (or writer) is registered
};

/// Python's _UnixReadPipeTransport: a pipe's read end, read when the loop finds it readable.
class ReadPipeTransport final : public PipeTransport {
 public:
  static std::shared_ptr<ReadPipeTransport> create(EventLoop& loop, UniqueFd fd,
                                                   const std::shared_ptr<Protocol>& protocol,
                                                   std::optional<Future<void>> waiter) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) raise_errno();
    if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode)) {
      throw ValueError("Pipe transport is for pipes/sockets only.");
    }
    set_nonblocking(fd.get());
    auto self = std::make_shared<ReadPipeTransport>(loop, fd.release(), protocol);
    self->m_self = self;
    loop.call_soon([self, protocol] { protocol->connection_made(self); });
    // Only reading once connection_made() has run.
    loop.call_soon([self] {
      if (self->is_reading()) self->add_reader();
    });
    if (waiter) {
      loop.call_soon([w = *waiter]() mutable {
        if (!w.done()) w.set_result();
      });
    }
    return self;
  }

  ReadPipeTransport(EventLoop& loop, int fd, std::shared_ptr<Protocol> protocol)
      : PipeTransport(loop, fd, std::move(protocol)) {}

  [[nodiscard]] bool is_reading() const override { return !m_paused && !m_closing; }
  void pause_reading() override {
    if (!is_reading()) return;
    m_paused = true;
    remove_reader();
  }
  void resume_reading() override {
    if (m_closing || !m_paused) return;
    m_paused = false;
    add_reader();
  }
  void close() override {
    if (!m_closing) close_with(nullptr);
  }
  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    if (dynamic_cast<Protocol*>(protocol.get()) == nullptr) {
      throw TypeError("a read pipe transport needs a Protocol");
    }
    m_protocol = std::move(protocol);
  }
  [[nodiscard]] std::string repr() const override {
    std::string out = pipe_repr_head("_UnixReadPipeTransport", m_fd, m_fd >= 0, m_closing);
    out += m_fd < 0 ? " closed" : m_polling ? " polling" : " idle";
    return out + ">";
  }

 private:
  void add_reader() {
    m_loop->add_reader(m_fd, [self = m_self.lock()] { self->read_ready(); });
    m_polling = true;
  }
  void remove_reader() {
    if (m_loop != nullptr && m_fd >= 0) m_loop->remove_reader(m_fd);
    m_polling = false;
  }

  void read_ready() {
    char* buffer = detail::read_buffer();  // the thread's, shared with the other transports
    const ssize_t n = ::read(m_fd, buffer, kMaxPipeRead);
    if (n < 0) {
      if (retry_later(errno)) return;
      fatal_error(make_os_error(errno), "Fatal read error on pipe transport");
      return;
    }
    if (n > 0) {
      static_cast<Protocol&>(*m_protocol)
          .data_received(std::string_view(buffer, static_cast<std::size_t>(n)));
      return;
    }
    m_closing = true;
    remove_reader();
    m_loop->call_soon([protocol = m_protocol] {
      if (protocol) (void)static_cast<Protocol&>(*protocol).eof_received();
    });
    m_loop->call_soon([self = m_self.lock()] { self->call_connection_lost(nullptr); });
  }

  void fatal_error(const std::exception_ptr& exc, const char* message) {
    bool quiet = false;
    try {
      std::rethrow_exception(exc);
    } catch (const OSError& e) {
      quiet = e.errno_() == EIO;
    } catch (...) {  // NOLINT(bugprone-empty-catch): reported below
    }
    if (!quiet) m_loop->call_exception_handler({message, exc, std::nullopt});
    close_with(exc);
  }

  void close_with(std::exception_ptr exc) {
    if (m_loop == nullptr) return;
    m_closing = true;
    remove_reader();
    m_loop->call_soon(
        [self = m_self.lock(), exc = std::move(exc)] { self->call_connection_lost(exc); });
  }

  std::weak_ptr<ReadPipeTransport> m_self;
  bool m_paused = false;
};

/// Python's _UnixWritePipeTransport with transports._FlowControlMixin: a pipe's write end.
/// What write() cannot write now is buffered and written when the pipe drains; the
/// protocol's pause_writing() runs above the high-water mark, resume_writing() at the low.
class WritePipeTransport final : public PipeTransport {
 public:
  static std::shared_ptr<WritePipeTransport> create(EventLoop& loop, UniqueFd fd,
                                                    const std::shared_ptr<BaseProtocol>& protocol,
                                                    std::optional<Future<void>> waiter) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) raise_errno();
    const bool is_fifo = S_ISFIFO(st.st_mode);
    const bool is_socket = S_ISSOCK(st.st_mode);
    if (!is_fifo && !is_socket && !S_ISCHR(st.st_mode)) {
      throw ValueError("Pipe transport is only for pipes, sockets and character devices");
    }
    set_nonblocking(fd.get());
    auto self = std::make_shared<WritePipeTransport>(loop, fd.release(), protocol);
    self->m_self = self;
    loop.call_soon([self, protocol] {
      if (auto* p = dynamic_cast<Protocol*>(protocol.get())) {
        p->connection_made(self);
      } else if (auto* b = dynamic_cast<BufferedProtocol*>(protocol.get())) {
        b->connection_made(self);
      }
    });
    // The read end's closing shows as readiness to read (an error) on the write end.
    if (is_fifo || is_socket) {
      loop.call_soon([self] {
        if (self->m_loop == nullptr || self->m_fd < 0) return;
        self->m_loop->add_reader(self->m_fd, [self] { self->read_ready(); });
        self->m_watching_peer = true;
      });
    }
    if (waiter) {
      loop.call_soon([w = *waiter]() mutable {
        if (!w.done()) w.set_result();
      });
    }
    return self;
  }

  WritePipeTransport(EventLoop& loop, int fd, std::shared_ptr<BaseProtocol> protocol)
      : PipeTransport(loop, fd, std::move(protocol)) {}

  [[nodiscard]] std::size_t get_write_buffer_size() const override {
    return m_buffer.size() - m_head;
  }
  [[nodiscard]] std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override {
    return {m_low, m_high};
  }
  void set_write_buffer_limits(std::optional<std::size_t> high,
                               std::optional<std::size_t> low) override {
    if (!high) high = low ? 4 * *low : std::size_t{64} * 1024;
    if (!low) low = *high / 4;
    if (*high < *low) {
      throw ValueError(fmt::format("high ({}) must be >= low ({}) must be >= 0", *high, *low));
    }
    m_high = *high;
    m_low = *low;
    maybe_pause_protocol();
  }

  void write(std::string_view data) override {
    if (data.empty()) return;
    if (m_conn_lost != 0 || m_closing) {
      ++m_conn_lost;
      return;
    }
    if (get_write_buffer_size() == 0) {
      const ssize_t n = write_no_sigpipe(m_fd, data.data(), data.size());
      if (n < 0) {
        if (!retry_later(errno)) {
          ++m_conn_lost;
          fatal_error(make_os_error(errno), "Fatal write error on pipe transport");
          return;
        }
      } else if (static_cast<std::size_t>(n) == data.size()) {
        return;
      } else {
        data.remove_prefix(static_cast<std::size_t>(n));
      }
      m_loop->add_writer(m_fd, [self = m_self.lock()] { self->write_ready(); });
      m_polling = true;
    }
    m_buffer.append(data);
    maybe_pause_protocol();
  }

  [[nodiscard]] bool can_write_eof() const override { return true; }
  void write_eof() override {
    if (m_closing) return;
    m_closing = true;
    if (get_write_buffer_size() == 0) {
      remove_peer_watch();
      m_loop->call_soon([self = m_self.lock()] { self->call_connection_lost(nullptr); });
    }
  }
  void close() override {
    if (m_fd >= 0 && !m_closing) write_eof();
  }
  void abort() override { close_with(nullptr); }
  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    m_protocol = std::move(protocol);
  }
  [[nodiscard]] std::string repr() const override {
    std::string out = pipe_repr_head("_UnixWritePipeTransport", m_fd, m_fd >= 0, m_closing);
    if (m_fd >= 0) {
      out += m_polling ? " polling" : " idle";
      out += fmt::format(" bufsize={}", get_write_buffer_size());
    } else {
      out += " closed";
    }
    return out + ">";
  }

 private:
  void remove_peer_watch() {
    if (m_watching_peer && m_loop != nullptr && m_fd >= 0) m_loop->remove_reader(m_fd);
    m_watching_peer = false;
  }
  void remove_writer() {
    if (m_loop != nullptr && m_fd >= 0) m_loop->remove_writer(m_fd);
    m_polling = false;
  }
  void clear_buffer() noexcept {
    m_buffer.clear();
    m_head = 0;
  }

  /// The reader of the pipe went away.
  void read_ready() {
    if (get_write_buffer_size() != 0) {
      close_with(std::make_exception_ptr(BrokenPipeError(std::string())));
    } else {
      close_with(nullptr);
    }
  }

  void write_ready() {
    const std::size_t size = get_write_buffer_size();
    const ssize_t n = write_no_sigpipe(m_fd, m_buffer.data() + m_head, size);
    if (n < 0) {
      if (retry_later(errno)) return;
      const int err = errno;
      clear_buffer();
      ++m_conn_lost;
      remove_writer();
      fatal_error(make_os_error(err), "Fatal write error on pipe transport");
      return;
    }
    if (static_cast<std::size_t>(n) == size) {
      clear_buffer();
      remove_writer();
      maybe_resume_protocol();  // may write more
      if (m_closing && get_write_buffer_size() == 0) {
        remove_peer_watch();
        call_connection_lost(nullptr);
      }
      return;
    }
    m_head += static_cast<std::size_t>(n);
    // Drop the written front once it is most of the buffer: amortised O(1) per byte, as
    // Python's bytearray deletes from its front.
    if (m_head > m_buffer.size() / 2) {
      m_buffer.erase(0, m_head);
      m_head = 0;
    }
  }

  void maybe_pause_protocol() {
    if (get_write_buffer_size() <= m_high || m_protocol_paused) return;
    m_protocol_paused = true;
    try {
      if (m_protocol) m_protocol->pause_writing();
    } catch (...) {
      report_hook_failure(*m_loop, "protocol.pause_writing() failed");
    }
  }
  void maybe_resume_protocol() {
    if (!m_protocol_paused || get_write_buffer_size() > m_low) return;
    m_protocol_paused = false;
    try {
      if (m_protocol) m_protocol->resume_writing();
    } catch (...) {
      report_hook_failure(*m_loop, "protocol.resume_writing() failed");
    }
  }

  void fatal_error(const std::exception_ptr& exc, const char* message) {
    bool os_error = false;
    try {
      std::rethrow_exception(exc);
    } catch (const OSError&) {
      os_error = true;  // Python logs these only in debug mode
    } catch (...) {     // NOLINT(bugprone-empty-catch): reported below
    }
    if (!os_error) m_loop->call_exception_handler({message, exc, std::nullopt});
    close_with(exc);
  }

  void close_with(std::exception_ptr exc) {
    if (m_loop == nullptr) return;
    m_closing = true;
    if (get_write_buffer_size() != 0) remove_writer();
    clear_buffer();
    remove_peer_watch();
    m_loop->call_soon(
        [self = m_self.lock(), exc = std::move(exc)] { self->call_connection_lost(exc); });
  }

  std::weak_ptr<WritePipeTransport> m_self;
  std::string m_buffer;
  std::size_t m_head = 0;  // m_buffer[0, m_head) is written
  std::size_t m_high = std::size_t{64} * 1024;
  std::size_t m_low = std::size_t{16} * 1024;
  int m_conn_lost = 0;
  bool m_protocol_paused = false;
  bool m_watching_peer = false;
};

}  // namespace

// ---- the subprocess transport ---------------------------------------------------------------

class SubprocessImpl;

namespace {

/// Python's WriteSubprocessPipeProto / ReadSubprocessPipeProto: a pipe's protocol, which
/// passes what happens on to the subprocess transport. It holds the transport until the
/// pipe is lost (as Python's proto.proc does).
class SubprocessPipeProto final : public Protocol {
 public:
  SubprocessPipeProto(std::shared_ptr<SubprocessImpl> proc, int fd)
      : m_proc(std::move(proc)), m_fd(fd) {}

  void connection_made(std::shared_ptr<Transport> transport) override {
    pipe = std::move(transport);
  }
  void connection_lost(std::exception_ptr exc) override;
  void pause_writing() override;
  void resume_writing() override;
  void data_received(std::string_view data) override;
  /// The loop closed: lets the subprocess transport go.
  void abandon() noexcept { m_proc.reset(); }

  std::shared_ptr<Transport> pipe;
  bool disconnected = false;

 private:
  std::shared_ptr<SubprocessImpl> m_proc;
  int m_fd;
};

}  // namespace

/// Python's base_subprocess.BaseSubprocessTransport with _UnixSubprocessTransport's start.
class SubprocessImpl final : public SubprocessTransport {
 public:
  SubprocessImpl(EventLoop& loop, std::shared_ptr<SubprocessProtocol> protocol)
      : m_loop(&loop), m_protocol(std::move(protocol)) {}
  SubprocessImpl(const SubprocessImpl&) = delete;
  SubprocessImpl& operator=(const SubprocessImpl&) = delete;
  ~SubprocessImpl() override {
    if (m_pid > 0 && !m_reaped) give_up_child();
  }

  /// Starts the child (Python's _start): its pipes (parent ends kept for connect_pipes) and
  /// the exit watch. Raises what spawning raised, with every descriptor closed.
  void start(SpawnRequest request, const std::array<std::optional<StderrStdio>, 3>& stdio,
             int pipesize);
  /// Python's _connect_pipes: the pipe transports, then connection_made() and the waiter.
  void connect_pipes(Future<void> waiter);

  [[nodiscard]] int get_pid() const override { return m_pid; }
  [[nodiscard]] std::optional<int> get_returncode() const override { return m_returncode; }
  [[nodiscard]] std::shared_ptr<Transport> get_pipe_transport(int fd) const override {
    if (fd < 0 || fd > 2 || !m_pipes[static_cast<std::size_t>(fd)]) return nullptr;
    return m_pipes[static_cast<std::size_t>(fd)]->pipe;
  }
  void send_signal(int signal) override {
    check_proc();
    signal_child(signal);
  }
  void terminate() override { send_signal(SIGTERM); }
  void kill() override { send_signal(SIGKILL); }
  [[nodiscard]] bool is_closing() const override { return m_closed; }
  void close() override;
  void set_protocol(std::shared_ptr<BaseProtocol> protocol) override {
    auto subprocess = std::dynamic_pointer_cast<SubprocessProtocol>(protocol);
    if (!subprocess) throw TypeError("a subprocess transport needs a SubprocessProtocol");
    m_protocol = std::move(subprocess);
  }
  [[nodiscard]] std::shared_ptr<BaseProtocol> get_protocol() const override { return m_protocol; }
  [[nodiscard]] std::string repr() const override;

  /// Python's _wait(): the return code once the child has exited and every pipe is closed.
  /// A static member taking the owner, so that the frame keeps the transport alive.
  static Task<int> wait(std::shared_ptr<SubprocessImpl> self);

  // From the pipes' protocols.
  void pipe_data_received(int fd, std::string_view data) {
    call([protocol = m_protocol, fd, data = std::string(data)] {
      protocol->pipe_data_received(fd, data);
    });
  }
  void pipe_connection_lost(int fd, std::exception_ptr exc) {
    call([protocol = m_protocol, fd, exc = std::move(exc)] {
      protocol->pipe_connection_lost(fd, exc);
    });
    try_finish();
  }
  void protocol_pause_writing() {
    if (m_protocol) m_protocol->pause_writing();
  }
  void protocol_resume_writing() {
    if (m_protocol) m_protocol->resume_writing();
  }

  /// The loop is closing with this transport still open: closes the pipes, kills the child
  /// if it runs and leaves its reaping to a thread, lets the protocol go (Python's __del__).
  void abandon() noexcept;

 private:
  std::shared_ptr<SubprocessImpl> self() {
    return std::static_pointer_cast<SubprocessImpl>(shared_from_this());
  }
  /// Python's _check_proc: ProcessLookupError once the transport has finished.
  void check_proc() const {
    if (m_pid <= 0 || m_finished_called) throw ProcessLookupError(std::string());
  }
  /// Popen.send_signal: nothing once the child is known to be dead; ESRCH is not an error.
  void signal_child(int signal);
  /// Kills the child unless it has exited (whether reaped or not).
  void kill_if_running() noexcept;
  /// Nobody will watch the child any more: kills it, closes the exit watch and leaves the
  /// reaping to a thread.
  void give_up_child() noexcept;
  /// Python's _call: queued until connect_pipes has run, then call_soon.
  void call(std::function<void()> callback) {
    if (m_pending) {
      m_pending->push_back(std::move(callback));
    } else if (m_loop != nullptr) {
      m_loop->call_soon(std::move(callback));
    }
  }
  void exit_ready();
  void process_exited(int returncode);
  void try_finish();
  void call_connection_lost();

  EventLoop* m_loop;  // null once abandoned
  std::shared_ptr<SubprocessProtocol> m_protocol;
  pid_t m_pid = -1;
  std::optional<int> m_returncode;
  UniqueFd m_exit_fd;              // the pidfd or the watcher thread's pipe; closed once reaped
  bool m_pidfd = false;            // m_exit_fd is a pidfd
  bool m_reaped = false;           // waitpid() has returned for it: the pid may be reused
  bool m_closed = false;           // close() was called
  bool m_finished = false;         // Python's _finished
  bool m_finished_called = false;  // Python's _proc is None: connection_lost has run
  std::array<bool, 3> m_has_pipe{};
  std::array<UniqueFd, 3> m_parent_ends;  // until connect_pipes
  std::array<std::shared_ptr<SubprocessPipeProto>, 3> m_pipes;
  std::optional<std::vector<std::function<void()>>> m_pending{std::in_place};
  std::vector<Future<int>> m_exit_waiters;
};

namespace {

void SubprocessPipeProto::connection_lost(std::exception_ptr exc) {
  disconnected = true;
  std::shared_ptr<SubprocessImpl> proc = std::move(m_proc);
  if (proc) proc->pipe_connection_lost(m_fd, std::move(exc));
}
void SubprocessPipeProto::pause_writing() {
  if (m_proc) m_proc->protocol_pause_writing();
}
void SubprocessPipeProto::resume_writing() {
  if (m_proc) m_proc->protocol_resume_writing();
}
void SubprocessPipeProto::data_received(std::string_view data) {
  if (m_proc) m_proc->pipe_data_received(m_fd, data);
}

// ---- closing with the loop ------------------------------------------------------------------

/// The subprocess transports of one loop, abandoned when the loop closes: the loop holds
/// this as a resource (loop.hpp's detail::LoopResource), and close() lets it go, which runs
/// the destructor, the one moment a transport of a closing loop can still clean up.
class LoopChildren : public detail::LoopResource {
 public:
  LoopChildren() = default;
  LoopChildren(const LoopChildren&) = delete;
  LoopChildren& operator=(const LoopChildren&) = delete;
  ~LoopChildren();

  void add(const std::shared_ptr<SubprocessImpl>& child) {
    std::erase_if(m_children, [](const std::weak_ptr<SubprocessImpl>& w) { return w.expired(); });
    m_children.push_back(child);
  }
  /// The loop's reference, until it closes.
  void hold(std::shared_ptr<LoopChildren> self, EventLoop& loop) {
    m_self = std::move(self);
    loop.attach_resource(this);
  }
  void on_loop_close() noexcept override {
    const std::shared_ptr<LoopChildren> keep = std::move(m_self);  // may be the last
  }

 private:
  std::vector<std::weak_ptr<SubprocessImpl>> m_children;
  std::shared_ptr<LoopChildren> m_self;
};

// Every loop's LoopChildren, by loop. Only a loop's own thread locks its entry: a reference
// taken by another thread could end up the last one, and run the destructor there.
std::mutex g_loop_children_mutex;
std::vector<std::pair<const EventLoop*, std::weak_ptr<LoopChildren>>> g_loop_children;

LoopChildren::~LoopChildren() {
  for (const std::weak_ptr<SubprocessImpl>& weak : m_children) {
    if (const std::shared_ptr<SubprocessImpl> child = weak.lock()) child->abandon();
  }
  const std::lock_guard lock(g_loop_children_mutex);
  std::erase_if(g_loop_children, [](const auto& entry) { return entry.second.expired(); });
}

void register_child(EventLoop& loop, const std::shared_ptr<SubprocessImpl>& child) {
  std::shared_ptr<LoopChildren> children;
  bool fresh = false;
  {
    const std::lock_guard lock(g_loop_children_mutex);
    for (const auto& [owner, weak] : g_loop_children) {
      if (owner != &loop) continue;
      children = weak.lock();  // null: a closed loop's, at the same address
      if (children) break;
    }
    if (!children) {
      children = std::make_shared<LoopChildren>();
      g_loop_children.emplace_back(&loop, children);
      fresh = true;
    }
  }
  if (fresh) children->hold(children, loop);
  children->add(child);
}

}  // namespace

void SubprocessImpl::start(SpawnRequest request,
                           const std::array<std::optional<StderrStdio>, 3>& stdio, int pipesize) {
  std::array<UniqueFd, 3> child_ends;
  UniqueFd devnull;
  for (int i = 0; i < 3; ++i) {
    const auto& spec = stdio[static_cast<std::size_t>(i)];
    if (!spec) continue;
    switch (spec->kind()) {
      case Stdio::Kind::kPipe: {
        auto [read_end, write_end] = make_pipe();
        if (pipesize > 0 && ::fcntl(write_end.get(), F_SETPIPE_SZ, pipesize) < 0) raise_errno();
        if (i == 0) {
          child_ends[0] = std::move(read_end);
          m_parent_ends[0] = std::move(write_end);
        } else {
          child_ends[static_cast<std::size_t>(i)] = std::move(write_end);
          m_parent_ends[static_cast<std::size_t>(i)] = std::move(read_end);
        }
        m_has_pipe[static_cast<std::size_t>(i)] = true;
        request.stdio[i] = child_ends[static_cast<std::size_t>(i)].get();
        break;
      }
      case Stdio::Kind::kDevNull:
        if (!devnull) {
          const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
          if (fd < 0) raise_errno("/dev/null");
          devnull = UniqueFd(above_stdio(fd));
        }
        request.stdio[i] = devnull.get();
        break;
      case Stdio::Kind::kStdout:
        request.stdio[i] = kFromStdout;
        break;
      case Stdio::Kind::kFd:
        if (spec->fd() < 0) raise_os_error(EBADF);
        request.stdio[i] = spec->fd();
        break;
    }
  }
  m_pid = spawn(request);
  try {
    ExitWatch watch = watch_exit(m_pid);
    m_exit_fd = std::move(watch.fd);
    m_pidfd = watch.pidfd;
  } catch (...) {
    ::kill(m_pid, SIGKILL);
    while (::waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    m_reaped = true;
    throw;
  }
  m_loop->add_reader(m_exit_fd.get(), [self = self()] { self->exit_ready(); });
  register_child(*m_loop, self());
}

void SubprocessImpl::connect_pipes(Future<void> waiter) {
  std::exception_ptr failed;
  try {
    for (int fd = 0; fd < 3; ++fd) {
      const auto i = static_cast<std::size_t>(fd);
      if (!m_has_pipe[i]) continue;
      auto proto = std::make_shared<SubprocessPipeProto>(self(), fd);
      m_pipes[i] = proto;
      if (fd == 0) {
        proto->pipe =
            WritePipeTransport::create(*m_loop, std::move(m_parent_ends[i]), proto, std::nullopt);
      } else {
        proto->pipe =
            ReadPipeTransport::create(*m_loop, std::move(m_parent_ends[i]), proto, std::nullopt);
      }
    }
  } catch (...) {
    failed = std::current_exception();
    // The pipes that have no transport are not waited for; nothing is queued for a
    // connection_made() that will not come (subprocess_impl kills and waits for the child).
    for (std::size_t i = 0; i < 3; ++i) {
      if (m_pipes[i] && m_pipes[i]->pipe) continue;
      m_has_pipe[i] = false;
      m_pipes[i].reset();
      m_parent_ends[i].reset();
    }
    m_pending.reset();
  }
  m_loop->call_soon([self = self(), waiter, failed]() mutable {
    if (failed) {
      if (!waiter.done()) waiter.set_exception(failed);
      return;
    }
    if (self->m_loop == nullptr || !self->m_pending) return;
    self->m_loop->call_soon([self, protocol = self->m_protocol] {
      if (protocol) protocol->connection_made(self);
    });
    std::vector<std::function<void()>> pending = std::move(*self->m_pending);
    self->m_pending.reset();
    for (auto& callback : pending) self->m_loop->call_soon(std::move(callback));
    if (!waiter.done()) waiter.set_result();
  });
}

void SubprocessImpl::signal_child(int signal) {
  if (m_reaped || m_returncode) return;
  const long rc = m_pidfd ? ::syscall(SYS_pidfd_send_signal, m_exit_fd.get(), signal, nullptr, 0)
                          : ::kill(m_pid, signal);
  if (rc != 0 && errno != ESRCH) raise_errno();
}

void SubprocessImpl::kill_if_running() noexcept {
  if (m_pid <= 0 || m_reaped || m_returncode) return;
  // Exited but not yet reaped: nothing to kill (Python's poll() before its kill()).
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == m_pid) {
    return;
  }
  try {
    signal_child(SIGKILL);
  } catch (...) {  // NOLINT(bugprone-empty-catch): ProcessLookupError is ignored, as Python
  }
}

void SubprocessImpl::give_up_child() noexcept {
  kill_if_running();
  if (!m_pidfd && m_exit_fd) {
    // The watcher thread closes its end of the pipe once the child is gone, which a killed
    // child soon is: wait for that (a second at most), so that the loop's close leaves no
    // descriptor open behind it.
    pollfd watch{m_exit_fd.get(), POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      const int n = ::poll(&watch, 1, static_cast<int>(left.count()));
      if (n >= 0 || errno != EINTR) break;
    }
  }
  m_exit_fd.reset();
  reap_in_background(m_pid);
  m_reaped = true;
}

void SubprocessImpl::close() {
  if (m_closed) return;
  m_closed = true;
  for (const auto& proto : m_pipes) {
    if (proto && proto->pipe) proto->pipe->close();
  }
  kill_if_running();
}

void SubprocessImpl::exit_ready() {
  int status = 0;
  pid_t got = 0;
  do {
    got = ::waitpid(m_pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    if (m_pidfd) return;  // not yet
    // The thread's waitid() failed without the child exiting: watch again.
    m_loop->remove_reader(m_exit_fd.get());
    m_exit_fd.reset();
    ExitWatch watch = watch_exit(m_pid);
    m_exit_fd = std::move(watch.fd);
    m_pidfd = watch.pidfd;
    m_loop->add_reader(m_exit_fd.get(), [self = self()] { self->exit_ready(); });
    return;
  }
  m_loop->remove_reader(m_exit_fd.get());
  m_exit_fd.reset();
  m_reaped = true;
  int returncode = 0;
  if (got < 0) {
    // Reaped elsewhere (a waitpid(-1) in this process): Python's warning and 255.
    returncode = 255;
    m_loop->call_exception_handler(
        {fmt::format("Unknown child process pid {}, will report returncode 255", m_pid), nullptr,
         std::nullopt});
  } else {
    returncode = exit_code_of(status);
  }
  // Python's watcher callback goes through call_soon_threadsafe and then call_soon: the
  // pipes' last data, read in between, reaches the protocol first.
  m_loop->call_soon([self = self(), returncode] {
    if (self->m_loop == nullptr) return;
    self->m_loop->call_soon([self, returncode] { self->process_exited(returncode); });
  });
}

void SubprocessImpl::process_exited(int returncode) {
  if (m_returncode) return;
  m_returncode = returncode;
  call([protocol = m_protocol] { protocol->process_exited(); });
  try_finish();
}

void SubprocessImpl::try_finish() {
  if (m_finished || !m_returncode) return;
  for (std::size_t i = 0; i < 3; ++i) {
    if (m_has_pipe[i] && (!m_pipes[i] || !m_pipes[i]->disconnected)) return;
  }
  m_finished = true;
  call([self = self()] { self->call_connection_lost(); });
}

void SubprocessImpl::call_connection_lost() {
  struct Finally {
    SubprocessImpl* self;
    ~Finally() {
      for (Future<int>& waiter : self->m_exit_waiters) {
        if (!waiter.done()) waiter.set_result(*self->m_returncode);
      }
      self->m_exit_waiters.clear();
      self->m_finished_called = true;
      self->m_protocol.reset();
    }
  } finally{this};
  std::shared_ptr<SubprocessProtocol> protocol = m_protocol;
  if (protocol) protocol->connection_lost(nullptr);
}

Task<int> SubprocessImpl::wait(std::shared_ptr<SubprocessImpl> self) {
  if (self->m_returncode) co_return *self->m_returncode;
  if (self->m_loop == nullptr) throw RuntimeError("Event loop is closed");
  std::erase_if(self->m_exit_waiters, [](const Future<int>& f) { return f.done(); });
  Future<int> waiter(*self->m_loop);
  self->m_exit_waiters.push_back(waiter);
  co_return co_await waiter;
}

void SubprocessImpl::abandon() noexcept {
  if (m_loop == nullptr) return;
  m_closed = true;
  for (auto& proto : m_pipes) {
    if (!proto) continue;
    if (auto pipe = std::dynamic_pointer_cast<PipeTransport>(proto->pipe)) pipe->abandon();
    proto->abandon();
  }
  for (UniqueFd& end : m_parent_ends) end.reset();
  if (m_pid > 0 && !m_reaped) give_up_child();
  m_exit_fd.reset();
  m_pending.reset();
  m_exit_waiters.clear();
  m_finished = true;
  m_finished_called = true;
  m_protocol.reset();
  m_loop = nullptr;
}

std::string SubprocessImpl::repr() const {
  std::string out = "<_UnixSubprocessTransport";
  if (m_closed) out += " closed";
  if (m_pid > 0) out += fmt::format(" pid={}", m_pid);
  if (m_returncode) {
    out += fmt::format(" returncode={}", *m_returncode);
  } else if (m_pid > 0) {
    out += " running";
  } else {
    out += " not started";
  }
  const auto pipe_of = [&](std::size_t fd) -> std::shared_ptr<Transport> {
    return m_pipes[fd] ? m_pipes[fd]->pipe : nullptr;
  };
  if (auto in = pipe_of(0)) out += " stdin=" + in->repr();
  if (auto stdout_pipe = pipe_of(1)) out += " stdout=" + stdout_pipe->repr();
  if (auto stderr_pipe = pipe_of(2)) out += " stderr=" + stderr_pipe->repr();
  return out + ">";
}

// ---- loop.subprocess_exec / subprocess_shell ------------------------------------------------

namespace {

/// Python's os.get_exec_path(env) joined with executable, or executable alone when it
/// names a directory.
std::vector<std::string> exec_candidates(const std::string& executable,
                                         const std::optional<Environment>& env) {
  if (executable.find('/') != std::string::npos) return {executable};
  std::optional<std::string> path;
  if (env) {
    if (auto it = env->find("PATH"); it != env->end()) path = it->second;
  } else if (const char* value = std::getenv("PATH")) {  // NOLINT(concurrency-mt-unsafe)
    path = value;
  }
  const std::string dirs = path.value_or("/bin:/usr/bin");  // Python's os.defpath
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon - start);
    if (dir.empty()) {
      out.push_back(executable);
    } else {
      std::string joined = dir;
      if (dir.back() != '/') joined += '/';
      joined += executable;
      out.push_back(std::move(joined));
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

SpawnRequest make_request(std::vector<std::string> args, bool shell,
                          const SubprocessOptions& options) {
  SpawnRequest request;
  if (shell) {
    std::string cmd = std::move(args.at(0));
    args = {options.executable.value_or("/bin/sh"), "-c", std::move(cmd)};
  }
  for (const std::string& arg : args) check_no_nul(arg);
  request.executable = options.executable.value_or(args.at(0));
  check_no_nul(request.executable);
  request.argv = std::move(args);
  request.programs = exec_candidates(request.executable, options.env);
  if (options.cwd) {
    check_no_nul(*options.cwd);
    request.cwd = options.cwd;
  }
  if (options.env) {
    std::vector<std::string> env;
    env.reserve(options.env->size());
    for (const auto& [key, value] : *options.env) {
      check_no_nul(key);
      check_no_nul(value);
      if (key.find('=') != std::string::npos) {
        throw ValueError("illegal environment variable name");
      }
      std::string entry = key;
      entry += '=';
      entry += value;
      env.push_back(std::move(entry));
    }
    request.env = std::move(env);
  }
  for (const int fd : options.pass_fds) {
    if (fd < 0) throw ValueError("bad value(s) in fds_to_keep");
  }
  request.pass_fds = options.pass_fds;
  std::sort(request.pass_fds.begin(), request.pass_fds.end());
  request.pass_fds.erase(std::unique(request.pass_fds.begin(), request.pass_fds.end()),
                         request.pass_fds.end());
  // Python: "pass_fds overriding close_fds."
  request.close_fds = options.close_fds || !options.pass_fds.empty();
  request.restore_signals = options.restore_signals;
  request.new_session = options.start_new_session;
  request.umask = options.umask;
  request.pgid = options.process_group.value_or(-1);
  return request;
}

}  // namespace

Task<SubprocessPair> subprocess_impl(EventLoop& loop, SubprocessProtocolFactory factory,
                                     std::vector<std::string> args, bool shell,
                                     SubprocessOptions options) {
  SpawnRequest request = make_request(std::move(args), shell, options);
  std::shared_ptr<SubprocessProtocol> protocol = factory();
  if (!protocol) throw TypeError("the protocol factory returned no protocol");
  auto transport = std::make_shared<SubprocessImpl>(loop, protocol);
  const std::array<std::optional<StderrStdio>, 3> stdio = {
      options.stdin ? std::optional<StderrStdio>(*options.stdin) : std::nullopt,
      options.stdout ? std::optional<StderrStdio>(*options.stdout) : std::nullopt, options.stderr};
  transport->start(std::move(request), stdio, options.pipesize);
  Future<void> waiter(loop);
  transport->connect_pipes(waiter);
  std::exception_ptr failed;
  try {
    co_await waiter;
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    if (is_exit_exception(failed)) std::rethrow_exception(failed);
    // Python: close (which kills the child), wait for it, re-raise.
    transport->close();
    (void)co_await SubprocessImpl::wait(transport);
    std::rethrow_exception(failed);
  }
  co_return SubprocessPair(std::move(transport), std::move(protocol));
}

// ---- asyncio.subprocess ---------------------------------------------------------------------

namespace {

/// Python's asyncio.subprocess.SubprocessStreamProtocol: StreamReaders for stdout and stderr
/// fed from the pipes, and a StreamWriter for stdin whose drain() this flow control serves.
/// The StreamWriter, which holds this protocol, is made by Process: kept here, it would make
/// a reference cycle.
class SubprocessStreamProtocol final : public SubprocessProtocol, public FlowControl {
 public:
  SubprocessStreamProtocol(std::size_t limit, EventLoop& loop)
      : FlowControl(loop), m_limit(limit), m_stdin_closed(loop) {}

  void connection_made(std::shared_ptr<SubprocessTransport> transport) override {
    m_transport = transport;
    if (auto pipe = transport->get_pipe_transport(1)) {
      stdout_reader.emplace(m_limit, &loop());
      stdout_reader->set_transport(pipe);
      m_pipe_fds.push_back(1);
    }
    if (auto pipe = transport->get_pipe_transport(2)) {
      stderr_reader.emplace(m_limit, &loop());
      stderr_reader->set_transport(pipe);
      m_pipe_fds.push_back(2);
    }
    stdin_pipe = transport->get_pipe_transport(0);
  }
  void pipe_data_received(int fd, std::string_view data) override {
    if (auto* reader = reader_of(fd)) reader->feed_data(data);
  }
  void pipe_connection_lost(int fd, std::exception_ptr exc) override {
    if (fd == 0) {
      if (stdin_pipe) stdin_pipe->close();
      if (!connection_is_lost()) flow_lost(exc);
      if (!m_stdin_closed.done()) {
        if (exc) {
          m_stdin_closed.set_exception(exc);
          // wait_closed() need not be called: the error is not "never retrieved".
          (void)m_stdin_closed.exception();
        } else {
          m_stdin_closed.set_result();
        }
      }
      return;
    }
    if (auto* reader = reader_of(fd)) {
      if (exc) {
        reader->set_exception(exc);
      } else {
        reader->feed_eof();
      }
    }
    std::erase(m_pipe_fds, fd);
    maybe_close_transport();
  }
  void process_exited() override {
    m_process_exited = true;
    maybe_close_transport();
  }
  void pause_writing() override { flow_pause(); }
  void resume_writing() override { flow_resume(); }
  /// Python's _get_close_waiter(stdin): done when stdin's pipe is lost.
  Future<void> get_close_waiter() override { return m_stdin_closed; }
  void connection_lost(std::exception_ptr exc) override {
    // After stdin's pipe (above) or when the transport finishes: FlowControl hears the first.
    if (!connection_is_lost()) flow_lost(std::move(exc));
  }

  std::shared_ptr<Transport> stdin_pipe;
  std::optional<StreamReader> stdout_reader;
  std::optional<StreamReader> stderr_reader;

 private:
  StreamReader* reader_of(int fd) {
    if (fd == 1 && stdout_reader) return &*stdout_reader;
    if (fd == 2 && stderr_reader) return &*stderr_reader;
    return nullptr;
  }
  void maybe_close_transport() {
    if (m_pipe_fds.empty() && m_process_exited && m_transport) {
      m_transport->close();
      m_transport.reset();
    }
  }

  std::size_t m_limit;
  std::shared_ptr<SubprocessTransport> m_transport;
  std::vector<int> m_pipe_fds;
  bool m_process_exited = false;
  Future<void> m_stdin_closed;
};

}  // namespace

struct ProcessState {
  std::shared_ptr<SubprocessImpl> transport;
  std::shared_ptr<SubprocessStreamProtocol> protocol;
  std::optional<StreamWriter> stdin_writer;
  std::optional<StreamReader> stdout_reader;
  std::optional<StreamReader> stderr_reader;
  int pid = -1;
};

Task<Process> create_subprocess_impl(std::vector<std::string> args, bool shell,
                                     CreateSubprocessOptions options) {
  EventLoop& loop = get_running_loop();
  if (options.limit == 0) throw ValueError("Limit cannot be <= 0");
  const std::size_t limit = options.limit;
  SubprocessProtocolFactory factory = [limit, &loop]() -> std::shared_ptr<SubprocessProtocol> {
    return std::make_shared<SubprocessStreamProtocol>(limit, loop);
  };
  SubprocessOptions loop_options{
      .stdin = options.stdin,
      .stdout = options.stdout,
      .stderr = options.stderr,
      .executable = std::move(options.executable),
      .close_fds = options.close_fds,
      .cwd = std::move(options.cwd),
      .env = std::move(options.env),
      .restore_signals = options.restore_signals,
      .start_new_session = options.start_new_session,
      .pass_fds = std::move(options.pass_fds),
      .umask = options.umask,
      .pipesize = options.pipesize,
      .process_group = options.process_group,
  };
  SubprocessPair made = co_await subprocess_impl(loop, std::move(factory), std::move(args), shell,
                                                 std::move(loop_options));
  auto state = std::make_shared<ProcessState>();
  state->transport = std::static_pointer_cast<SubprocessImpl>(made.first);
  state->protocol = std::static_pointer_cast<SubprocessStreamProtocol>(made.second);
  if (state->protocol->stdin_pipe) {
    state->stdin_writer.emplace(state->protocol->stdin_pipe, state->protocol, std::nullopt, loop);
  }
  state->stdout_reader = state->protocol->stdout_reader;
  state->stderr_reader = state->protocol->stderr_reader;
  state->pid = state->transport->get_pid();
  co_return Process(std::move(state));
}

namespace {

Task<void> feed_stdin(StreamWriter writer, std::string input) {
  try {
    writer.write(input);
    co_await writer.drain();
  } catch (const BrokenPipeError&) {       // NOLINT(bugprone-empty-catch): Python ignores them
  } catch (const ConnectionResetError&) {  // NOLINT(bugprone-empty-catch)
  }
  writer.close();
}

Task<void> nothing() { co_return; }
Task<std::string> no_output() { co_return std::string(); }

Task<std::string> read_stream(std::shared_ptr<ProcessState> state, int fd) {
  std::shared_ptr<Transport> transport = state->transport->get_pipe_transport(fd);
  StreamReader stream = fd == 2 ? *state->stderr_reader : *state->stdout_reader;
  std::string output = co_await stream.read();
  if (transport) transport->close();
  co_return output;
}

Task<std::pair<std::string, std::string>> communicate_impl(std::shared_ptr<ProcessState> state,
                                                           std::optional<std::string> input) {
  if (input && !state->stdin_writer) {
    throw ValueError("communicate() got input, but stdin is not a PIPE");
  }
  Task<void> in = input ? feed_stdin(*state->stdin_writer, std::move(*input)) : nothing();
  Task<std::string> out = state->stdout_reader ? read_stream(state, 1) : no_output();
  Task<std::string> err = state->stderr_reader ? read_stream(state, 2) : no_output();
  auto results = co_await gather(std::move(in), std::move(out), std::move(err));
  (void)co_await SubprocessImpl::wait(state->transport);
  co_return std::pair<std::string, std::string>(std::move(std::get<1>(results)),
                                                std::move(std::get<2>(results)));
}

}  // namespace

// ---- connect_read_pipe / connect_write_pipe -------------------------------------------------

Task<PipePair> connect_read_pipe_impl(EventLoop& loop, AnyProtocolFactory factory, int fd) {
  UniqueFd owned(fd);
  std::shared_ptr<BaseProtocol> protocol = factory();
  auto stream = std::dynamic_pointer_cast<Protocol>(protocol);
  if (!stream) throw TypeError("connect_read_pipe() needs a Protocol");
  Future<void> waiter(loop);
  std::shared_ptr<Transport> transport =
      ReadPipeTransport::create(loop, std::move(owned), stream, waiter);
  std::exception_ptr failed;
  try {
    co_await waiter;
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    transport->close();
    std::rethrow_exception(failed);
  }
  co_return PipePair(std::move(transport), std::move(protocol));
}

Task<PipePair> connect_write_pipe_impl(EventLoop& loop, AnyProtocolFactory factory, int fd) {
  UniqueFd owned(fd);
  std::shared_ptr<BaseProtocol> protocol = factory();
  if (!protocol) throw TypeError("the protocol factory returned no protocol");
  Future<void> waiter(loop);
  std::shared_ptr<Transport> transport =
      WritePipeTransport::create(loop, std::move(owned), protocol, waiter);
  std::exception_ptr failed;
  try {
    co_await waiter;
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    transport->close();
    std::rethrow_exception(failed);
  }
  co_return PipePair(std::move(transport), std::move(protocol));
}

void force_child_watcher_thread(bool on) noexcept {
  g_force_thread_watcher.store(on, std::memory_order_relaxed);
}

}  // namespace detail

// ---- Process --------------------------------------------------------------------------------

int Process::pid() const noexcept { return m_state->pid; }

std::optional<int> Process::returncode() const { return m_state->transport->get_returncode(); }

std::optional<StreamWriter> Process::stdin() const { return m_state->stdin_writer; }
std::optional<StreamReader> Process::stdout() const { return m_state->stdout_reader; }
std::optional<StreamReader> Process::stderr() const { return m_state->stderr_reader; }

Task<int> Process::wait() { return detail::SubprocessImpl::wait(m_state->transport); }

Task<std::pair<std::string, std::string>> Process::communicate(std::optional<std::string> input) {
  return detail::communicate_impl(m_state, std::move(input));
}

void Process::send_signal(int sig) { m_state->transport->send_signal(sig); }
void Process::terminate() { m_state->transport->terminate(); }
void Process::kill() { m_state->transport->kill(); }

std::shared_ptr<SubprocessTransport> Process::transport() const { return m_state->transport; }

std::string Process::repr() const { return fmt::format("<Process {}>", m_state->pid); }

}  // namespace batteries::asyncio
