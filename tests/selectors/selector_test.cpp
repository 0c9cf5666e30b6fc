// The behaviour every selector shares, run against each implementation: registration and
// its errors, readiness on socketpairs and pipes, peers that close, modify/unregister with
// events pending, timeouts, signals, close, and 10,000 registered descriptors.
#include <batteries/selectors.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "fds.hpp"
#include "raises.hpp"

namespace batteries::selectors {
namespace {

using namespace std::chrono_literals;
using testing::Fd;
using testing::Pipe;
using testing::SocketPair;

template <class S>
class SelectorTest : public ::testing::Test {};

using Implementations = ::testing::Types<
#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
    EpollSelector,
#endif
#if defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
    KqueueSelector,
#endif
    PollSelector, SelectSelector>;

class Names {
 public:
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, PollSelector>) return "poll";
    if constexpr (std::is_same_v<T, SelectSelector>) return "select";
#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
    if constexpr (std::is_same_v<T, EpollSelector>) return "epoll";
#endif
#if defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
    if constexpr (std::is_same_v<T, KqueueSelector>) return "kqueue";
#endif
    return "other";
  }
};
TYPED_TEST_SUITE(SelectorTest, Implementations, Names);

// The fds that select() reported, with their events, in fd order.
std::vector<std::pair<int, unsigned>> ready_fds(const std::vector<BaseSelector::Ready>& ready) {
  std::vector<std::pair<int, unsigned>> out;
  for (const auto& [key, events] : ready) {
    out.emplace_back(key.fd, batteries::enums::value(events));
  }
  std::sort(out.begin(), out.end());
  return out;
}

using FdEvents = std::vector<std::pair<int, unsigned>>;

TYPED_TEST(SelectorTest, RegisterReturnsTheKey) {
  TypeParam selector;
  SocketPair pair;
  const SelectorKey key = selector.register_(pair.a.get(), EVENT_READ, std::string("payload"));
  EXPECT_EQ(key.fd, pair.a.get());
  EXPECT_TRUE(key.fileobj.is_fd());
  EXPECT_EQ(key.fileobj, FileObject(pair.a.get()));
  EXPECT_EQ(key.events, EVENT_READ);
  EXPECT_EQ(std::any_cast<std::string>(key.data), "payload");
  EXPECT_RAISES(std::any_cast<int>(key.data), std::bad_any_cast);

  const SelectorKey again = selector.get_key(pair.a.get());
  EXPECT_EQ(again.fd, key.fd);
  EXPECT_EQ(std::any_cast<std::string>(again.data), "payload");

  const SelectorMapping& map = selector.get_map();
  EXPECT_EQ(map.size(), 1u);
  EXPECT_TRUE(map.contains(pair.a.get()));
  EXPECT_FALSE(map.contains(pair.b.get()));
  EXPECT_EQ(map[pair.a.get()].fd, pair.a.get());
  EXPECT_FALSE(map.get(pair.b.get()).has_value());
  EXPECT_RAISES_MSG((void)map[pair.b.get()], KeyError,
                    std::to_string(pair.b.get()) + " is not registered");
}

TYPED_TEST(SelectorTest, NoDataIsEmpty) {
  TypeParam selector;
  SocketPair pair;
  EXPECT_FALSE(selector.register_(pair.a.get(), EVENT_WRITE).data.has_value());
}

TYPED_TEST(SelectorTest, InvalidEventsAreValueErrors) {
  TypeParam selector;
  SocketPair pair;
  EXPECT_RAISES_MSG(selector.register_(pair.a.get(), Events()), ValueError, "Invalid events: 0");
  EXPECT_RAISES_MSG(selector.register_(pair.a.get(), Events(4)), ValueError, "Invalid events: 4");
  EXPECT_RAISES_MSG(selector.register_(pair.a.get(), EVENT_READ | Events(8)), ValueError,
                    "Invalid events: 9");
  EXPECT_TRUE(selector.get_map().empty());

  selector.register_(pair.a.get(), EVENT_READ);
  EXPECT_RAISES_MSG(selector.modify(pair.a.get(), Events(0)), ValueError, "Invalid events: 0");
  EXPECT_EQ(selector.get_key(pair.a.get()).events, EVENT_READ);  // unchanged
}

