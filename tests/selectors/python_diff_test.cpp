// Differential test: the same misuse of a selector through CPython's selectors module and
// through batteries must raise the same exception class with the same message.
#include <batteries/selectors.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "fds.hpp"
#include "python.hpp"

namespace batteries::selectors {
namespace {

// Both sides use descriptors 900 and 901, so that the messages, which quote descriptor
// numbers, can be compared as they are.
constexpr int kFd = 900;
constexpr int kOther = 901;

const char* const kPythonScript = R"(
import os, selectors, socket
a, b = socket.socketpair()
os.dup2(a.fileno(), 900)
os.dup2(b.fileno(), 901)
fd, other = 900, 901
sel = selectors.{cls}()
def attempt(call):
    try:
        call()
        print('no error')
    except Exception as e:
        print(type(e).__name__ + ': ' + str(e.args[0]))
attempt(lambda: sel.register(fd, 0))
attempt(lambda: sel.register(fd, 4))
attempt(lambda: sel.register(fd, 1 | 8))
attempt(lambda: sel.register(-1, selectors.EVENT_READ))
attempt(lambda: sel.register(-7, selectors.EVENT_WRITE))
sel.register(fd, selectors.EVENT_READ)
attempt(lambda: sel.register(fd, selectors.EVENT_WRITE))
attempt(lambda: sel.unregister(other))
attempt(lambda: sel.modify(other, selectors.EVENT_READ))
attempt(lambda: sel.get_key(other))
attempt(lambda: sel.get_map()[other])
attempt(lambda: sel.get_key(-3))
sel.close()
attempt(lambda: sel.get_key(fd))
)";

std::string describe(const std::function<void()>& call) {
  try {
    call();
    return "no error";
  } catch (const Exception& e) {
    return std::string(e.type_name()) + ": " + e.what();
  }
}

template <class Selector>
std::vector<std::string> batteries_run() {
  testing::SocketPair pair;
  testing::Fd fd(::dup2(pair.a.get(), kFd));
  testing::Fd other(::dup2(pair.b.get(), kOther));
  Selector sel;
  std::vector<std::string> out;
  auto attempt = [&](const std::function<void()>& call) { out.push_back(describe(call)); };
  attempt([&] { sel.register_(kFd, Events(0)); });
  attempt([&] { sel.register_(kFd, Events(4)); });
  attempt([&] { sel.register_(kFd, Events(1 | 8)); });
  attempt([&] { sel.register_(-1, EVENT_READ); });
  attempt([&] { sel.register_(-7, EVENT_WRITE); });
  sel.register_(kFd, EVENT_READ);
  attempt([&] { sel.register_(kFd, EVENT_WRITE); });
  attempt([&] { sel.unregister(kOther); });
  attempt([&] { sel.modify(kOther, EVENT_READ); });
  attempt([&] { (void)sel.get_key(kOther); });
  attempt([&] { (void)sel.get_map()[kOther]; });
  attempt([&] { (void)sel.get_key(-3); });
  sel.close();
  attempt([&] { (void)sel.get_key(kFd); });
  return out;
}

template <class Selector>
void compare_with_python(const std::string& python_class) {
  if (!testing::raise_fd_limit(kOther + 16)) {
    GTEST_SKIP() << "cannot open descriptor " << kOther;
  }
  std::string script = kPythonScript;
  script.replace(script.find("{cls}"), 5, python_class);
  const auto python = testing::run_python(script);
  if (!python) {
    GTEST_SKIP() << "no python3 to compare with";
  }
  std::vector<std::string> expected;
  std::istringstream lines(*python);
  for (std::string line; std::getline(lines, line);) {
    expected.push_back(line);
  }
  EXPECT_EQ(batteries_run<Selector>(), expected);
}

#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
TEST(AgainstCPython, EpollSelectorErrors) { compare_with_python<EpollSelector>("EpollSelector"); }
#endif
TEST(AgainstCPython, PollSelectorErrors) { compare_with_python<PollSelector>("PollSelector"); }
TEST(AgainstCPython, SelectSelectorErrors) {
  compare_with_python<SelectSelector>("SelectSelector");
}

}  // namespace
}  // namespace batteries::selectors
