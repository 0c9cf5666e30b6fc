// The descriptor-leak check of the networking tests: count /proc/self/fd before and after.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

namespace batteries::testing {

/// How many descriptors the process has open now.
inline int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

/// Checks, at the end of a test (its scope), that it left no descriptor open.
class NoFdLeak {
 public:
  NoFdLeak() : m_before(open_fd_count()) {}
  NoFdLeak(const NoFdLeak&) = delete;
  NoFdLeak& operator=(const NoFdLeak&) = delete;
  ~NoFdLeak() { EXPECT_EQ(open_fd_count(), m_before) << "a descriptor leaked"; }

 private:
  int m_before;
};

}  // namespace batteries::testing
