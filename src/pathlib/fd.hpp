// UniqueFd: owns one file descriptor and closes it, for pathlib's system calls.
#pragma once

#include <unistd.h>

#include <utility>

namespace batteries::pathlib::detail {

/// Closes the descriptor when it goes, unless release() handed it on. Not copyable.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (m_fd >= 0) ::close(m_fd);
  }

  [[nodiscard]] int get() const noexcept { return m_fd; }
  int release() noexcept { return std::exchange(m_fd, -1); }

 private:
  int m_fd;
};

}  // namespace batteries::pathlib::detail
