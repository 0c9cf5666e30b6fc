// Tests of asyncio's subprocesses: create_subprocess_exec/shell and Process, the loop's
// subprocess_exec with a SubprocessProtocol, the pipe transports, and the thread watcher that
// stands in for pidfd. Every test checks that it left no descriptor open, and runs under a
// timeout so that a deadlock fails instead of hanging.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <batteries/asyncio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "fd_leaks.hpp"
#include "fds.hpp"
#include "fs.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Process;
using aio::Task;
using batteries::BrokenPipeError;
using batteries::ConnectionResetError;
using batteries::FileNotFoundError;
using batteries::PermissionError;
using batteries::ProcessLookupError;
using batteries::TimeoutError;
using batteries::ValueError;
using Args = std::vector<std::string>;

namespace {

// ---- helpers --------------------------------------------------------------------------------

using batteries::testing::NoFdLeak;

// GCC 12 destroys twice an aggregate temporary that a co_await expression's call takes:
// options that own memory (cwd, env, executable, pass_fds) are named variables here.

// Runs body under a deadline: a deadlock fails the test (TimeoutError) instead of hanging it.
template <class T>
T run_bounded(Task<T> body, double timeout = 100.0) {
  return aio::run(aio::wait_for(std::move(body), timeout));
}

// Watches children with threads (the fallback for kernels without pidfd) while it lives.
class ThreadWatcher {
 public:
  ThreadWatcher() { aio::detail::force_child_watcher_thread(true); }
  ThreadWatcher(const ThreadWatcher&) = delete;
  ThreadWatcher& operator=(const ThreadWatcher&) = delete;
  ~ThreadWatcher() { aio::detail::force_child_watcher_thread(false); }
};

// A checksum of bytes, 8 at a time (fast enough under the sanitizers for 100 MB).
struct Checksum {
  std::uint64_t hash = 1469598103934665603ULL;
  std::uint64_t size = 0;
  std::uint64_t tail = 0;  // bytes not yet folded, packed
  unsigned tail_len = 0;

  void fold(std::uint64_t word) { hash = (hash ^ word) * 1099511628211ULL; }
  void update(std::string_view data) {
    size += data.size();
    std::size_t i = 0;
    while (tail_len != 0 && tail_len < 8 && i < data.size()) {
      tail |= std::uint64_t{static_cast<unsigned char>(data[i++])} << (8 * tail_len++);
    }
    if (tail_len == 8) {
      fold(tail);
      tail = 0;
      tail_len = 0;
    }
    for (; i + 8 <= data.size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, data.data() + i, 8);
      fold(word);
    }
    for (; i < data.size(); ++i) {
      tail |= std::uint64_t{static_cast<unsigned char>(data[i])} << (8 * tail_len++);
    }
  }
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> digest() const {
    Checksum copy = *this;
    if (copy.tail_len != 0) copy.fold(copy.tail ^ (std::uint64_t{copy.tail_len} << 60U));
    return {copy.hash, copy.size};
  }
};

// Deterministic, not compressible, different in every 8-byte word.
std::string pattern(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13U;
    x ^= x >> 7U;
    x ^= x << 17U;
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  return out;
}

// A field of /proc/<pid>/stat: 5 is the process group, 6 the session.
long stat_field(int pid, int field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  std::istringstream rest(text.substr(close + 2));
  std::string value;
  for (int i = 3; i <= field; ++i) rest >> value;
  return std::stol(value);
}

// Whether pid names a process that is alive or a zombie.
bool process_exists(int pid) { return ::kill(pid, 0) == 0; }

// ---- the Stdio types ------------------------------------------------------------------------

static_assert(std::is_convertible_v<aio::PipeTag, std::optional<aio::Stdio>>);
static_assert(std::is_convertible_v<aio::DevNullTag, std::optional<aio::Stdio>>);
static_assert(std::is_convertible_v<int, std::optional<aio::Stdio>>);
static_assert(!std::is_convertible_v<aio::StdoutTag, std::optional<aio::Stdio>>,
              "STDOUT is for stderr only");
static_assert(std::is_convertible_v<aio::StdoutTag, std::optional<aio::StderrStdio>>);
static_assert(!std::is_convertible_v<bool, aio::Stdio>, "an fd is an int, not a bool");

// ---- running and output ---------------------------------------------------------------------

TEST(Subprocess, ExecEcho) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"hello", "world"};
    Process p = co_await aio::create_subprocess_exec("echo", args, {.stdout = aio::PIPE});
    EXPECT_GT(p.pid(), 0);
    EXPECT_EQ(p.repr(), "<Process " + std::to_string(p.pid()) + ">");
    EXPECT_FALSE(p.stdin());
    EXPECT_TRUE(p.stdout());
    EXPECT_FALSE(p.stderr());
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "hello world\n");
    EXPECT_EQ(err, "");
    EXPECT_EQ(p.returncode(), 0);
  }());
}

TEST(Subprocess, ShellEcho) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_shell("echo $((40 + 2)); echo oops >&2; exit 5",
                                                      {.stdout = aio::PIPE, .stderr = aio::PIPE});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "42\n");
    EXPECT_EQ(err, "oops\n");
    EXPECT_EQ(p.returncode(), 5);
  }());
}

