// EpollSelector: level-triggered epoll(7), waits with millisecond resolution rounded up.
#include <batteries/selectors/epoll.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace batteries::selectors {

namespace {

std::uint32_t to_epoll(Events events) {
  std::uint32_t bits = 0;
  if ((events & EVENT_READ) != 0) {
    bits |= EPOLLIN;
  }
  if ((events & EVENT_WRITE) != 0) {
    bits |= EPOLLOUT;
  }
  return bits;
}

// Errors and hang-ups wake both directions, as Python maps them: anything but EPOLLIN
// counts as writable, anything but EPOLLOUT as readable.
Events from_epoll(std::uint32_t bits) {
  Events events{};
  if (bits & ~static_cast<std::uint32_t>(EPOLLIN)) {
    events |= EVENT_WRITE;
  }
  if (bits & ~static_cast<std::uint32_t>(EPOLLOUT)) {
    events |= EVENT_READ;
  }
  return events;
}

}  // namespace

EpollSelector::EpollSelector() : m_epfd(::epoll_create1(EPOLL_CLOEXEC)) {
  if (m_epfd < 0) {
    raise_errno();
  }
}

void EpollSelector::backend_register(int fd, Events events) {
  epoll_event event{};
  event.events = to_epoll(events);
  event.data.fd = fd;
  if (::epoll_ctl(m_epfd, EPOLL_CTL_ADD, fd, &event) < 0) {
    raise_errno();
  }
  ++m_registered;
}

void EpollSelector::backend_unregister(int fd, Events) noexcept {
  // EBADF or ENOENT here mean the fd was closed since; the kernel dropped it already.
  ::epoll_ctl(m_epfd, EPOLL_CTL_DEL, fd, nullptr);
  --m_registered;
}

void EpollSelector::backend_modify(int fd, Events, Events new_events) {
  epoll_event event{};
  event.events = to_epoll(new_events);
  event.data.fd = fd;
  if (::epoll_ctl(m_epfd, EPOLL_CTL_MOD, fd, &event) < 0) {
    raise_errno();
  }
}

bool EpollSelector::backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) {
  // Room for every registered fd, so one call reports all that are ready.
  const std::size_t capacity = std::max<std::size_t>(m_registered, 1);
  if (m_events.size() < capacity) {
    m_events.resize(capacity);
  }
  const int n =
      ::epoll_wait(m_epfd, m_events.data(), static_cast<int>(capacity), timeout_ms(timeout));
  if (n < 0) {
    if (errno == EINTR) {
      return false;
    }
    raise_errno();
  }
  for (int i = 0; i < n; ++i) {
    // epoll_event is packed on x86-64: copy the fields out rather than bind references.
    const int fd = m_events[i].data.fd;
    const std::uint32_t bits = m_events[i].events;
    ready.emplace_back(fd, from_epoll(bits));
  }
  return true;
}

void EpollSelector::backend_close() noexcept {
  if (m_epfd >= 0) {
    ::close(m_epfd);
    m_epfd = -1;
  }
  m_registered = 0;
  m_events = {};
}

}  // namespace batteries::selectors
