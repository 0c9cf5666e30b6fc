// PollSelector: the selector over poll(2), O(registered) per select() call, no fd limit.
//
// Thread-safety: as BaseSelector, one thread at a time per selector.
#pragma once

#include <batteries/selectors/selector.hpp>

#include <poll.h>

#include <cstddef>
#include <unordered_map>
#include <vector>

namespace batteries::selectors {

/// Python's selectors.PollSelector.
class PollSelector final : public BaseSelector {
 public:
  PollSelector() = default;
  ~PollSelector() override { close(); }

 protected:
  void backend_register(int fd, Events events) override;
  void backend_unregister(int fd, Events events) noexcept override;
  void backend_modify(int fd, Events old_events, Events new_events) override;
  bool backend_wait(Timeout timeout, std::vector<std::pair<int, Events>>& ready) override;
  void backend_close() noexcept override;

 private:
  std::vector<pollfd> m_fds;                     // what poll(2) is handed
  std::unordered_map<int, std::size_t> m_index;  // fd -> its slot in m_fds
};

}  // namespace batteries::selectors
