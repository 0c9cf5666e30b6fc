// KqueueSelector: one EVFILT_READ and one EVFILT_WRITE filter per fd, as Python's.
// Built only where <sys/event.h> exists (the BSDs and macOS).
#include <batteries/selectors/kqueue.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <iterator>

namespace batteries::selectors {

KqueueSelector::KqueueSelector() : m_kq(::kqueue()) {
  if (m_kq < 0) {
    raise_errno();
  }
}

void KqueueSelector::change(int fd, Events events, unsigned short flags) {
  struct kevent changes[2];
  int n = 0;
  if ((events & EVENT_READ) != 0) {
    EV_SET(&changes[n++], static_cast<uintptr_t>(fd), EVFILT_READ, flags, 0, 0, nullptr);
  }
  if ((events & EVENT_WRITE) != 0) {
    EV_SET(&changes[n++], static_cast<uintptr_t>(fd), EVFILT_WRITE, flags, 0, 0, nullptr);
  }
  if (n > 0 && ::kevent(m_kq, changes, n, nullptr, 0, nullptr) < 0) {
    raise_errno();
  }
}

namespace {
std::size_t filter_count(Events events) {
  return ((events & EVENT_READ) != 0 ? 1 : 0) + ((events & EVENT_WRITE) != 0 ? 1 : 0);
}
}  // namespace

void KqueueSelector::backend_register(int fd, Events events) {
  try {
    change(fd, events, EV_ADD);
  } catch (...) {
    // The read filter may have been added before the write filter failed.
    backend_unregister(fd, events);
    m_filters += filter_count(events);
    throw;
  }
  m_filters += filter_count(events);
}

void KqueueSelector::backend_unregister(int fd, Events events) noexcept {
  // Deleting filters of a closed fd fails; the kernel dropped them already.
  for (const Events one : {EVENT_READ, EVENT_WRITE}) {
    if ((events & one) != 0) {
      try {
        change(fd, one, EV_DELETE);
      } catch (const OSError&) {
      }
    }
  }
  m_filters -= std::min(m_filters, filter_count(events));
}

void KqueueSelector::backend_modify(int fd, Events old_events, Events new_events) {
  const Events removed = old_events & ~new_events;
  const Events added = new_events & ~old_events;
  backend_unregister(fd, removed);
  if (added != 0) {
    change(fd, added, EV_ADD);
    m_filters += filter_count(added);
  }
}

bool KqueueSelector::backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) {
  const std::size_t capacity = std::max<std::size_t>(m_filters, 1);
  if (m_events.size() < capacity) {
    m_events.resize(capacity);
  }
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout) {
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
    tsp = &ts;
  }
  const int n = ::kevent(m_kq, nullptr, 0, m_events.data(), static_cast<int>(capacity), tsp);
  if (n < 0) {
    if (errno == EINTR) {
      return false;
    }
    raise_errno();
  }
  // A file readable and writable comes back as two kevents; report it once, with both
  // events, as the other backends do (Python's KqueueSelector reports it twice).
  const std::size_t first = ready.size();
  for (int i = 0; i < n; ++i) {
    const Events events = m_events[i].filter == EVFILT_READ ? EVENT_READ : EVENT_WRITE;
    ready.emplace_back(static_cast<int>(m_events[i].ident), events);
  }
  const auto begin = ready.begin() + static_cast<std::ptrdiff_t>(first);
  std::sort(begin, ready.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto out = begin;
  for (auto it = begin; it != ready.end(); ++it) {
    if (out != begin && std::prev(out)->first == it->first) {
      std::prev(out)->second |= it->second;
    } else {
      *out++ = *it;
    }
  }
  ready.erase(out, ready.end());
  return true;
}

void KqueueSelector::backend_close() noexcept {
  if (m_kq >= 0) {
    ::close(m_kq);
    m_kq = -1;
  }
  m_filters = 0;
  m_events = {};
}

}  // namespace batteries::selectors
