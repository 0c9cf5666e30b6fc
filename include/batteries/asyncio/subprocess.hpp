// asyncio's subprocesses: create_subprocess_exec / create_subprocess_shell and Process
// (Python's asyncio.subprocess), the loop's subprocess_exec / subprocess_shell over a
// SubprocessProtocol, and connect_read_pipe / connect_write_pipe.
//
//   p = await asyncio.create_subprocess_exec('ls', '-l', stdout=PIPE)
//                        auto p = co_await create_subprocess_exec("ls", args, {.stdout = PIPE});
//   p = await asyncio.create_subprocess_shell('ls | wc -l', stdout=PIPE, stderr=STDOUT)
//                        co_await create_subprocess_shell("ls | wc -l",
//                                                         {.stdout = PIPE, .stderr = STDOUT});
//   out, err = await p.communicate(b'input')
//                        auto [out, err] = co_await p.communicate("input");
//   await p.wait(); p.returncode
//                        co_await p.wait(); p.returncode()
//   await loop.subprocess_exec(P, 'ls', '-l')
//                        co_await subprocess_exec(loop, factory, "ls", args);
//
// The child is started with vfork() and execve(), as CPython's _posixsubprocess does.
// Between the two the child makes only async-signal-safe calls (no allocation, no locks): it
// closes every descriptor from 3 up but pass_fds (close_fds=true), resets every signal to
// SIG_DFL (restore_signals=true; signals with a handler are always reset) and starts with an
// empty signal mask. A failure in the child before exec (program not found, bad cwd) comes
// back through a close-on-exec pipe and is raised in the parent as Python raises it:
// FileNotFoundError("[Errno 2] No such file or directory: 'nope'"). Every descriptor the
// parent keeps is close-on-exec.
//
// GCC 12 destroys twice a braced temporary that owns memory inside a co_await expression
// ({"-l"}, {.cwd = dir}): name the arguments or the options first (docs/asyncio.md).
//
// The child's exit is watched through a pidfd (pidfd_open(2), Linux 5.3) that the loop polls;
// where the kernel refuses pidfd_open, a thread per child waits for it (waitid with WNOWAIT,
// so the loop's thread still reaps the child and send_signal() never reaches a recycled pid)
// and wakes the loop by closing a pipe. Nothing else reaps the children, and no SIGCHLD
// handler is installed. Writes to a pipe whose reader has gone give BrokenPipeError, never a
// SIGPIPE that kills the process: SIGPIPE is blocked in the writing thread around write(),
// and the one the write raised is consumed with sigtimedwait().
//
// Differences from Python:
//   - Options are a struct: create_subprocess_exec's default for stdin/stdout/stderr is
//     nullopt (Python's None: inherit), loop.subprocess_exec's is PIPE, as in Python.
//     STDOUT is accepted for stderr only, at compile time.
//   - Python's text, encoding, errors, universal_newlines, bufsize and shell arguments have no
//     C++ form (data is raw bytes in std::string; exec and shell are different functions), so
//     the ValueErrors Python raises for them cannot happen. preexec_fn, user, group and
//     extra_groups are not offered.
//   - communicate() returns "" for a stream that is not a pipe (Python's None); input for a
//     stdin that is not a pipe is a ValueError (Python fails with an AttributeError).
//   - restore_signals=true resets every signal to SIG_DFL in the child, not only the three
//     Python ignores itself (a C++ program has no Python start-up to undo).
//   - When the loop closes with children still running, their transports are closed as
//     Python's garbage collector would: the children are killed (and reaped by a thread), the
//     pipes closed.
//
// Thread-safety: Process, the transports and the protocols belong to their loop's thread.
#pragma once

#include <batteries/asyncio/streams.hpp>
#include <batteries/asyncio/task.hpp>
#include <batteries/asyncio/transports.hpp>
#include <batteries/errors.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace batteries::asyncio {

// ---- where a standard stream goes -----------------------------------------------------------

/// The types of PIPE, DEVNULL and STDOUT.
struct PipeTag {
  explicit constexpr PipeTag() = default;
};
struct DevNullTag {
  explicit constexpr DevNullTag() = default;
};
struct StdoutTag {
  explicit constexpr StdoutTag() = default;
};
/// Python's asyncio.subprocess.PIPE: a new pipe to the child, read or written through the
/// Process's streams (or the transport's pipe transports).
inline constexpr PipeTag PIPE{};
/// Python's DEVNULL: /dev/null.
inline constexpr DevNullTag DEVNULL{};
/// Python's STDOUT: stderr goes where the child's stdout goes (for stderr only).
inline constexpr StdoutTag STDOUT{};

