// `batteries tracemalloc`: runs a program with the tracemalloc agent preloaded, and shows the
// snapshots it writes (`batteries tracemalloc show`), as Python's tracemalloc recipes do.
//
// The tool and the agent talk through the environment of the traced program:
//   LD_PRELOAD=<agent>[:<previous LD_PRELOAD>]
//   BATTERIES_TRACEMALLOC_NFRAMES=<frames per traceback>
//   BATTERIES_TRACEMALLOC_OUTPUT=<absolute path of the snapshot file>
//   BATTERIES_TRACEMALLOC_MAIN_PID=<pid of the program>: that process writes OUTPUT at exit;
//       other traced processes (forked children, exec'd programs) write OUTPUT.<their pid>
//   BATTERIES_TRACEMALLOC_INTERVAL=<seconds>, only with --interval: OUTPUT.1, OUTPUT.2, ...
//   BATTERIES_TRACEMALLOC_SAMPLE_RATE=<bytes>, only with --sample-rate
// Values of these variables inherited by the tool are not passed on.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "tracemalloc/raw.hpp"

extern char** environ;

namespace batteries::cli {

namespace {

namespace fs = std::filesystem;
namespace tm = batteries::tracemalloc;

constexpr const char* kAgentName = "libbatteries_tracemalloc_agent.so";
constexpr long long kDefaultFrames = 16;

struct RunOptions {
  long long nframes = kDefaultFrames;
  std::string output;
  std::optional<double> interval;
  std::optional<std::uint64_t> sample_rate;
  std::string flamegraph;
  std::vector<std::string> program;
};

struct ShowOptions {
  std::string file;
  std::string key = "lineno";
  long long limit = 10;
  std::string compare;
  bool cumulative = false;
  std::string flamegraph;
};

// ---- small helpers ----------------------------------------------------------------------------

std::string kib(double bytes) { return fmt::format("{:.1f} KiB", bytes / 1024); }

// A path as a shell word, so that the printed `show` command can be pasted.
std::string shell_quote(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_./+-=:,@%") == std::string::npos;
  if (plain) {
    return word;
  }
  std::string out = "'";
  for (const char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig); abbrev != nullptr) {
    return fmt::format("SIG{}", abbrev);
  }
  return fmt::format("signal {}", sig);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// ---- finding the agent ------------------------------------------------------------------------

constexpr const char* multiarch() {
#if defined(__x86_64__)
  return "x86_64-linux-gnu";
#elif defined(__aarch64__)
  return "aarch64-linux-gnu";
#elif defined(__i386__)
  return "i386-linux-gnu";
#elif defined(__arm__)
  return "arm-linux-gnueabihf";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "powerpc64le-linux-gnu";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64-linux-gnu";
#elif defined(__s390x__)
  return "s390x-linux-gnu";
#else
  return "";
#endif
}

// $BATTERIES_TRACEMALLOC_AGENT, else beside the tool (../lib, ../lib/<multiarch>, ../lib64),
// else the build tree's agent, else the installed one. Raises FileNotFoundError naming the
// places it looked in.
std::string find_agent() {
  if (const char* env = std::getenv("BATTERIES_TRACEMALLOC_AGENT"); env != nullptr && *env) {
    if (!is_file(env)) {
      throw FileNotFoundError(
          ENOENT, fmt::format("BATTERIES_TRACEMALLOC_AGENT names no agent library: {}", env));
    }
    return fs::absolute(env).string();
  }
  std::vector<std::string> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path prefix = exe.parent_path().parent_path();
    candidates.push_back((prefix / "lib" / kAgentName).string());
    if (*multiarch() != '\0') {
      candidates.push_back((prefix / "lib" / multiarch() / kAgentName).string());
    }
    candidates.push_back((prefix / "lib64" / kAgentName).string());
  }
  candidates.emplace_back(BATTERIES_AGENT_BUILD_PATH);
  candidates.emplace_back(BATTERIES_AGENT_INSTALL_PATH);
  for (const std::string& candidate : candidates) {
    if (is_file(candidate)) {
      return fs::absolute(candidate).lexically_normal().string();
    }
  }
  throw FileNotFoundError(ENOENT,
                          fmt::format("cannot find the tracemalloc agent {} (looked for {}); set "
                                      "BATTERIES_TRACEMALLOC_AGENT to its path",
                                      kAgentName, fmt::join(candidates, ", ")));
}

// ---- running the program ----------------------------------------------------------------------

volatile std::sig_atomic_t g_child = 0;

void forward_signal(int sig) {
  const int saved = errno;
  if (g_child > 0) {
    ::kill(static_cast<pid_t>(g_child), sig);
  }
  errno = saved;
}

constexpr std::array kForwarded = {SIGTERM, SIGHUP, SIGUSR2};
constexpr std::array kIgnored = {SIGINT, SIGQUIT};

// Writes n in decimal at out (async-signal-safe, for the child after fork); returns the end.
char* put_decimal(char* out, long n) {
  char digits[24];
  int k = 0;
  do {
    digits[k++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (k > 0) {
    *out++ = digits[--k];
  }
  return out;
}

// The identity of a file, to tell a snapshot the program wrote from one left by an older run.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  timespec mtime{};
  off_t size = 0;
};

FileStamp stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return {true, st.st_dev, st.st_ino, st.st_mtim, st.st_size};
}

bool same_stamp(const FileStamp& a, const FileStamp& b) {
  return a.exists == b.exists && a.dev == b.dev && a.ino == b.ino &&
         a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec && a.size == b.size;
}

// The number of traces in a snapshot, without resolving its symbols when it has not been yet.
std::size_t trace_count(const tm::Snapshot& snapshot) {
  const tm::detail::SnapshotData& data = snapshot.data();
  return data.resolved ? data.traces.size() : data.raw.traces.size();
}

// Names the snapshots of the program's other processes and the periodic ones (OUTPUT.<n>)
// written since `started`.
void report_other_snapshots(const std::string& output, const timespec& started) {
  const fs::path path(output);
  const std::string prefix = path.filename().string() + ".";
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(path.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix) ||
        name.find_first_not_of("0123456789", prefix.size()) != std::string::npos ||
        name.size() == prefix.size()) {
      continue;
    }
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_mtim.tv_sec >= started.tv_sec) {
      names.push_back(name);
    }
  }
  if (names.empty()) {
    return;
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  constexpr std::size_t kShown = 6;
  const std::size_t more = names.size() > kShown ? names.size() - kShown : 0;
  names.resize(names.size() - more);
  fmt::print(stderr, "batteries tracemalloc: also wrote {}{}\n", fmt::join(names, ", "),
             more != 0 ? fmt::format(" and {} more", more) : std::string{});
}

