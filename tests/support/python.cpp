// run_python(): spawns CPython with posix_spawn and collects its output through pipes; and the
// helpers differential tests share (finding an interpreter, passing bytes as hex).
#include "python.hpp"

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>
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
  // A long script (a differential test's data) goes through a file: one argument may not
  // exceed 128 KiB.
  std::string script_dir;
  std::string script_file;
  std::vector<char*> argv{const_cast<char*>(python.c_str()), const_cast<char*>("-c"),
                          const_cast<char*>(script.c_str()), nullptr};
  if (script.size() > 64 * 1024) {
    script_dir = make_temp_dir("batteries-python");
    script_file = script_dir + "/script.py";
    write_file(script_file, script);
    argv = {const_cast<char*>(python.c_str()), const_cast<char*>(script_file.c_str()), nullptr};
  }
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
  if (!script_dir.empty()) {
    remove_tree(script_dir);
  }
  if (WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << python << " failed on:\n" << script.substr(0, 4000);
  }
  return output;
}

namespace {

/// The interpreter's (major, minor), or nullopt when it does not run.
std::optional<std::pair<int, int>> python_version(const std::string& executable) {
  if (executable.find('\'') != std::string::npos) return std::nullopt;
  const std::string command =
      std::string("'")
          .append(executable)
          .append("' -c 'import sys; print(*sys.version_info[:2])' 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  int major = 0;
  int minor = 0;
  const int read = std::fscanf(pipe, "%d %d", &major, &minor);
  const int status = ::pclose(pipe);
  if (read != 2 || status != 0) return std::nullopt;
  return std::pair{major, minor};
}

}  // namespace

std::optional<std::string> find_python(int minor) {
  const std::string version = "3." + std::to_string(minor);
  std::vector<std::string> candidates = {python_executable(), "python" + version};
  std::filesystem::path pyenv;
  if (const char* root = std::getenv("PYENV_ROOT"); root != nullptr && *root != '\0') {
    pyenv = root;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    pyenv = std::filesystem::path(home) / ".pyenv";
  }
  if (!pyenv.empty()) {
    std::error_code error;
    std::vector<std::string> installed;
    for (const auto& entry : std::filesystem::directory_iterator(pyenv / "versions", error)) {
      if (entry.path().filename().string().starts_with(version + ".")) {
        installed.push_back((entry.path() / "bin" / "python3").string());
      }
    }
    std::sort(installed.begin(), installed.end());  // a fixed order
    candidates.insert(candidates.end(), installed.begin(), installed.end());
  }
  for (const std::string& candidate : candidates) {
    if (python_version(candidate) == std::pair{3, minor}) return candidate;
  }
  return std::nullopt;
}

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHexDigits[byte >> 4];
    out += kHexDigits[byte & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  const auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]);
    const int low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

std::string printable(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHexDigits[byte >> 4];
      out += kHexDigits[byte & 15];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : text) {
    if (c == sep) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(std::move(current));
  return out;
}

}  // namespace batteries::testing
