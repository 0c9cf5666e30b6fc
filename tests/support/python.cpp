// run_python(): spawns CPython with posix_spawn and collects its output through pipes.
#include "python.hpp"

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <vector>

extern char** environ;

namespace batteries::testing {

std::string python_executable() {
  const char* configured = std::getenv("BATTERIES_PYTHON");
  return configured != nullptr && *configured != '\0' ? configured : "python3";
}

namespace {

std::string read_all(int fd) {
  std::string out;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      out.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return out;
    }
  }
}

}  // namespace

std::optional<std::string> run_python(const std::string& script) {
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) {
    ADD_FAILURE() << "pipe() failed";
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, out_pipe[1]);

  const std::string python = python_executable();
  std::vector<char*> argv{const_cast<char*>(python.c_str()), const_cast<char*>("-c"),
                          const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    return std::nullopt;
  }
  std::string output = read_all(out_pipe[0]);
  ::close(out_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
    return std::nullopt;  // no interpreter there
  }
  if (WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << python << " failed on:\n" << script;
  }
  return output;
}

}  // namespace batteries::testing