int usage_error(std::string_view message) {
  fmt::print(stderr,
             "batteries tracemalloc: {}\n"
             "Usage: batteries tracemalloc [OPTIONS] -- PROGRAM [ARGS...]\n"
             "   or: batteries tracemalloc show FILE [OPTIONS]\n"
             "Run with --help for more information.\n",
             message);
  return 2;
}

int trace_program(const RunOptions& options) {
  if (options.program.empty()) {
    return usage_error("no program to run");
  }
  const std::string agent = find_agent();
  if (agent.find_first_of(": ") != std::string::npos) {
    throw ValueError(
        fmt::format("the agent's path cannot go in LD_PRELOAD (it has ':' or ' '): {}", agent));
  }

  // The output file: absolute, since the program may change directory. Without --output it
  // is tracemalloc.<pid>.snap in the current directory, and the pid is known only after fork.
  const fs::path cwd = fs::current_path();
  const std::string shown_output = options.output;  // as the user wrote it; "" for the default
  std::string output_prefix = options.output.empty() ? (cwd / "tracemalloc.").string()
                                                     : fs::absolute(options.output).string();
  const fs::path output_dir = fs::path(output_prefix).parent_path();
  if (struct stat st{}; ::stat(output_dir.c_str(), &st) != 0) {
    raise_errno(output_dir.string());
  } else if (!S_ISDIR(st.st_mode)) {
    raise_os_error(ENOTDIR, output_dir.string());
  }

  // The child's environment, built here because only async-signal-safe work may follow fork:
  // the entries that hold the pid get room for it and are filled in by the child.
  std::vector<std::string> env;
  std::string previous_preload;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry = *e;
    if (entry.starts_with("LD_PRELOAD=")) {
      previous_preload = entry.substr(std::strlen("LD_PRELOAD="));
      continue;
    }
    bool ours = false;
    for (const char* name : {"BATTERIES_TRACEMALLOC_NFRAMES=", "BATTERIES_TRACEMALLOC_OUTPUT=",
                             "BATTERIES_TRACEMALLOC_MAIN_PID=", "BATTERIES_TRACEMALLOC_INTERVAL=",
                             "BATTERIES_TRACEMALLOC_SAMPLE_RATE="}) {
      ours = ours || entry.starts_with(name);
    }
    if (!ours) {
      env.emplace_back(entry);
    }
  }
  env.push_back("LD_PRELOAD=" + agent +
                (previous_preload.empty() ? std::string{} : ":" + previous_preload));
  env.push_back(fmt::format("BATTERIES_TRACEMALLOC_NFRAMES={}", options.nframes));
  if (options.interval) {
    env.push_back(fmt::format("BATTERIES_TRACEMALLOC_INTERVAL={}", *options.interval));
  }
  if (options.sample_rate) {
    env.push_back(fmt::format("BATTERIES_TRACEMALLOC_SAMPLE_RATE={}", *options.sample_rate));
  }
  constexpr std::string_view kPidVar = "BATTERIES_TRACEMALLOC_MAIN_PID=";
  constexpr std::string_view kOutputVar = "BATTERIES_TRACEMALLOC_OUTPUT=";
  constexpr std::string_view kSuffix = ".snap";
  constexpr std::size_t kPidRoom = 24;
  std::string pid_entry = std::string(kPidVar) + std::string(kPidRoom, '\0');
  std::string output_entry =
      std::string(kOutputVar) + output_prefix +
      (options.output.empty() ? std::string(kPidRoom + kSuffix.size(), '\0') : std::string{});
  const bool output_needs_pid = options.output.empty();

  std::vector<char*> envp;
  for (std::string& entry : env) {
    envp.push_back(entry.data());
  }
  envp.push_back(pid_entry.data());
  envp.push_back(output_entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.program;
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  const std::string output_path = output_needs_pid ? std::string{} : output_prefix;
  const FileStamp before = output_needs_pid ? FileStamp{} : stamp(output_path);

  timespec started{};
  ::clock_gettime(CLOCK_REALTIME, &started);
  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    raise_errno();
  }
  sigset_t forwarded{};
  sigset_t old_mask{};
  sigemptyset(&forwarded);
  for (const int sig : kForwarded) {
    sigaddset(&forwarded, sig);
  }
  ::sigprocmask(SIG_BLOCK, &forwarded, &old_mask);

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int saved = errno;
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    raise_os_error(saved);
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls from here to exec.
    const long self = static_cast<long>(::getpid());
    *put_decimal(pid_entry.data() + kPidVar.size(), self) = '\0';
    if (output_needs_pid) {
      char* end = put_decimal(output_entry.data() + kOutputVar.size() + output_prefix.size(), self);
      std::memcpy(end, kSuffix.data(), kSuffix.size());
      end[kSuffix.size()] = '\0';
    }
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] const ssize_t n = ::write(pipe_fds[1], &err, sizeof err);
    ::_exit(127);
  }

  // The parent: forward what should reach the program, let the terminal's ^C and ^\ reach it
  // alone, and wait.
  ::close(pipe_fds[1]);
  g_child = pid;
  std::map<int, struct sigaction> saved_actions;
  for (const int sig : kForwarded) {
    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(sig, &action, &saved_actions[sig]);
  }
  for (const int sig : kIgnored) {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig, &action, &saved_actions[sig]);
  }
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);

  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(pipe_fds[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  ::close(pipe_fds[0]);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  for (const auto& [sig, action] : saved_actions) {
    ::sigaction(sig, &action, nullptr);
  }

  const std::string& program = options.program[0];
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    fmt::print(stderr, "batteries tracemalloc: cannot run '{}': {}\n", program,
               std::strerror(exec_errno));
    // As shells do: 127 when there is no such program, 126 when it cannot be run.
    return exec_errno == ENOENT ? 127 : 126;
  }
  int result = 0;
  if (WIFEXITED(status)) {
    result = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    fmt::print(stderr, "batteries tracemalloc: {} was killed by signal {} ({}){}\n", program, sig,
               signal_name(sig), WCOREDUMP(status) ? " (core dumped)" : "");
    result = 128 + sig;
  }

  // What the program left: the snapshot, and the files of its other processes.
  const std::string written =
      output_needs_pid ? fmt::format("{}{}{}", output_prefix, pid, kSuffix) : output_path;
  const std::string shown =
      shown_output.empty() ? fs::path(written).filename().string() : shown_output;
  report_other_snapshots(written, started);
  if (const FileStamp after = stamp(written); !after.exists || same_stamp(before, after)) {
    if (WIFSIGNALED(status)) {
      fmt::print(stderr, "batteries tracemalloc: no snapshot was written to {}\n", shown);
    } else {
      fmt::print(stderr,
                 "batteries tracemalloc: no snapshot was written to {} (the agent cannot trace a "
                 "statically linked or set-user-ID program)\n",
                 shown);
    }
    return result;
  }
  try {
    const tm::Snapshot snapshot = tm::Snapshot::load(written);
    fmt::print(stderr,
               "batteries tracemalloc: wrote {} ({} traces, {} live, peak {}); show it with: "
               "batteries tracemalloc show {}\n",
               shown, trace_count(snapshot), kib(static_cast<double>(snapshot.traced_memory())),
               kib(static_cast<double>(snapshot.peak_traced_memory())), shell_quote(shown));
    if (!options.flamegraph.empty()) {
      tm::write_flamegraph(snapshot, options.flamegraph,
                           fmt::format("Live memory of {} at exit", program));
      fmt::print(stderr, "batteries tracemalloc: wrote the flame graph {}\n", options.flamegraph);
    }
  } catch (const BaseException& e) {
    // The program's status matters more than our trouble with its snapshot.
    fmt::print(stderr, "batteries tracemalloc: error: {}: {}\n", e.type_name(), e.what());
    return result != 0 ? result : 1;
  }
  return result;
}