TEST(Subprocess, ReadLinesFromStdout) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_shell("for i in 1 2 3; do echo line$i; done",
                                                      {.stdout = aio::PIPE});
    std::vector<std::string> lines;
    while (true) {
      std::string line = co_await p.stdout()->readline();
      if (line.empty()) break;
      lines.push_back(line);
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"line1\n", "line2\n", "line3\n"}));
    EXPECT_EQ(co_await p.wait(), 0);
  }());
}

TEST(Subprocess, StderrToStdout) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_shell("echo out; echo err >&2; echo out2",
                                                      {.stdout = aio::PIPE, .stderr = aio::STDOUT});
    EXPECT_FALSE(p.stderr());
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "out\nerr\nout2\n");
    EXPECT_EQ(err, "");
  }());
}

TEST(Subprocess, DevNull) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    // stdin from /dev/null: cat sees EOF at once.
    Process cat = co_await aio::create_subprocess_exec(
        "cat", {}, {.stdin = aio::DEVNULL, .stdout = aio::PIPE, .stderr = aio::DEVNULL});
    auto [out, err] = co_await cat.communicate();
    EXPECT_EQ(out, "");
    EXPECT_EQ(cat.returncode(), 0);
    // stdout to /dev/null.
    const Args args{"-c", "echo lost; echo kept >&2"};
    Process sh = co_await aio::create_subprocess_exec(
        "sh", args, {.stdout = aio::DEVNULL, .stderr = aio::PIPE});
    auto [out2, err2] = co_await sh.communicate();
    EXPECT_EQ(out2, "");
    EXPECT_EQ(err2, "kept\n");
  }());
}

TEST(Subprocess, DescriptorAsStream) {
  NoFdLeak check;
  batteries::testing::Pipe pipe;
  run_bounded([](int write_end) -> Task<void> {
    Process p = co_await aio::create_subprocess_shell("echo to-fd; echo to-err >&2",
                                                      {.stdout = write_end, .stderr = aio::STDOUT});
    EXPECT_EQ(co_await p.wait(), 0);
  }(pipe.write_end.get()));
  pipe.write_end.reset();
  std::string got;
  for (int i = 0; i < 100; ++i) {
    const std::string chunk = pipe.read_end.read();
    if (chunk.empty()) break;
    got += chunk;
  }
  EXPECT_EQ(got, "to-fd\nto-err\n");
}

TEST(Subprocess, CommunicateWithInput) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p =
        co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    auto [out, err] = co_await p.communicate("some input\n");
    EXPECT_EQ(out, "some input\n");
    EXPECT_EQ(p.returncode(), 0);
    // Empty input still closes stdin.
    const Args wc_args{"-c"};
    Process q = co_await aio::create_subprocess_exec("wc", wc_args,
                                                     {.stdin = aio::PIPE, .stdout = aio::PIPE});
    auto [count, err2] = co_await q.communicate("");
    EXPECT_EQ(std::stoi(count), 0);
    // stdin's writer: wait_closed() returns once the pipe is closed.
    Process r =
        co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    aio::StreamWriter w = *r.stdin();
    w.write("abc");
    EXPECT_TRUE(w.can_write_eof());
    w.close();
    EXPECT_TRUE(w.is_closing());
    co_await w.wait_closed();
    EXPECT_EQ(co_await r.stdout()->read(), "abc");
    EXPECT_EQ(co_await r.wait(), 0);
  }());
}

TEST(Subprocess, CommunicateInputNeedsAPipe) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_exec("true", {}, {});
    EXPECT_RAISES_MSG(co_await p.communicate("x"), ValueError, "stdin is not a PIPE");
    EXPECT_EQ(co_await p.wait(), 0);
  }());
}

// ---- large data: no deadlock, bounded memory ------------------------------------------------

constexpr std::size_t kTotal = 100U << 20U;
constexpr std::size_t kChunk = 256U << 10U;

// 100 MB through cat: a task writes stdin with drain() while another reads stdout. Flow
// control keeps both buffers bounded: the writer waits in drain() while cat's output is not
// read, and the reader's transport pauses while the reader is behind.
TEST(Subprocess, Stream100MegabytesThroughCat) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p =
        co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    aio::StreamWriter in = *p.stdin();
    aio::StreamReader out = *p.stdout();
    const std::string block = pattern(kChunk + 8, 7);

    std::size_t most_buffered = 0;
    auto writer = [](aio::StreamWriter w, const std::string* data,
                     std::size_t* most) -> Task<std::pair<std::uint64_t, std::uint64_t>> {
      Checksum sum;
      for (std::size_t sent = 0, i = 0; sent < kTotal; ++i) {
        const std::string_view piece =
            std::string_view(*data).substr(i % 8, std::min(kChunk, kTotal - sent));
        w.write(piece);
        sum.update(piece);
        sent += piece.size();
        *most = std::max(*most, w.transport()->get_write_buffer_size());
        co_await w.drain();
      }
      w.close();
      co_return sum.digest();
    };
    auto sent_task = aio::create_task(writer(in, &block, &most_buffered));

    // Read nothing for a while: cat blocks, its output fills the reader up to its limit, the
    // transport pauses, and the writer stops in drain().
    co_await aio::sleep(0.2);
    EXPECT_FALSE(p.transport()->get_pipe_transport(1)->is_reading())
        << "the stdout pipe should be paused while its reader is full";
    EXPECT_FALSE(sent_task.done());

    Checksum got;
    while (true) {
      std::string chunk = co_await out.read(1 << 20);
      if (chunk.empty()) break;
      got.update(chunk);
    }
    const auto sent = co_await sent_task;
    EXPECT_EQ(got.digest().second, kTotal);
    EXPECT_EQ(got.digest(), sent);
    EXPECT_LE(most_buffered, std::size_t{64} * 1024 + kChunk)
        << "drain() kept the write buffer bounded";
    EXPECT_EQ(co_await p.wait(), 0);
  }());
}