/// Where the child's stdin or stdout goes: PIPE, DEVNULL, or a descriptor of this process
/// that the child gets as the stream (Python's file object or fd; the caller keeps it and
/// closes it). std::nullopt, Python's None, leaves the parent's own stream to the child.
class Stdio {
 public:
  enum class Kind : std::uint8_t { kPipe, kDevNull, kStdout, kFd };

  constexpr Stdio(PipeTag /*unused*/) noexcept : m_kind(Kind::kPipe) {}        // NOLINT
  constexpr Stdio(DevNullTag /*unused*/) noexcept : m_kind(Kind::kDevNull) {}  // NOLINT
  /// A descriptor: an int, not anything that converts to one.
  template <std::same_as<int> Fd>
  constexpr Stdio(Fd fd) noexcept : m_kind(Kind::kFd), m_fd(fd) {}  // NOLINT

  [[nodiscard]] constexpr Kind kind() const noexcept { return m_kind; }
  /// The descriptor, for Kind::kFd; -1 otherwise.
  [[nodiscard]] constexpr int fd() const noexcept { return m_fd; }
  friend constexpr bool operator==(const Stdio&, const Stdio&) = default;

 protected:
  constexpr explicit Stdio(Kind kind) noexcept : m_kind(kind) {}

 private:
  Kind m_kind;
  int m_fd = -1;
};

/// Where the child's stderr goes: what Stdio takes, or STDOUT.
class StderrStdio : public Stdio {
 public:
  using Stdio::Stdio;
  constexpr StderrStdio(Stdio stdio) noexcept : Stdio(stdio) {}                   // NOLINT
  constexpr StderrStdio(StdoutTag /*unused*/) noexcept : Stdio(Kind::kStdout) {}  // NOLINT
};

/// The child's environment (Python's env mapping): it replaces this process's entirely.
using Environment = std::map<std::string, std::string>;

/// Python's asyncio.create_subprocess_exec() / create_subprocess_shell() keyword
/// arguments: the streams (default: inherited), the readers' limit, then subprocess.Popen's
/// arguments with Popen's defaults.
struct CreateSubprocessOptions {
  std::optional<Stdio> stdin = {};
  std::optional<Stdio> stdout = {};
  std::optional<StderrStdio> stderr = {};
  std::size_t limit = kDefaultStreamLimit;  ///< of the stdout and stderr StreamReaders
  /// The program to run instead of args[0] (which the child still sees as its argv[0]);
  /// for the shell functions, the shell instead of /bin/sh.
  std::optional<std::string> executable = {};
  /// Close every descriptor from 3 up in the child, but pass_fds.
  bool close_fds = true;
  /// The child's working directory; a relative program is looked up from it.
  std::optional<std::string> cwd = {};
  /// The child's whole environment; nullopt: this process's.
  std::optional<Environment> env = {};
  /// Reset every signal to SIG_DFL in the child (false: ignored signals stay ignored).
  bool restore_signals = true;
  /// setsid() in the child.
  bool start_new_session = false;
  /// Descriptors the child keeps, under the same numbers (close_fds is then forced on).
  std::vector<int> pass_fds = {};
  /// umask() in the child, when >= 0.
  int umask = -1;
  /// F_SETPIPE_SZ on the new pipes, when > 0.
  int pipesize = -1;
  /// setpgid(0, process_group) in the child (Python 3.11).
  std::optional<int> process_group = {};
};

/// loop.subprocess_exec() / subprocess_shell() keyword arguments: those of
/// CreateSubprocessOptions but limit, and every stream a PIPE by default, as in Python.
struct SubprocessOptions {
  std::optional<Stdio> stdin = PIPE;
  std::optional<Stdio> stdout = PIPE;
  std::optional<StderrStdio> stderr = PIPE;
  std::optional<std::string> executable = {};
  bool close_fds = true;
  std::optional<std::string> cwd = {};
  std::optional<Environment> env = {};
  bool restore_signals = true;
  bool start_new_session = false;
  std::vector<int> pass_fds = {};
  int umask = -1;
  int pipesize = -1;
  std::optional<int> process_group = {};
};