TYPED_TEST(SelectorTest, InvalidDescriptorsAreValueErrors) {
  TypeParam selector;
  EXPECT_RAISES_MSG(selector.register_(-1, EVENT_READ), ValueError, "Invalid file descriptor: -1");
  EXPECT_RAISES_MSG((void)selector.get_key(-5), ValueError, "Invalid file descriptor: -5");
  EXPECT_RAISES(selector.unregister(-1), ValueError);
  EXPECT_TRUE(selector.get_map().empty());
}

TYPED_TEST(SelectorTest, DoubleRegistrationIsKeyError) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  const std::string fd = std::to_string(pair.a.get());
  EXPECT_RAISES_MSG(selector.register_(pair.a.get(), EVENT_WRITE), KeyError,
                    fd + " (FD " + fd + ") is already registered");
  EXPECT_EQ(selector.get_key(pair.a.get()).events, EVENT_READ);
}

TYPED_TEST(SelectorTest, UnknownFilesAreKeyErrors) {
  TypeParam selector;
  SocketPair pair;
  const std::string fd = std::to_string(pair.a.get());
  EXPECT_RAISES_MSG(selector.unregister(pair.a.get()), KeyError, fd + " is not registered");
  EXPECT_RAISES_MSG(selector.modify(pair.a.get(), EVENT_READ), KeyError, fd + " is not registered");
  EXPECT_RAISES_MSG((void)selector.get_key(pair.a.get()), KeyError, fd + " is not registered");
}

TYPED_TEST(SelectorTest, UnregisterReturnsTheKeyAndForgets) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ, 7);
  const SelectorKey key = selector.unregister(pair.a.get());
  EXPECT_EQ(key.fd, pair.a.get());
  EXPECT_EQ(std::any_cast<int>(key.data), 7);
  EXPECT_TRUE(selector.get_map().empty());
  EXPECT_RAISES(selector.unregister(pair.a.get()), KeyError);
  // And it can be registered again.
  EXPECT_EQ(selector.register_(pair.a.get(), EVENT_WRITE).events, EVENT_WRITE);
}

TYPED_TEST(SelectorTest, WritableAndReadableOnSocketPair) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ | EVENT_WRITE);
  EXPECT_EQ(ready_fds(selector.select(0)),
            (FdEvents{{pair.a.get(), batteries::enums::value(EVENT_WRITE)}}));
  pair.b.write("x");
  EXPECT_EQ(ready_fds(selector.select(0)),
            (FdEvents{{pair.a.get(), batteries::enums::value(EVENT_READ | EVENT_WRITE)}}));
}

TYPED_TEST(SelectorTest, ReadableOnPipe) {
  TypeParam selector;
  Pipe pipe;
  selector.register_(pipe.read_end.get(), EVENT_READ);
  selector.register_(pipe.write_end.get(), EVENT_WRITE);
  EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pipe.write_end.get(), 2}}));
  pipe.write_end.write("data");
  EXPECT_EQ(ready_fds(selector.select(0)),
            (FdEvents{{pipe.read_end.get(), 1}, {pipe.write_end.get(), 2}}));
  EXPECT_EQ(pipe.read_end.read(), "data");
  EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pipe.write_end.get(), 2}}));
}

TYPED_TEST(SelectorTest, ReadyEventsAreLimitedToTheRegisteredOnes) {
  TypeParam selector;
  SocketPair pair;
  pair.b.write("x");  // a is now readable and writable
  selector.register_(pair.a.get(), EVENT_WRITE);
  EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pair.a.get(), 2}}));
}