// communicate() writes stdin while reading stdout and stderr: a child that writes lots to
// stderr before stdout, while echoing its input, finishes.
TEST(Subprocess, CommunicateLargeStdoutAndStderr) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const std::string input = pattern(8U << 20U, 3);
    Process p = co_await aio::create_subprocess_shell(
        "head -c 6000000 /dev/zero >&2; cat; head -c 3000000 /dev/zero >&2",
        {.stdin = aio::PIPE, .stdout = aio::PIPE, .stderr = aio::PIPE});
    auto [out, err] = co_await p.communicate(input);
    EXPECT_EQ(out.size(), input.size());
    EXPECT_TRUE(out == input);
    EXPECT_EQ(err.size(), 9000000U);
    EXPECT_EQ(err.find_first_not_of('\0'), std::string::npos);
    EXPECT_EQ(p.returncode(), 0);
  }());
}

// ---- exit status and signals ----------------------------------------------------------------

TEST(Subprocess, ExitCode) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"-c", "exit 3"};
    Process p = co_await aio::create_subprocess_exec("sh", args);
    EXPECT_EQ(p.returncode(), std::nullopt);
    EXPECT_EQ(co_await p.wait(), 3);
    EXPECT_EQ(p.returncode(), 3);
    EXPECT_EQ(co_await p.wait(), 3) << "waiting again gives the same";
  }());
}

TEST(Subprocess, SignalsGiveNegativeReturnCodes) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"30"};
    Process a = co_await aio::create_subprocess_exec("sleep", args);
    a.terminate();
    EXPECT_EQ(co_await a.wait(), -SIGTERM);

    Process b = co_await aio::create_subprocess_exec("sleep", args);
    b.kill();
    EXPECT_EQ(co_await b.wait(), -SIGKILL);

    Process c = co_await aio::create_subprocess_exec("sleep", args, {.stdout = aio::PIPE});
    c.send_signal(SIGINT);
    auto [out, err] = co_await c.communicate();
    EXPECT_EQ(c.returncode(), -SIGINT);

    Process d = co_await aio::create_subprocess_exec("sleep", args);
    EXPECT_RAISES(d.send_signal(12345), batteries::OSError);
    d.kill();
    EXPECT_EQ(co_await d.wait(), -SIGKILL);
  }());
}

TEST(Subprocess, KillAfterExit) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_exec("true");
    EXPECT_EQ(co_await p.wait(), 0);
    // The transport is closed: Python raises ProcessLookupError.
    EXPECT_RAISES(p.kill(), ProcessLookupError);
    EXPECT_RAISES(p.terminate(), ProcessLookupError);
    EXPECT_RAISES(p.send_signal(SIGUSR1), ProcessLookupError);

    // Exited, but a grandchild keeps stdout open: the transport is still open and a signal
    // is quietly not sent (the pid may no longer be the child's).
    Process q = co_await aio::create_subprocess_shell("(sleep 0.3; echo late) & exit 7",
                                                      {.stdout = aio::PIPE});
    for (int i = 0; i < 500 && !q.returncode(); ++i) co_await aio::sleep(0.01);
    EXPECT_EQ(q.returncode(), 7);
    q.kill();
    q.terminate();
    auto [out, err] = co_await q.communicate();
    EXPECT_EQ(out, "late\n");
    EXPECT_EQ(q.returncode(), 7);
  }());
}

// ---- errors ---------------------------------------------------------------------------------

TEST(Subprocess, ProgramNotFound) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("nope-batteries-test"),
                      FileNotFoundError,
                      "[Errno 2] No such file or directory: 'nope-batteries-test'");
    EXPECT_RAISES_MSG(
        co_await aio::create_subprocess_exec("/nonexistent/prog", {}, {.stdout = aio::PIPE}),
        FileNotFoundError, "[Errno 2] No such file or directory: '/nonexistent/prog'");
    // Not executable: the first error that is not ENOENT wins, as in Python.
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("/etc/passwd"), PermissionError,
                      "[Errno 13] Permission denied: '/etc/passwd'");
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("/"), PermissionError,
                      "[Errno 13] Permission denied: '/'");
    try {
      (void)co_await aio::create_subprocess_exec("nope-batteries-test");
    } catch (const FileNotFoundError& e) {
      EXPECT_EQ(e.errno_(), ENOENT);
      EXPECT_EQ(e.filename(), "nope-batteries-test");
    }
  }());
}

TEST(Subprocess, BadCwd) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const aio::CreateSubprocessOptions missing{.stdout = aio::PIPE, .cwd = "/nonexistent-dir"};
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("ls", {}, missing), FileNotFoundError,
                      "[Errno 2] No such file or directory: '/nonexistent-dir'");
    const aio::CreateSubprocessOptions file{.cwd = "/etc/passwd"};
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_shell("true", file),
                      batteries::NotADirectoryError, "Not a directory: '/etc/passwd'");
  }());
}

