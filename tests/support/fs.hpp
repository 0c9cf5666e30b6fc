// File-system helpers for tests, through the C library so that they do not depend on the code
// under test: temporary directories, files, links, removal, and scoped process state.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace batteries::testing {

/// Throws std::runtime_error("what(path): strerror(errno)") unless ok.
void check(bool ok, std::string_view what, const std::string& path);

/// A new directory under $TMPDIR (else /tmp) named prefix-XXXXXX, as its real path (no
/// symlinks), so that resolve() results can be predicted.
std::string make_temp_dir(std::string_view prefix);

void write_file(const std::string& path, std::string_view data = "", mode_t mode = 0644);
std::string read_file(const std::string& path);
void make_dir(const std::string& path, mode_t mode = 0755);
void make_link(const std::string& target, const std::string& link);

/// Removes a tree without following symlinks, first making each directory readable and
/// writable again (a test may leave one with mode 000).
void remove_tree(const std::string& path);

/// Sets (or with nullopt unsets) an environment variable, restoring it on scope exit.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string m_name;
  std::optional<std::string> m_old;
};

/// Changes the current directory, going back on scope exit.
class ScopedCwd {
 public:
  explicit ScopedCwd(const std::string& dir);
  ~ScopedCwd();
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  std::string m_old;
};

}  // namespace batteries::testing