// ---- showing a snapshot -----------------------------------------------------------------------

// The stripped text of a source line, as linecache.getline(...).strip(); "" when unreadable.
class SourceLines {
 public:
  std::string get(const std::string& filename, int lineno) {
    if (lineno <= 0 || filename.empty()) {
      return {};
    }
    auto it = m_files.find(filename);
    if (it == m_files.end()) {
      std::vector<std::string> lines;
      if (is_file(filename)) {
        std::ifstream in(filename);
        for (std::string line; std::getline(in, line);) {
          lines.push_back(std::move(line));
        }
      }
      it = m_files.emplace(filename, std::move(lines)).first;
    }
    const auto index = static_cast<std::size_t>(lineno - 1);
    if (index >= it->second.size()) {
      return {};
    }
    const std::string& line = it->second[index];
    const auto first = line.find_first_not_of(" \t\r\f\v");
    if (first == std::string::npos) {
      return {};
    }
    const auto last = line.find_last_not_of(" \t\r\f\v");
    return line.substr(first, last - first + 1);
  }

 private:
  std::map<std::string, std::vector<std::string>> m_files;
};

// The pretty-top recipe's name for a file: its last two path components.
std::string short_path(const std::string& path) {
  const auto last = path.rfind('/');
  if (last == std::string::npos || last == 0) {
    return path;
  }
  const auto before = path.rfind('/', last - 1);
  return before == std::string::npos ? path : path.substr(before + 1);
}