TEST(Subprocess, InvalidArguments) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args nul{std::string("a\0b", 3)};
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("echo", nul), ValueError,
                      "embedded null byte");
    const aio::CreateSubprocessOptions bad_env{.env = aio::Environment{{"A=B", "1"}}};
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("env", {}, bad_env), ValueError,
                      "illegal environment variable name");
    const aio::CreateSubprocessOptions bad_fds{.pass_fds = {-1}};
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("true", {}, bad_fds), ValueError,
                      "bad value(s) in fds_to_keep");
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("true", {}, {.limit = 0}), ValueError,
                      "Limit cannot be <= 0");
    EXPECT_RAISES(co_await aio::create_subprocess_exec("true", {}, {.stdin = -5}),
                  batteries::OSError);
    EXPECT_RAISES_MSG(co_await aio::create_subprocess_exec("true", {}, {.stdin = 987}),
                      batteries::OSError, "Bad file descriptor");
  }());
}

// ---- Popen's options ------------------------------------------------------------------------

TEST(Subprocess, EnvAndCwd) {
  NoFdLeak check;
  const std::string dir = batteries::testing::make_temp_dir("batteries-subprocess");
  run_bounded([](std::string cwd) -> Task<void> {
    // The environment replaces this process's: no PATH, so Python's default path finds env.
    const aio::CreateSubprocessOptions env{.stdout = aio::PIPE,
                                           .env = aio::Environment{{"FOO", "bar"}, {"X", "a b"}}};
    Process p = co_await aio::create_subprocess_exec("env", {}, env);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "FOO=bar\nX=a b\n");

    const aio::CreateSubprocessOptions in_dir{
        .stdout = aio::PIPE, .cwd = cwd, .env = aio::Environment{{"FOO", "baz"}}};
    Process q = co_await aio::create_subprocess_shell("pwd; echo $FOO", in_dir);
    auto [out2, err2] = co_await q.communicate();
    EXPECT_EQ(out2, cwd + "\nbaz\n");

    // A relative program is looked up from cwd.
    batteries::testing::write_file(cwd + "/script.sh", "#!/bin/sh\necho from-script\n", 0755);
    const aio::CreateSubprocessOptions relative{.stdout = aio::PIPE, .cwd = cwd};
    Process r = co_await aio::create_subprocess_exec("./script.sh", {}, relative);
    auto [out3, err3] = co_await r.communicate();
    EXPECT_EQ(out3, "from-script\n");
  }(dir));
  batteries::testing::remove_tree(dir);
}

TEST(Subprocess, Executable) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"-c", "echo $0"};
    const aio::CreateSubprocessOptions sh{.stdout = aio::PIPE, .executable = "/bin/sh"};
    Process p = co_await aio::create_subprocess_exec("my-name", args, sh);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "my-name\n");
    Process q = co_await aio::create_subprocess_shell("echo $0", sh);
    auto [out2, err2] = co_await q.communicate();
    EXPECT_EQ(out2, "/bin/sh\n");
  }());
}

TEST(Subprocess, PassFds) {
  NoFdLeak check;
  batteries::testing::Pipe pipe;  // close-on-exec
  run_bounded([](int fd) -> Task<void> {
    const std::string cmd = "echo via-fd >&" + std::to_string(fd);
    const aio::CreateSubprocessOptions pass{.stderr = aio::DEVNULL, .pass_fds = {fd}};
    Process p = co_await aio::create_subprocess_shell(cmd, pass);
    EXPECT_EQ(co_await p.wait(), 0);
    // Without pass_fds the close-on-exec descriptor is not there.
    Process q = co_await aio::create_subprocess_shell(cmd, {.stderr = aio::DEVNULL});
    EXPECT_NE(co_await q.wait(), 0);
  }(pipe.write_end.get()));
  pipe.write_end.reset();
  EXPECT_EQ(pipe.read_end.read(), "via-fd\n");
  // The parent's descriptor is still close-on-exec.
  EXPECT_EQ(::fcntl(pipe.read_end.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(Subprocess, CloseFds) {
  NoFdLeak check;
  // An inheritable descriptor, as a careless library might leave.
  batteries::testing::Fd stray(::open("/dev/null", O_RDONLY));
  ASSERT_GE(stray.get(), 3);
  const std::string stray_name = std::to_string(stray.get()) + "\n";
  run_bounded([](std::string stray_line) -> Task<void> {
    // ls's own directory descriptor is 3: nothing else but the standard streams.
    const Args args{"/proc/self/fd"};
    Process p = co_await aio::create_subprocess_exec(
        "ls", args, {.stdin = aio::DEVNULL, .stdout = aio::PIPE, .stderr = aio::DEVNULL});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "0\n1\n2\n3\n");
    // close_fds=false: the inheritable one goes through, none of the loop's (close-on-exec).
    Process q = co_await aio::create_subprocess_exec(
        "ls", args,
        {.stdin = aio::DEVNULL, .stdout = aio::PIPE, .stderr = aio::DEVNULL, .close_fds = false});
    auto [out2, err2] = co_await q.communicate();
    EXPECT_NE(out2.find(stray_line), std::string::npos) << out2;
  }(stray_name));
}

TEST(Subprocess, SignalsAndMaskInTheChild) {
  NoFdLeak check;
  // This process ignores SIGPIPE and blocks SIGUSR2; the child starts with neither.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;  // NOLINT
  struct sigaction old_pipe {};
  ::sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigset_t old_mask;
  ::pthread_sigmask(SIG_BLOCK, &usr2, &old_mask);
  run_bounded([]() -> Task<void> {
    const Args args{"-E", "^Sig(Blk|Ign)", "/proc/self/status"};
    Process p = co_await aio::create_subprocess_exec("grep", args, {.stdout = aio::PIPE});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    // restore_signals=false: ignored signals stay ignored (SIGPIPE is bit 13).
    Process q = co_await aio::create_subprocess_exec(
        "grep", args, {.stdout = aio::PIPE, .restore_signals = false});
    auto [out2, err2] = co_await q.communicate();
    EXPECT_EQ(out2, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\n");
  }());
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
}

TEST(Subprocess, SessionGroupAndUmask) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"30"};
    Process a = co_await aio::create_subprocess_exec("sleep", args, {.start_new_session = true});
    co_await aio::sleep(0.05);  // after exec
    EXPECT_EQ(stat_field(a.pid(), 6), a.pid()) << "its own session";
    EXPECT_EQ(stat_field(a.pid(), 5), a.pid()) << "and group";
    a.kill();
    (void)co_await a.wait();

    Process b = co_await aio::create_subprocess_exec("sleep", args, {.process_group = 0});
    co_await aio::sleep(0.05);
    EXPECT_EQ(stat_field(b.pid(), 5), b.pid());
    EXPECT_EQ(stat_field(b.pid(), 6), stat_field(::getpid(), 6)) << "same session";
    b.kill();
    (void)co_await b.wait();

    Process c = co_await aio::create_subprocess_shell("umask", {.stdout = aio::PIPE, .umask = 027});
    auto [out, err] = co_await c.communicate();
    EXPECT_EQ(out, "0027\n");
  }());
}

