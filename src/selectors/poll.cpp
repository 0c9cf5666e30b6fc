// PollSelector: poll(2) over an array kept in step with the registrations.
#include <batteries/selectors/poll.hpp>

#include <cerrno>

namespace batteries::selectors {

namespace {

short to_poll(Events events) {
  short bits = 0;
  if ((events & EVENT_READ) != 0) {
    bits |= POLLIN;
  }
  if ((events & EVENT_WRITE) != 0) {
    bits |= POLLOUT;
  }
  return bits;
}

// POLLERR, POLLHUP and POLLNVAL wake both directions, as in Python.
Events from_poll(short revents) {
  const auto bits = static_cast<unsigned short>(revents);
  Events events{};
  if (bits & ~static_cast<unsigned short>(POLLIN)) {
    events |= EVENT_WRITE;
  }
  if (bits & ~static_cast<unsigned short>(POLLOUT)) {
    events |= EVENT_READ;
  }
  return events;
}

}  // namespace

void PollSelector::backend_register(int fd, Events events) {
  m_fds.reserve(m_fds.size() + 1);
  m_index.emplace(fd, m_fds.size());
  m_fds.push_back(pollfd{fd, to_poll(events), 0});
}

void PollSelector::backend_unregister(int fd, Events) noexcept {
  const auto it = m_index.find(fd);
  if (it == m_index.end()) {
    return;
  }
  // Swap-remove keeps unregister O(1); the order of the array does not matter to poll().
  const std::size_t slot = it->second;
  m_index.erase(it);
  if (slot != m_fds.size() - 1) {
    m_fds[slot] = m_fds.back();
    m_index[m_fds[slot].fd] = slot;
  }
  m_fds.pop_back();
}

void PollSelector::backend_modify(int fd, Events, Events new_events) {
  m_fds[m_index.at(fd)].events = to_poll(new_events);
}

bool PollSelector::backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) {
  const int n = ::poll(m_fds.data(), m_fds.size(), timeout_ms(timeout));
  if (n < 0) {
    if (errno == EINTR) {
      return false;
    }
    raise_errno();
  }
  for (std::size_t i = 0, found = 0; i < m_fds.size() && found < static_cast<std::size_t>(n); ++i) {
    if (m_fds[i].revents != 0) {
      ready.emplace_back(m_fds[i].fd, from_poll(m_fds[i].revents));
      ++found;
    }
  }
  return true;
}

void PollSelector::backend_close() noexcept {
  m_fds = {};
  m_index = {};
}

}  // namespace batteries::selectors