// "app/table.cpp:31 in load_table()", "libfoo.so+0x1a2b in foo()", "app/table.cpp".
std::string location(const tm::Frame& frame, tm::KeyType key) {
  std::string where;
  if (key == tm::KeyType::filename) {
    where = short_path(frame.filename);
  } else if (frame.lineno > 0) {
    where = fmt::format("{}:{}", short_path(frame.filename), frame.lineno);
  } else if (!frame.module.empty()) {
    where = fmt::format("{}+{:#x}", fs::path(frame.module).filename().string(), frame.offset);
  } else {
    where = frame.filename.empty() ? "<unknown>" : short_path(frame.filename);
  }
  if (key != tm::KeyType::filename && !frame.function.empty()) {
    where += " in " + frame.function;
  }
  return where;
}

void print_traceback(const tm::Traceback& traceback) {
  // Most recent call first: the allocating line leads, main() and the C library's start
  // come last (gdb's `bt` order; Python's format() puts them first by default).
  for (const std::string& line : traceback.format(std::nullopt, true)) {
    fmt::print("{}\n", line);
  }
}

int show_snapshot(const ShowOptions& options) {
  const tm::Snapshot snapshot = tm::Snapshot::load(options.file);
  const tm::KeyType key = tm::key_type_from_string(options.key);
  const auto limit = static_cast<std::size_t>(options.limit);
  if (snapshot.sample_rate() != 0) {
    fmt::print("Sampled every {} bytes on average; sizes are estimates.\n", snapshot.sample_rate());
  }

  if (!options.compare.empty()) {
    const tm::Snapshot old = tm::Snapshot::load(options.compare);
    const auto diffs = snapshot.compare_to(old, key, options.cumulative);
    fmt::print("Top {} differences\n", limit);
    std::int64_t other_diff = 0;
    std::int64_t total_diff = 0;
    std::size_t total = 0;
    for (std::size_t i = 0; i < diffs.size(); ++i) {
      total += diffs[i].size;
      total_diff += diffs[i].size_diff;
      if (i >= limit) {
        other_diff += diffs[i].size_diff;
        continue;
      }
      fmt::print("{}\n", diffs[i].str());
      if (key == tm::KeyType::traceback) {
        print_traceback(diffs[i].traceback);
      }
    }
    if (diffs.size() > limit) {
      fmt::print("{} other: {:+.1f} KiB\n", diffs.size() - limit,
                 static_cast<double>(other_diff) / 1024);
    }
    fmt::print("Total allocated size: {} ({:+.1f} KiB)\n", kib(static_cast<double>(total)),
               static_cast<double>(total_diff) / 1024);
  } else {
    const auto stats = snapshot.statistics(key, options.cumulative);
    static constexpr std::string_view kWhat[] = {"lines", "files", "tracebacks"};
    fmt::print("Top {} {}\n", limit, kWhat[static_cast<int>(key)]);
    SourceLines sources;
    std::size_t other = 0;
    std::size_t total = 0;
    for (std::size_t i = 0; i < stats.size(); ++i) {
      const tm::Statistic& stat = stats[i];
      total += stat.size;
      if (i >= limit) {
        other += stat.size;
        continue;
      }
      if (key == tm::KeyType::traceback) {
        fmt::print("#{}: {} in {} blocks\n", i + 1, kib(static_cast<double>(stat.size)),
                   stat.count);
        print_traceback(stat.traceback);
        continue;
      }
      const tm::Frame unknown{"<unknown>", 0, "", "", 0};
      const tm::Frame& frame = stat.traceback.empty() ? unknown : stat.traceback[0];
      fmt::print("#{}: {}: {}\n", i + 1, location(frame, key), kib(static_cast<double>(stat.size)));
      if (key == tm::KeyType::lineno) {
        if (const std::string line = sources.get(frame.filename, frame.lineno); !line.empty()) {
          fmt::print("    {}\n", line);
        }
      }
    }
    if (stats.size() > limit) {
      fmt::print("{} other: {}\n", stats.size() - limit, kib(static_cast<double>(other)));
    }
    fmt::print("Total allocated size: {}\n", kib(static_cast<double>(total)));
  }

  if (!options.flamegraph.empty()) {
    tm::write_flamegraph(
        snapshot, options.flamegraph,
        fmt::format("Live memory: {}", fs::path(options.file).filename().string()));
    fmt::print(stderr, "batteries tracemalloc: wrote the flame graph {}\n", options.flamegraph);
  }
  return 0;
}