TEST(Subprocess, Pipesize) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_exec(
        "cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE, .pipesize = 128 * 1024});
    const auto fd = std::any_cast<int>(p.stdin()->get_extra_info("pipe"));
    EXPECT_EQ(::fcntl(fd, F_GETPIPE_SZ), 128 * 1024);
    EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    auto [out, err] = co_await p.communicate("x");
    EXPECT_EQ(out, "x");
  }());
}

// ---- cancellation ---------------------------------------------------------------------------

TEST(Subprocess, CancelledWaitLeavesTheProcessRunning) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"30"};
    Process p = co_await aio::create_subprocess_exec("sleep", args, {.stdout = aio::PIPE});
    EXPECT_RAISES(co_await aio::wait_for(p.wait(), 0.05), TimeoutError);
    EXPECT_EQ(p.returncode(), std::nullopt);
    EXPECT_TRUE(process_exists(p.pid()));
    p.kill();
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
  }());
}

TEST(Subprocess, CancelledCommunicateCanBeRepeated) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_shell(
        "echo partial; read line; echo got $line; exec sleep 30",
        {.stdin = aio::PIPE, .stdout = aio::PIPE});
    EXPECT_RAISES(co_await aio::wait_for(p.communicate(), 0.2), TimeoutError);
    EXPECT_EQ(p.returncode(), std::nullopt);
    p.stdin()->write("x\n");
    co_await p.stdin()->drain();
    // read() to EOF gathers blocks as it goes: cancelled, it drops what it had gathered
    // ("partial"), as Python's does. The stream itself goes on.
    EXPECT_EQ(co_await p.stdout()->readline(), "got x\n");
    p.kill();
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "");
    EXPECT_EQ(p.returncode(), -SIGKILL);
  }());
}

TEST(Subprocess, CancelledTaskThatCreatesAProcess) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto make = []() -> Task<void> {
      const Args args{"30"};
      Process p = co_await aio::create_subprocess_exec("sleep", args, {.stdout = aio::PIPE});
      (void)co_await p.wait();
    };
    auto task = aio::create_task(make());
    co_await aio::sleep(0.05);
    task.cancel();
    EXPECT_RAISES(co_await task, aio::CancelledError);
  }());
  // The sleep is left to the loop's close, which kills it and closes its pipe (checked by
  // NoFdLeak).
}

// ---- many at once ---------------------------------------------------------------------------

Task<std::string> echo_number(int i) {
  const Args args{"-c", "echo $0", std::to_string(i)};
  Process p = co_await aio::create_subprocess_exec("sh", args, {.stdout = aio::PIPE});
  auto [out, err] = co_await p.communicate();
  co_return out;
}

Task<void> many(int count) {
  std::vector<Task<std::string>> tasks;
  tasks.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) tasks.push_back(echo_number(i));
  std::vector<std::string> outs = co_await aio::gather(std::move(tasks));
  for (int i = 0; i < count; ++i)
    EXPECT_EQ(outs[static_cast<std::size_t>(i)], std::to_string(i) + "\n");
}

TEST(Subprocess, FiftyConcurrentProcesses) {
  NoFdLeak check;
  run_bounded(many(50));
}

// ---- the watcher thread (no pidfd) ----------------------------------------------------------

TEST(Subprocess, ThreadWatcherFallback) {
  NoFdLeak check;
  ThreadWatcher threads;
  run_bounded([]() -> Task<void> {
    const Args args{"-c", "exit 9"};
    Process a = co_await aio::create_subprocess_exec("sh", args);
    EXPECT_EQ(co_await a.wait(), 9);
    EXPECT_RAISES(a.kill(), ProcessLookupError);

    const Args sleep_args{"30"};
    Process b = co_await aio::create_subprocess_exec("sleep", sleep_args, {.stdout = aio::PIPE});
    EXPECT_RAISES(co_await aio::wait_for(b.wait(), 0.05), TimeoutError);
    b.terminate();
    EXPECT_EQ(co_await b.wait(), -SIGTERM);

    Process c =
        co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    auto [out, err] = co_await c.communicate("threads");
    EXPECT_EQ(out, "threads");
    co_await many(20);
  }());
}

