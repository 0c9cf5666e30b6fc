// EpollSelector: the selector over Linux's epoll(7), O(ready) per select() call.
//
// Thread-safety: as BaseSelector, one thread at a time per selector.
#pragma once

#if __has_include(<sys/epoll.h>)

#include <batteries/selectors/selector.hpp>

#include <sys/epoll.h>

#include <vector>

namespace batteries::selectors {

/// Python's selectors.EpollSelector. Level-triggered, like Python's.
class EpollSelector final : public BaseSelector {
 public:
  /// Creates the epoll instance (close-on-exec). Throws OSError when the kernel refuses.
  EpollSelector();
  ~EpollSelector() override { close(); }

  /// The epoll descriptor, for nesting this selector inside another one.
  [[nodiscard]] int fileno() const noexcept { return m_epfd; }

 protected:
  void backend_register(int fd, Events events) override;
  void backend_unregister(int fd, Events events) noexcept override;
  void backend_modify(int fd, Events old_events, Events new_events) override;
  bool backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) override;
  void backend_close() noexcept override;

 private:
  int m_epfd = -1;
  std::size_t m_registered = 0;
  std::vector<epoll_event> m_events;
};

}  // namespace batteries::selectors

#define BATTERIES_HAVE_EPOLL_SELECTOR 1
#endif
