// SelectSelector: the selector over select(2), portable, limited to fds below FD_SETSIZE.
//
// Thread-safety: as BaseSelector, one thread at a time per selector.
#pragma once

#include <batteries/selectors/selector.hpp>

#include <sys/select.h>

namespace batteries::selectors {

/// Python's selectors.SelectSelector. select(2) cannot watch a descriptor at or above
/// FD_SETSIZE (1024 on Linux); register_() refuses one with ValueError, where Python fails
/// later, in select().
class SelectSelector final : public BaseSelector {
 public:
  SelectSelector();
  ~SelectSelector() override { close(); }

 protected:
  void backend_register(int fd, Events events) override;
  void backend_unregister(int fd, Events events) noexcept override;
  void backend_modify(int fd, Events old_events, Events new_events) override;
  bool backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) override;
  void backend_close() noexcept override;

 private:
  fd_set m_readers{};
  fd_set m_writers{};
  int m_max_fd = -1;  // the highest fd in either set, -1 when both are empty
};

}  // namespace batteries::selectors