// ---- pipes whose reader has gone ------------------------------------------------------------

// The child reads 100 bytes and exits (closing stdout and stdin) while the parent goes on
// writing: BrokenPipeError (or ConnectionResetError once the pipe is known lost), never a
// SIGPIPE that kills this process.
TEST(Subprocess, ChildStopsReadingWhileParentWrites) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    const Args args{"-c", "100"};
    Process p = co_await aio::create_subprocess_exec("head", args,
                                                     {.stdin = aio::PIPE, .stdout = aio::PIPE});
    aio::StreamWriter in = *p.stdin();
    const std::string block = pattern(std::size_t{64} * 1024, 1);
    bool broken = false;
    for (int i = 0; i < 1000 && !broken; ++i) {
      try {
        in.write(block);
        co_await in.drain();
      } catch (const BrokenPipeError&) {
        broken = true;
      } catch (const ConnectionResetError&) {
        broken = true;
      }
    }
    EXPECT_TRUE(broken);
    const std::string out = co_await p.stdout()->read();
    EXPECT_EQ(out, block.substr(0, 100));
    EXPECT_EQ(co_await p.wait(), 0);
    EXPECT_TRUE(in.is_closing());
    in.write("more");  // dropped, as Python drops writes to a lost pipe
  }());
}

TEST(Subprocess, CommunicateIgnoresBrokenPipe) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    Process p = co_await aio::create_subprocess_exec("true", {}, {.stdin = aio::PIPE});
    auto [out, err] = co_await p.communicate(pattern(4U << 20U, 2));
    EXPECT_EQ(p.returncode(), 0);
  }());
}

// ---- the loop closing with children ---------------------------------------------------------

