// SelectSelector: select(2) over two fd_sets, for descriptors below FD_SETSIZE.
#include <batteries/selectors/select.hpp>

#include <fmt/format.h>

#include <cerrno>

namespace batteries::selectors {

SelectSelector::SelectSelector() {
  FD_ZERO(&m_readers);
  FD_ZERO(&m_writers);
}

void SelectSelector::backend_register(int fd, Events events) {
  if (fd >= FD_SETSIZE) {
    // FD_SET past the end of an fd_set would write out of bounds; refuse up front.
    throw ValueError(
        fmt::format("filedescriptor out of range in select(): {} is not below {}", fd, FD_SETSIZE));
  }
  backend_modify(fd, Events(), events);
}

void SelectSelector::backend_unregister(int fd, Events events) noexcept {
  if (fd < FD_SETSIZE) {
    backend_modify(fd, events, Events());
  }
}

void SelectSelector::backend_modify(int fd, Events, Events new_events) {
  if ((new_events & EVENT_READ) != 0) {
    FD_SET(fd, &m_readers);
  } else {
    FD_CLR(fd, &m_readers);
  }
  if ((new_events & EVENT_WRITE) != 0) {
    FD_SET(fd, &m_writers);
  } else {
    FD_CLR(fd, &m_writers);
  }
  if (new_events != 0 && fd > m_max_fd) {
    m_max_fd = fd;
  }
  while (m_max_fd >= 0 && !FD_ISSET(m_max_fd, &m_readers) && !FD_ISSET(m_max_fd, &m_writers)) {
    --m_max_fd;
  }
}

bool SelectSelector::backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) {
  fd_set readable = m_readers;
  fd_set writable = m_writers;
  timeval tv{};
  timeval* tvp = nullptr;
  if (timeout) {
    const auto us = std::chrono::ceil<std::chrono::microseconds>(*timeout).count();
    tv.tv_sec = static_cast<time_t>(us / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    tvp = &tv;
  }
  const int n = ::select(m_max_fd + 1, &readable, &writable, nullptr, tvp);
  if (n < 0) {
    if (errno == EINTR) {
      return false;
    }
    raise_errno();
  }
  for (int fd = 0; fd <= m_max_fd && n > 0; ++fd) {
    Events events{};
    if (FD_ISSET(fd, &readable)) {
      events |= EVENT_READ;
    }
    if (FD_ISSET(fd, &writable)) {
      events |= EVENT_WRITE;
    }
    if (events != 0) {
      ready.emplace_back(fd, events);
    }
  }
  return true;
}

void SelectSelector::backend_close() noexcept {
  FD_ZERO(&m_readers);
  FD_ZERO(&m_writers);
  m_max_fd = -1;
}

}  // namespace batteries::selectors