TYPED_TEST(SelectorTest, PeerThatClosesMakesItReadable) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  EXPECT_TRUE(selector.select(0).empty());
  pair.b.reset();
  const auto ready = selector.select(1.0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].first.fd, pair.a.get());
  EXPECT_TRUE(batteries::enums::contains(ready[0].second, EVENT_READ));
  EXPECT_EQ(pair.a.read(), "");  // end of file
}

TYPED_TEST(SelectorTest, PipeWriterThatClosesMakesTheReaderReadable) {
  TypeParam selector;
  Pipe pipe;
  selector.register_(pipe.read_end.get(), EVENT_READ);
  pipe.write_end.reset();
  EXPECT_EQ(ready_fds(selector.select(1.0)), (FdEvents{{pipe.read_end.get(), 1}}));
}

TYPED_TEST(SelectorTest, ModifyWhileEventsArePending) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ, std::string("first"));
  pair.b.write("pending");
  // Switch to write-only with the read event pending: only the write is reported.
  const SelectorKey key = selector.modify(pair.a.get(), EVENT_WRITE, std::string("second"));
  EXPECT_EQ(key.events, EVENT_WRITE);
  const auto ready = selector.select(0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, EVENT_WRITE);
  EXPECT_EQ(std::any_cast<std::string>(ready[0].first.data), "second");
  // And back: the pending data is seen again.
  selector.modify(pair.a.get(), EVENT_READ);
  EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pair.a.get(), 1}}));
}

TYPED_TEST(SelectorTest, ModifyWithSameEventsReplacesTheData) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_WRITE, 1);
  EXPECT_EQ(std::any_cast<int>(selector.modify(pair.a.get(), EVENT_WRITE, 2).data), 2);
  EXPECT_EQ(std::any_cast<int>(selector.get_key(pair.a.get()).data), 2);
  // Data defaults to empty, as Python's data=None.
  EXPECT_FALSE(selector.modify(pair.a.get(), EVENT_WRITE).data.has_value());
}

TYPED_TEST(SelectorTest, UnregisterWhileEventsArePending) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  selector.register_(pair.b.get(), EVENT_READ);
  pair.b.write("x");
  pair.a.write("y");
  selector.unregister(pair.a.get());
  EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pair.b.get(), 1}}));
}

TYPED_TEST(SelectorTest, UnregisterAFileClosedSinceRegistration) {
  TypeParam selector;
  SocketPair pair;
  const int fd = pair.a.get();
  selector.register_(fd, EVENT_READ);
  pair.a.reset();
  EXPECT_EQ(selector.unregister(fd).fd, fd);  // no OSError, as in Python
  EXPECT_TRUE(selector.get_map().empty());
}

TYPED_TEST(SelectorTest, TimeoutZeroPollsAndPositiveWaits) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  EXPECT_TRUE(selector.select(0).empty());
  EXPECT_TRUE(selector.select(-1.0).empty());  // negative polls too
  EXPECT_TRUE(selector.select(-1s).empty());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(selector.select(0.05).empty());
  // The wait lasts at least the timeout: Python rounds the backends' resolution up.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  const auto start2 = std::chrono::steady_clock::now();
  EXPECT_TRUE(selector.select(1500us).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start2, 1500us);
}

TYPED_TEST(SelectorTest, BadTimeouts) {
  TypeParam selector;
  EXPECT_RAISES_MSG((void)selector.select(std::nan("")), ValueError, "NaN");
  EXPECT_RAISES((void)selector.select(std::numeric_limits<double>::infinity()), OverflowError);
  EXPECT_RAISES((void)selector.select(std::chrono::hours(24 * 365)), OverflowError);
}