// ---- option checks, with Python's messages where Python has one --------------------------------

std::string check_nframes(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') {
    return fmt::format("not an integer: '{}'", text);
  }
  if (errno == ERANGE || n < 1 || n > static_cast<long long>(tm::kMaxFrames)) {
    return "the number of frames must be in range [1; 65535]";
  }
  return {};
}

std::string check_interval(const std::string& text) {
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(seconds > 0) || seconds > 1e9) {
    return fmt::format("the interval must be a positive number of seconds, not '{}'", text);
  }
  return {};
}

std::string check_sample_rate(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long rate = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-' || errno == ERANGE || rate < 1) {
    return fmt::format("the sample rate must be a whole number of bytes, at least 1, not '{}'",
                       text);
  }
  return {};
}

}  // namespace

Command add_tracemalloc(CLI::App& app) {
  auto run = std::make_shared<RunOptions>();
  auto show = std::make_shared<ShowOptions>();

  CLI::App* command = app.add_subcommand(
      "tracemalloc", "Trace the memory allocations of a program, as Python's tracemalloc does");
  command
      ->add_option("--nframes", run->nframes,
                   "Frames kept per traceback, 1 to 65535 (default 16; Python's default is 1)")
      ->check(CLI::Validator(check_nframes, "[1; 65535]", "nframes"));
  command->add_option("-o,--output", run->output,
                      "Snapshot file written when the program exits "
                      "(default: tracemalloc.<pid>.snap in the current directory)");
  command
      ->add_option("--interval", run->interval,
                   "Also write a snapshot every SECONDS, to OUTPUT.1, OUTPUT.2, ...")
      ->check(CLI::Validator(check_interval, "POSITIVE", "interval"));
  command
      ->add_option("--sample-rate", run->sample_rate,
                   "Trace a sample of the allocations: one every BYTES bytes on average, with "
                   "sizes scaled to estimates")
      ->check(CLI::Validator(check_sample_rate, "POSITIVE", "sample rate"));
  command->add_option("--flamegraph", run->flamegraph,
                      "Also write a flame graph (SVG) of the memory live at exit");
  command->add_option("PROGRAM", run->program, "The program to trace and its arguments");
  // Everything from PROGRAM on is the program's, options included (`--` works too).
  command->positionals_at_end();
  command->footer(
      "The program runs with the agent library preloaded (LD_PRELOAD), found through\n"
      "$BATTERIES_TRACEMALLOC_AGENT, then beside this tool (../lib), then where batteries\n"
      "was built or installed. The program writes OUTPUT when it exits; its other processes\n"
      "(forked children, programs it runs) write OUTPUT.<pid>; SIGUSR2 sent to the program,\n"
      "or to this tool, writes the next OUTPUT.<n> at once. The tool exits with the\n"
      "program's status (128+N when killed by signal N).\n"
      "\n"
      "Example: batteries tracemalloc --nframes 32 -o app.snap -- ./app --port 80\n"
      "         batteries tracemalloc show app.snap --key traceback --limit 3");

  CLI::App* show_command = command->add_subcommand(
      "show", "Show the top allocation sites of a snapshot file (Python's 'Display the top 10')");
  show_command->add_option("FILE", show->file, "A snapshot file")->required();
  show_command
      ->add_option("--key", show->key,
                   "Group by lineno (the allocating line), filename or traceback (default "
                   "lineno)")
      ->check(CLI::IsMember({"lineno", "filename", "traceback"}));
  show_command->add_option("--limit", show->limit, "How many to show (default 10)")
      ->check(CLI::NonNegativeNumber);
  show_command->add_option("--compare", show->compare,
                           "An older snapshot: show what changed since (Python's compare_to)");
  show_command->add_flag("--cumulative", show->cumulative,
                         "Count each frame of a traceback, not only the most recent");
  show_command->add_option("--flamegraph", show->flamegraph,
                           "Also write a flame graph (SVG) of the snapshot");
  show_command->footer(
      "Prints the top allocation sites as Python's tracemalloc recipes do: with --key lineno\n"
      "\"#1: dir/file.cpp:12 in function(): 12.3 KiB\" and the source line; with --key\n"
      "traceback \"#1: 12.3 KiB in 3 blocks\" and the traceback, the most recent call first;\n"
      "with --compare, one StatisticDiff per line. Then \"N other: X KiB\" and\n"
      "\"Total allocated size: X KiB\".");
  command->require_subcommand(0, 1);

  return {command, [run, show, show_command] {
            return show_command->parsed() ? show_snapshot(*show) : trace_program(*run);
          }};
}

}  // namespace batteries::cli