// ---- Process --------------------------------------------------------------------------------

namespace detail {
struct ProcessState;
}

/// Python's asyncio.subprocess.Process: a handle to a child made by create_subprocess_exec()
/// or create_subprocess_shell(); copies refer to the same process.
class Process {
 public:
  explicit Process(std::shared_ptr<detail::ProcessState> state) noexcept
      : m_state(std::move(state)) {}

  [[nodiscard]] int pid() const noexcept;
  /// nullopt while the child runs (or before the loop has seen it exit); its exit status,
  /// or -N when signal N killed it.
  [[nodiscard]] std::optional<int> returncode() const;
  /// The writer of the child's stdin, when it is a PIPE.
  [[nodiscard]] std::optional<StreamWriter> stdin() const;
  /// The readers of the child's stdout and stderr, when they are PIPEs.
  [[nodiscard]] std::optional<StreamReader> stdout() const;
  [[nodiscard]] std::optional<StreamReader> stderr() const;

  /// Waits for the child to exit and returns returncode. With stdout or stderr a PIPE that
  /// nobody reads, a child that writes much blocks and this waits forever, as in Python:
  /// use communicate(). Cancelling it leaves the process running, to be waited for again.
  Task<int> wait();
  /// Python's communicate(input=None): writes input to stdin (then closes it) while reading
  /// stdout and stderr to their end, concurrently, then waits for the child. Returns
  /// (stdout, stderr), "" for a stream that is not a PIPE. A child that stops reading its
  /// stdin (BrokenPipeError, ConnectionResetError) is not an error. ValueError when input is
  /// given and stdin is not a PIPE. Cancelled, it leaves the process running.
  Task<std::pair<std::string, std::string>> communicate(
      std::optional<std::string> input = std::nullopt);

  /// Sends signal sig. Does nothing once the child is known to have exited and is not yet
  /// waited for; ProcessLookupError once the transport is closed (Python's behaviour). An
  /// invalid signal is an OSError (EINVAL).
  void send_signal(int sig);
  /// send_signal(SIGTERM) and send_signal(SIGKILL).
  void terminate();
  void kill();

  /// The transport underneath (Python's Process._transport).
  [[nodiscard]] std::shared_ptr<SubprocessTransport> transport() const;
  /// Python's repr(): <Process 1234>.
  [[nodiscard]] std::string repr() const;
  [[nodiscard]] std::string str() const { return repr(); }
  friend std::ostream& operator<<(std::ostream& os, const Process& p) { return os << p.repr(); }

  [[nodiscard]] const std::shared_ptr<detail::ProcessState>& state() const noexcept {
    return m_state;
  }

 private:
  std::shared_ptr<detail::ProcessState> m_state;
};

namespace detail {

using SubprocessProtocolFactory = std::function<std::shared_ptr<SubprocessProtocol>()>;
using SubprocessPair =
    std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<SubprocessProtocol>>;

/// loop.subprocess_exec (shell false: args is the program and its arguments) and
/// loop.subprocess_shell (shell true: args is the one command).
Task<SubprocessPair> subprocess_impl(EventLoop& loop, SubprocessProtocolFactory factory,
                                     std::vector<std::string> args, bool shell,
                                     SubprocessOptions options);
Task<Process> create_subprocess_impl(std::vector<std::string> args, bool shell,
                                     CreateSubprocessOptions options);

using PipePair = std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>;
Task<PipePair> connect_read_pipe_impl(EventLoop& loop, AnyProtocolFactory factory, int fd);
Task<PipePair> connect_write_pipe_impl(EventLoop& loop, AnyProtocolFactory factory, int fd);

template <class P>
Task<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<P>>> typed_subprocess_pair(
    Task<SubprocessPair> made) {
  auto [transport, protocol] = co_await std::move(made);
  co_return std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<P>>(
      std::move(transport), std::static_pointer_cast<P>(std::move(protocol)));
}

/// For tests: watch children with a thread each, as where pidfd_open() is refused. The
/// environment variable BATTERIES_ASYNCIO_NO_PIDFD=1 does the same for a whole process.
void force_child_watcher_thread(bool on) noexcept;

}  // namespace detail

// ---- the asyncio.subprocess functions -------------------------------------------------------

