// File-system helpers for tests, on the C library's calls.
#include "fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace batteries::testing {

void check(bool ok, std::string_view what, const std::string& path) {
  if (!ok) {
    throw std::runtime_error(
        std::string(what).append("(").append(path).append("): ").append(std::strerror(errno)));
  }
}

std::string make_temp_dir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  pattern.append("/").append(prefix).append("-XXXXXX");
  check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp", pattern);
  char* real = ::realpath(pattern.c_str(), nullptr);
  check(real != nullptr, "realpath", pattern);
  std::string out = real;
  std::free(real);
  return out;
}

void write_file(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  check(fd >= 0, "open", path);
  const ssize_t n = ::write(fd, data.data(), data.size());
  ::close(fd);
  check(n == static_cast<ssize_t>(data.size()), "write", path);
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, "open", path);
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

void make_dir(const std::string& path, mode_t mode) {
  check(::mkdir(path.c_str(), mode) == 0, "mkdir", path);
}

void make_link(const std::string& target, const std::string& link) {
  check(::symlink(target.c_str(), link.c_str()) == 0, "symlink", link);
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlink(path.c_str());
    return;
  }
  ::chmod(path.c_str(), 0700);
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(path.c_str()); dir != nullptr) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(dir);
  }
  for (const std::string& name : names) remove_tree(std::string(path).append("/").append(name));
  ::rmdir(path.c_str());
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : m_name(std::move(name)) {
  if (const char* old = std::getenv(m_name.c_str()); old != nullptr) m_old = old;
  if (value) {
    ::setenv(m_name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(m_name.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (m_old) {
    ::setenv(m_name.c_str(), m_old->c_str(), 1);
  } else {
    ::unsetenv(m_name.c_str());
  }
}

ScopedCwd::ScopedCwd(const std::string& dir) {
  char* old = ::getcwd(nullptr, 0);
  check(old != nullptr, "getcwd", dir);
  m_old = old;
  std::free(old);
  check(::chdir(dir.c_str()) == 0, "chdir", dir);
}

ScopedCwd::~ScopedCwd() { [[maybe_unused]] const int rc = ::chdir(m_old.c_str()); }

}  // namespace batteries::testing
