// What differs between the backends: epoll refuses regular files and has a fileno();
// select() stops at FD_SETSIZE; DefaultSelector is the best one here.
#include <batteries/selectors.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <type_traits>

#include "fds.hpp"
#include "raises.hpp"

namespace batteries::selectors {
namespace {

using testing::Fd;
using testing::SocketPair;

#if defined(__linux__)
TEST(DefaultSelectorTest, IsEpollOnLinux) {
  static_assert(std::is_same_v<DefaultSelector, EpollSelector>);
}
#endif

#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
TEST(EpollSelectorTest, RegularFilesArePermissionErrorsAndLeaveNoKey) {
  EpollSelector selector;
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_RAISES_MSG(selector.register_(::fileno(file), EVENT_READ), PermissionError,
                    "[Errno 1] Operation not permitted");
  EXPECT_TRUE(selector.get_map().empty());
  std::fclose(file);
}

TEST(EpollSelectorTest, FilenoIsTheEpollDescriptorAndIsClosed) {
  int fd = -1;
  {
    EpollSelector selector;
    fd = selector.fileno();
    EXPECT_GE(fd, 0);
    EXPECT_NE(::fcntl(fd, F_GETFD), -1);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed by the destructor
}

TEST(EpollSelectorTest, ModifyOfAClosedFileDropsTheKey) {
  EpollSelector selector;
  SocketPair pair;
  const int fd = pair.a.get();
  selector.register_(fd, EVENT_READ);
  pair.a.reset();  // the kernel forgets it; EPOLL_CTL_MOD now fails
  Fd reuse_guard;  // keep the number from being reused
  EXPECT_RAISES(selector.modify(fd, EVENT_WRITE), OSError);
  EXPECT_FALSE(selector.get_map().contains(fd));  // as Python: unregistered
}
#endif

TEST(SelectSelectorTest, DescriptorsAtOrAboveFdSetsizeAreValueErrors) {
  if (!testing::raise_fd_limit(FD_SETSIZE + 16)) {
    GTEST_SKIP() << "cannot open a descriptor above FD_SETSIZE here";
  }
  SocketPair pair;
  const int high = ::fcntl(pair.a.get(), F_DUPFD_CLOEXEC, FD_SETSIZE);
  ASSERT_GE(high, FD_SETSIZE);
  Fd high_fd(high);
  SelectSelector selector;
  EXPECT_RAISES_MSG(selector.register_(high, EVENT_READ), ValueError,
                    "filedescriptor out of range in select()");
  EXPECT_TRUE(selector.get_map().empty());
  // The selector is still whole: a low descriptor works as before.
  selector.register_(pair.b.get(), EVENT_WRITE);
  EXPECT_EQ(selector.select(0).size(), 1u);
  // The other backends take the high one.
  PollSelector poll;
  poll.register_(high, EVENT_WRITE);
  EXPECT_EQ(poll.select(0).size(), 1u);
}

TEST(SelectSelectorTest, HighestDescriptorShrinksOnUnregister) {
  SelectSelector selector;
  SocketPair low;
  SocketPair high;
  selector.register_(low.a.get(), EVENT_WRITE);
  selector.register_(high.b.get(), EVENT_WRITE);
  selector.unregister(high.b.get());
  const auto ready = selector.select(0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].first.fd, low.a.get());
}

}  // namespace
}  // namespace batteries::selectors