/// Python's asyncio.create_subprocess_exec(program, *args, **options), on the running loop:
/// runs program (looked up in the PATH of options.env, else of this process, when it has no
/// '/') with args. FileNotFoundError, PermissionError, ... when it cannot be run, with the
/// program's name; FileNotFoundError naming cwd when cwd does not exist. ValueError for an
/// argument with a NUL byte, or an environment variable name with '=' or empty.
inline Task<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                            CreateSubprocessOptions options = {}) {
  args.insert(args.begin(), std::move(program));
  return detail::create_subprocess_impl(std::move(args), false, std::move(options));
}

/// Python's asyncio.create_subprocess_shell(cmd, **options): /bin/sh -c cmd.
inline Task<Process> create_subprocess_shell(std::string cmd,
                                             CreateSubprocessOptions options = {}) {
  std::vector<std::string> args;
  args.push_back(std::move(cmd));
  return detail::create_subprocess_impl(std::move(args), true, std::move(options));
}

// ---- the loop methods -----------------------------------------------------------------------

/// Python's loop.subprocess_exec(protocol_factory, program, *args, **options): starts the
/// child and returns its transport and the protocol, once protocol->connection_made() has
/// run. The protocol then hears pipe_data_received(fd, data), pipe_connection_lost(fd, exc),
/// process_exited() and, once the child has exited and every pipe is closed,
/// connection_lost(nullptr), in Python's order. The transport's close() kills a child that
/// still runs.
template <ProtocolFactoryOf<SubprocessProtocol> F>
Task<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<factory_protocol_t<F>>>>
subprocess_exec(EventLoop& loop, F protocol_factory, std::string program,
                std::vector<std::string> args = {},
                SubprocessOptions options = {}) {  // NOLINT(performance-unnecessary-value-param)
  args.insert(args.begin(), std::move(program));
  return detail::typed_subprocess_pair<factory_protocol_t<F>>(detail::subprocess_impl(
      loop,
      [factory = std::move(protocol_factory)]() mutable -> std::shared_ptr<SubprocessProtocol> {
        return factory();
      },
      std::move(args), false, std::move(options)));
}

/// Python's loop.subprocess_shell(protocol_factory, cmd, **options): /bin/sh -c cmd.
template <ProtocolFactoryOf<SubprocessProtocol> F>
Task<std::pair<std::shared_ptr<SubprocessTransport>, std::shared_ptr<factory_protocol_t<F>>>>
subprocess_shell(EventLoop& loop, F protocol_factory, std::string cmd,
                 SubprocessOptions options = {}) {  // NOLINT(performance-unnecessary-value-param)
  std::vector<std::string> args;
  args.push_back(std::move(cmd));
  return detail::typed_subprocess_pair<factory_protocol_t<F>>(detail::subprocess_impl(
      loop,
      [factory = std::move(protocol_factory)]() mutable -> std::shared_ptr<SubprocessProtocol> {
        return factory();
      },
      std::move(args), true, std::move(options)));
}

/// Python's loop.connect_read_pipe(protocol_factory, pipe): a read transport over fd (a
/// pipe, socket or character device; ValueError otherwise), which it now owns and closes.
/// The protocol is a Protocol. The transport's write half raises NotImplementedError.
template <ProtocolFactoryOf<Protocol> F>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<factory_protocol_t<F>>>>
connect_read_pipe(EventLoop& loop, F protocol_factory, int fd) {
  return detail::typed_pair<factory_protocol_t<F>>(
      detail::connect_read_pipe_impl(loop, detail::erase_factory(std::move(protocol_factory)), fd));
}

/// Python's loop.connect_write_pipe(protocol_factory, pipe): a write transport over fd,
/// which it now owns and closes; the protocol is any BaseProtocol (connection_made() is
/// called when it is a Protocol). The transport's read half raises NotImplementedError.
template <ProtocolFactoryOf<BaseProtocol> F>
Task<std::pair<std::shared_ptr<Transport>, std::shared_ptr<factory_protocol_t<F>>>>
connect_write_pipe(EventLoop& loop, F protocol_factory, int fd) {
  return detail::typed_pair<factory_protocol_t<F>>(detail::connect_write_pipe_impl(
      loop, detail::erase_factory(std::move(protocol_factory)), fd));
}

}  // namespace batteries::asyncio