// With a pidfd, and with the watcher thread (which closes its pipe once the child is gone).
void loop_close_kills_running_children() {
  NoFdLeak check;
  const int pid = aio::run([]() -> Task<int> {
    const Args args{"30"};
    Process p = co_await aio::create_subprocess_exec("sleep", args,
                                                     {.stdin = aio::PIPE, .stdout = aio::PIPE});
    co_return p.pid();  // not waited for
  }());
  // Killed, and reaped by a thread: the pid goes away.
  for (int i = 0; i < 1000 && process_exists(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(process_exists(pid));
}

TEST(Subprocess, LoopCloseKillsRunningChildren) {
  loop_close_kills_running_children();
  ThreadWatcher threads;
  loop_close_kills_running_children();
}

// ---- against CPython ------------------------------------------------------------------------

// The same cases through CPython's asyncio and batteries, one line each: the error's type and
// str(), or the return code and the output (hex).
constexpr const char* kDiffScript = R"PY(
import asyncio, signal
from asyncio.subprocess import PIPE, STDOUT, DEVNULL

async def case(make, input=None, kill_after=False):
    try:
        p = await make()
        out, err = await p.communicate(input)
        if kill_after:
            try:
                p.kill()
            except ProcessLookupError as e:
                return f"{type(e).__name__}|{e}"
        return f"rc|{p.returncode}|{(out or b'').hex()}|{(err or b'').hex()}"
    except OSError as e:
        return f"{type(e).__name__}|{e}"

async def main():
    ex, sh = asyncio.create_subprocess_exec, asyncio.create_subprocess_shell
    cases = [
        case(lambda: ex('nope-batteries-diff')),
        case(lambda: ex('/etc/passwd')),
        case(lambda: ex('/')),
        case(lambda: ex('ls', cwd='/nonexistent-dir', stdout=PIPE)),
        case(lambda: sh('true', cwd='/etc/passwd')),
        case(lambda: sh('echo out; echo err >&2; exit 4', stdout=PIPE, stderr=PIPE)),
        case(lambda: sh('kill -TERM $$', stdout=PIPE)),
        case(lambda: sh('echo a; echo b >&2', stdout=PIPE, stderr=STDOUT)),
        case(lambda: ex('cat', stdin=PIPE, stdout=PIPE), input=b'xyz\x00\xff'),
        case(lambda: ex('cat', stdin=DEVNULL, stdout=PIPE, stderr=DEVNULL)),
        case(lambda: ex('true'), kill_after=True),
        case(lambda: ex('sh', '-c', 'echo $0 $1', 'zero', 'one', stdout=PIPE)),
    ]
    for c in cases:
        print(await c)

asyncio.run(main())
)PY";

Task<std::string> diff_case(Task<Process> make, std::optional<std::string> input = std::nullopt,
                            bool kill_after = false) {
  try {
    Process p = co_await std::move(make);
    auto [out, err] = co_await p.communicate(std::move(input));
    if (kill_after) {
      try {
        p.kill();
      } catch (const ProcessLookupError& e) {
        co_return std::string(e.type_name()) + "|" + e.what();
      }
    }
    co_return "rc|" + std::to_string(*p.returncode()) + "|" + batteries::testing::to_hex(out) +
        "|" + batteries::testing::to_hex(err);
  } catch (const batteries::OSError& e) {
    co_return std::string(e.type_name()) + "|" + e.what();
  }
}

Task<std::string> diff_cases() {
  // Tasks are made first and awaited after: no braced temporaries inside co_await (GCC 12).
  const aio::CreateSubprocessOptions pipe_out{.stdout = aio::PIPE};
  const aio::CreateSubprocessOptions bad_dir{.stdout = aio::PIPE, .cwd = "/nonexistent-dir"};
  const aio::CreateSubprocessOptions file_dir{.cwd = "/etc/passwd"};
  const aio::CreateSubprocessOptions both{.stdout = aio::PIPE, .stderr = aio::PIPE};
  const aio::CreateSubprocessOptions merged{.stdout = aio::PIPE, .stderr = aio::STDOUT};
  const aio::CreateSubprocessOptions cat{.stdin = aio::PIPE, .stdout = aio::PIPE};
  const aio::CreateSubprocessOptions nulls{
      .stdin = aio::DEVNULL, .stdout = aio::PIPE, .stderr = aio::DEVNULL};
  const Args sh_args{"-c", "echo $0 $1", "zero", "one"};
  std::vector<Task<std::string>> cases;
  cases.push_back(diff_case(aio::create_subprocess_exec("nope-batteries-diff")));
  cases.push_back(diff_case(aio::create_subprocess_exec("/etc/passwd")));
  cases.push_back(diff_case(aio::create_subprocess_exec("/")));
  cases.push_back(diff_case(aio::create_subprocess_exec("ls", {}, bad_dir)));
  cases.push_back(diff_case(aio::create_subprocess_shell("true", file_dir)));
  cases.push_back(diff_case(aio::create_subprocess_shell("echo out; echo err >&2; exit 4", both)));
  cases.push_back(diff_case(aio::create_subprocess_shell("kill -TERM $$", pipe_out)));
  cases.push_back(diff_case(aio::create_subprocess_shell("echo a; echo b >&2", merged)));
  cases.push_back(
      diff_case(aio::create_subprocess_exec("cat", {}, cat), std::string("xyz\0\xff", 5)));
  cases.push_back(diff_case(aio::create_subprocess_exec("cat", {}, nulls)));
  cases.push_back(diff_case(aio::create_subprocess_exec("true"), std::nullopt, true));
  cases.push_back(diff_case(aio::create_subprocess_exec("sh", sh_args, pipe_out)));
  std::string out;
  for (auto& c : cases) out += co_await std::move(c) + "\n";
  co_return out;
}

TEST(Subprocess, SameAsCPython) {
  NoFdLeak check;
  const std::optional<std::string> expected = batteries::testing::run_python(kDiffScript);
  if (!expected) GTEST_SKIP() << "no python3";
  const std::string got = run_bounded(diff_cases());
  EXPECT_EQ(got, *expected);
}

// ---- loop.subprocess_exec with a SubprocessProtocol -----------------------------------------

struct Recorder : aio::SubprocessProtocol {
  std::vector<std::string> events;
  std::string out;
  std::string err;
  std::shared_ptr<aio::SubprocessTransport> transport;
  aio::Future<void> done{aio::get_running_loop()};

  void connection_made(std::shared_ptr<aio::SubprocessTransport> t) override {
    transport = std::move(t);
    events.emplace_back("connection_made");
  }
  void pipe_data_received(int fd, std::string_view data) override {
    (fd == 1 ? out : err) += data;
    if (events.empty() || events.back() != "data" + std::to_string(fd)) {
      events.push_back("data" + std::to_string(fd));
    }
  }
  void pipe_connection_lost(int fd, std::exception_ptr exc) override {
    events.push_back("pipe_connection_lost" + std::to_string(fd) + (exc ? "!" : ""));
  }
  void process_exited() override { events.emplace_back("process_exited"); }
  void connection_lost(std::exception_ptr exc) override {
    events.emplace_back(exc ? "connection_lost!" : "connection_lost");
    done.set_result();
  }
};

TEST(Subprocess, ProtocolEventsInPythonsOrder) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    const Args args{"-c", "echo out; echo err >&2; read x; echo $x"};
    auto [transport, protocol] = co_await aio::subprocess_exec(
        loop, [] { return std::make_shared<Recorder>(); }, "sh", args);
    EXPECT_EQ(protocol->events, std::vector<std::string>{"connection_made"});
    EXPECT_EQ(protocol->transport, transport);
    EXPECT_GT(transport->get_pid(), 0);
    EXPECT_EQ(transport->get_returncode(), std::nullopt);
    EXPECT_NE(transport->repr().find("pid=" + std::to_string(transport->get_pid()) + " running"),
              std::string::npos)
        << transport->repr();
    auto in = transport->get_pipe_transport(0);
    EXPECT_TRUE(transport->get_pipe_transport(1));
    EXPECT_TRUE(transport->get_pipe_transport(2));
    if (!in) {
      ADD_FAILURE() << "no stdin pipe";
      co_return;
    }
    EXPECT_NE(in->repr().find("_UnixWritePipeTransport fd="), std::string::npos) << in->repr();
    in->write("typed\n");
    in->close();
    co_await protocol->done;
    EXPECT_EQ(protocol->out, "out\ntyped\n");
    EXPECT_EQ(protocol->err, "err\n");
    EXPECT_EQ(transport->get_returncode(), 0);
    // connection_made first, connection_lost last, after every pipe and the exit.
    const auto& ev = protocol->events;
    EXPECT_GE(ev.size(), 6U);
    EXPECT_EQ(ev.front(), "connection_made");
    EXPECT_EQ(ev.back(), "connection_lost");
    for (const char* name : {"pipe_connection_lost0", "pipe_connection_lost1",
                             "pipe_connection_lost2", "process_exited"}) {
      EXPECT_EQ(std::count(ev.begin(), ev.end(), name), 1) << name;
    }
    const auto at = [&](const std::string& name) { return std::find(ev.begin(), ev.end(), name); };
    EXPECT_LT(at("pipe_connection_lost0"), at("pipe_connection_lost1"));
    EXPECT_LT(at("data1"), at("pipe_connection_lost1"));
    EXPECT_LT(at("data2"), at("pipe_connection_lost2"));
    EXPECT_RAISES(transport->kill(), ProcessLookupError);
  }());
}