TYPED_TEST(SelectorTest, NoTimeoutBlocksUntilReady) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  std::thread writer([&] {
    std::this_thread::sleep_for(30ms);
    pair.b.write("wake");
  });
  const auto ready = selector.select();
  writer.join();
  EXPECT_EQ(ready_fds(ready), (FdEvents{{pair.a.get(), 1}}));
}

// A signal handler without SA_RESTART makes the wait fail with EINTR; the selector must
// resume with the time that is left rather than return early or throw (PEP 475).
class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction action {};
    action.sa_handler = [](int) { ++signals_seen; };
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART
    sigaction(SIGALRM, &action, &m_old);
    signals_seen = 0;
  }
  ~SignalGuard() {
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &m_old, nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  // Fires every `interval`.
  static void every(std::chrono::microseconds interval) {
    itimerval timer{};
    timer.it_value.tv_usec = static_cast<suseconds_t>(interval.count());
    timer.it_interval = timer.it_value;
    setitimer(ITIMER_REAL, &timer, nullptr);
  }
  // Lock-free, so safe to touch from a signal handler.
  static inline std::atomic<int> signals_seen = 0;

 private:
  struct sigaction m_old {};
};

TYPED_TEST(SelectorTest, SignalsDoNotShortenATimeout) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  SignalGuard guard;
  SignalGuard::every(10ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(selector.select(0.2).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_GT(SignalGuard::signals_seen.load(), 2);
}

TYPED_TEST(SelectorTest, SignalsDoNotEndABlockingWait) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  SignalGuard guard;
  SignalGuard::every(5ms);
  std::thread writer([&] {
    // The signals are for the selecting thread, not this one.
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, nullptr);
    std::this_thread::sleep_for(100ms);
    pair.b.write("x");
  });
  const auto ready = selector.select();
  writer.join();
  EXPECT_EQ(ready_fds(ready), (FdEvents{{pair.a.get(), 1}}));
  // ThreadSanitizer defers and merges signals, so only "at least one" holds everywhere.
  EXPECT_GE(SignalGuard::signals_seen.load(), 1);
}

TYPED_TEST(SelectorTest, ClosedSelectorRaisesRuntimeError) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ);
  selector.close();
  EXPECT_TRUE(selector.closed());
  selector.close();  // idempotent
  EXPECT_RAISES_MSG(selector.register_(pair.b.get(), EVENT_READ), RuntimeError,
                    "Selector is closed");
  EXPECT_RAISES(selector.unregister(pair.a.get()), RuntimeError);
  EXPECT_RAISES(selector.modify(pair.a.get(), EVENT_WRITE), RuntimeError);
  EXPECT_RAISES((void)selector.select(0), RuntimeError);
  EXPECT_RAISES((void)selector.get_key(pair.a.get()), RuntimeError);
  EXPECT_RAISES((void)selector.get_map(), RuntimeError);
  // Closing the selector leaves the user's files open.
  EXPECT_EQ(pair.b.write("still open"), 10);
}

TYPED_TEST(SelectorTest, HotPathSelectFillsTheCallersBuffer) {
  TypeParam selector;
  SocketPair pair;
  selector.register_(pair.a.get(), EVENT_READ, 42);
  std::vector<BaseSelector::ReadyRef> ready{{nullptr, Events()}};  // stale entry to clear
  EXPECT_EQ(selector.select(ready, std::chrono::nanoseconds(0)), 0u);
  EXPECT_TRUE(ready.empty());
  pair.b.write("x");
  ASSERT_EQ(selector.select(ready, std::nullopt), 1u);
  EXPECT_EQ(ready[0].first->fd, pair.a.get());
  EXPECT_EQ(std::any_cast<int>(ready[0].first->data), 42);
  EXPECT_EQ(ready[0].second, EVENT_READ);
}

// A type of the caller's with fileno(), as Python accepts sockets and files.
struct Channel {
  SocketPair pair;
  bool closed = false;
  int fileno() const { return closed ? -1 : pair.a.get(); }
};

