// KqueueSelector: the selector over BSD and macOS kqueue(2), where the platform has it.
//
// Thread-safety: as BaseSelector, one thread at a time per selector.
#pragma once

#if __has_include(<sys/event.h>)

#include <batteries/selectors/selector.hpp>

#include <sys/event.h>

#include <vector>

namespace batteries::selectors {

/// Python's selectors.KqueueSelector: one EVFILT_READ and/or EVFILT_WRITE filter per fd.
class KqueueSelector final : public BaseSelector {
 public:
  /// Creates the kqueue. Throws OSError when the kernel refuses.
  KqueueSelector();
  ~KqueueSelector() override { close(); }

  /// The kqueue descriptor.
  [[nodiscard]] int fileno() const noexcept { return m_kq; }

 protected:
  void backend_register(int fd, Events events) override;
  void backend_unregister(int fd, Events events) noexcept override;
  void backend_modify(int fd, Events old_events, Events new_events) override;
  bool backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) override;
  void backend_close() noexcept override;

 private:
  void change(int fd, Events events, unsigned short flags);

  int m_kq = -1;
  std::size_t m_filters = 0;  // registered filters: the most events one kevent() can return
  std::vector<struct kevent> m_events;
};

}  // namespace batteries::selectors

#define BATTERIES_HAVE_KQUEUE_SELECTOR 1
#endif