TEST(Subprocess, TransportCloseKillsTheChild) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    const Args args{"30"};
    auto [transport, protocol] =
        co_await aio::subprocess_exec(loop, [] { return std::make_shared<Recorder>(); }, "sleep",
                                      args, {.stdin = aio::DEVNULL, .stderr = aio::DEVNULL});
    EXPECT_FALSE(transport->get_pipe_transport(0));
    EXPECT_TRUE(transport->get_pipe_transport(1));
    transport->close();
    EXPECT_TRUE(transport->is_closing());
    co_await protocol->done;
    EXPECT_EQ(transport->get_returncode(), -SIGKILL);
    EXPECT_EQ(protocol->events.back(), "connection_lost");
  }());
}

TEST(Subprocess, ShellProtocol) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto [transport, protocol] = co_await aio::subprocess_shell(
        loop, [] { return std::make_shared<Recorder>(); }, "echo shell-$((1+1))",
        {.stdin = std::nullopt, .stderr = aio::STDOUT});
    co_await protocol->done;
    EXPECT_EQ(protocol->out, "shell-2\n");
    EXPECT_FALSE(transport->get_pipe_transport(2));
  }());
}

// ---- connect_read_pipe / connect_write_pipe -------------------------------------------------

struct PipeReader : aio::Protocol {
  std::string data;
  bool eof = false;
  aio::Future<void> lost{aio::get_running_loop()};
  void data_received(std::string_view d) override { data += d; }
  bool eof_received() override {
    eof = true;
    return false;
  }
  void connection_lost(std::exception_ptr /*exc*/) override { lost.set_result(); }
};

struct PipeWriter : aio::Protocol {
  aio::Future<void> lost{aio::get_running_loop()};
  std::exception_ptr error;
  int paused = 0;
  int resumed = 0;
  void pause_writing() override { ++paused; }
  void resume_writing() override { ++resumed; }
  void connection_lost(std::exception_ptr exc) override {
    error = exc;
    lost.set_result();
  }
};

TEST(Subprocess, ConnectReadAndWritePipe) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto [rt, reader] = co_await aio::connect_read_pipe(
        loop, [] { return std::make_shared<PipeReader>(); }, fds[0]);
    auto [wt, writer] = co_await aio::connect_write_pipe(
        loop, [] { return std::make_shared<PipeWriter>(); }, fds[1]);
    EXPECT_TRUE(rt->is_reading());
    EXPECT_TRUE(wt->can_write_eof());
    EXPECT_EQ(wt->get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{16384, 65536}));
    wt->set_write_buffer_limits(1000);
    EXPECT_EQ(wt->get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{250, 1000}));
    EXPECT_RAISES_MSG(wt->set_write_buffer_limits(10, 20), ValueError,
                      "high (10) must be >= low (20) must be >= 0");
    // More than the pipe holds: the rest is buffered, the protocol paused, then resumed.
    const std::string big = pattern(1U << 20U, 5);
    wt->write(big);
    EXPECT_GT(wt->get_write_buffer_size(), 0U);
    EXPECT_EQ(writer->paused, 1);
    wt->write_eof();
    co_await reader->lost;
    co_await writer->lost;
    EXPECT_TRUE(reader->data == big);
    EXPECT_TRUE(reader->eof);
    EXPECT_EQ(writer->resumed, 1);
    EXPECT_FALSE(writer->error);
    EXPECT_TRUE(rt->is_closing());
    EXPECT_NE(rt->repr().find("closed"), std::string::npos) << rt->repr();
  }());
}

TEST(Subprocess, WritePipeWithoutReader) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);
    auto [wt, writer] = co_await aio::connect_write_pipe(
        loop, [] { return std::make_shared<PipeWriter>(); }, fds[1]);
    wt->write("into the void");  // EPIPE, not SIGPIPE
    co_await writer->lost;
    EXPECT_RAISES(std::rethrow_exception(writer->error), BrokenPipeError);
  }());
}

TEST(Subprocess, PipeTransportsRefuseFiles) {
  NoFdLeak check;
  run_bounded([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    const int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    EXPECT_RAISES_MSG(co_await aio::connect_read_pipe(
                          loop, [] { return std::make_shared<PipeReader>(); }, fd),
                      ValueError, "Pipe transport is for pipes/sockets only.");
    const int fd2 = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    EXPECT_RAISES_MSG(co_await aio::connect_write_pipe(
                          loop, [] { return std::make_shared<PipeWriter>(); }, fd2),
                      ValueError,
                      "Pipe transport is only for pipes, sockets and character devices");
    // Both descriptors were taken over, and closed (NoFdLeak).
  }());
}

}  // namespace