TYPED_TEST(SelectorTest, ObjectsWithFileno) {
  TypeParam selector;
  Channel channel;
  const SelectorKey key = selector.register_(channel, EVENT_WRITE);
  EXPECT_FALSE(key.fileobj.is_fd());
  EXPECT_EQ(key.fileobj.get<Channel>(), &channel);
  EXPECT_EQ(key.fileobj.get<int>(), nullptr);  // type-checked
  EXPECT_EQ(key.fd, channel.pair.a.get());
  // Looked up by object or by its descriptor, as Python does.
  EXPECT_EQ(selector.get_key(channel).fd, key.fd);
  const SelectorKey by_fd = selector.get_key(key.fd);
  EXPECT_EQ(by_fd.fileobj.get<Channel>(), &channel);
  const auto ready = selector.select(0);
  ASSERT_EQ(ready.size(), 1u);
  const SelectorKey& ready_key = ready[0].first;
  EXPECT_EQ(ready_key.fileobj.get<Channel>(), &channel);
  // Once its fileno() is invalid it is found by identity, so it can still be unregistered.
  channel.closed = true;
  EXPECT_EQ(selector.unregister(channel).fd, key.fd);
  EXPECT_RAISES_MSG(selector.register_(channel, EVENT_READ), ValueError,
                    "Invalid file descriptor: -1");
}

// The ability to hold many descriptors: 10,000 registered, a handful ready.
TYPED_TEST(SelectorTest, TenThousandDescriptors) {
  if (!testing::raise_fd_limit(10'200)) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit is below 10,200";
  }
  if constexpr (std::is_same_v<TypeParam, SelectSelector>) {
    // select() cannot watch past FD_SETSIZE: every descriptor below it is taken, every one
    // above is refused with ValueError, and the selector keeps working throughout.
    TypeParam selector;
    std::vector<SocketPair> pairs(5'000);
    std::size_t taken = 0;
    std::size_t refused = 0;
    for (auto& pair : pairs) {
      for (const int fd : {pair.a.get(), pair.b.get()}) {
        if (fd < FD_SETSIZE) {
          selector.register_(fd, EVENT_READ);
          ++taken;
        } else {
          EXPECT_RAISES(selector.register_(fd, EVENT_READ), ValueError);
          ++refused;
        }
      }
    }
    EXPECT_EQ(selector.get_map().size(), taken);
    EXPECT_GT(refused, 8'000u);
    pairs[10].b.write("x");
    EXPECT_EQ(ready_fds(selector.select(1.0)), (FdEvents{{pairs[10].a.get(), 1}}));
  } else {
    TypeParam selector;
    std::vector<SocketPair> pairs(5'000);
    for (auto& pair : pairs) {
      selector.register_(pair.a.get(), EVENT_READ);
      selector.register_(pair.b.get(), EVENT_READ);
    }
    EXPECT_EQ(selector.get_map().size(), 10'000u);
    EXPECT_TRUE(selector.select(0).empty());
    FdEvents expected;
    for (std::size_t i : {0ul, 1234ul, 4999ul}) {
      pairs[i].b.write("x");
      expected.emplace_back(pairs[i].a.get(), 1);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(ready_fds(selector.select(1.0)), expected);
    for (std::size_t i = 0; i < pairs.size(); i += 2) {
      selector.unregister(pairs[i].a.get());
    }
    EXPECT_EQ(selector.get_map().size(), 7'500u);
    // Pairs 0 and 1234 went with the even ones; 4999 is still registered and ready.
    EXPECT_EQ(ready_fds(selector.select(0)), (FdEvents{{pairs[4999].a.get(), 1}}));
    std::size_t seen = 0;
    for (const SelectorKey& key : selector.get_map()) {
      EXPECT_EQ(key.events, EVENT_READ);
      ++seen;
    }
    EXPECT_EQ(seen, 7'500u);
  }
}

}  // namespace
}  // namespace batteries::selectors
