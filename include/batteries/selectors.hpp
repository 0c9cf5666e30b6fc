// batteries::selectors: Python's selectors module, high-level I/O multiplexing.
//
// Everything the module has: EVENT_READ, EVENT_WRITE, SelectorKey, BaseSelector, the
// EpollSelector, PollSelector, SelectSelector and (where the platform has kqueue)
// KqueueSelector implementations, and DefaultSelector, the best of them here.
#pragma once

#include <batteries/selectors/epoll.hpp>
#include <batteries/selectors/key.hpp>
#include <batteries/selectors/kqueue.hpp>
#include <batteries/selectors/poll.hpp>
#include <batteries/selectors/select.hpp>
#include <batteries/selectors/selector.hpp>

namespace batteries::selectors {

/// The most efficient selector the platform has: epoll on Linux, kqueue on the BSDs and
/// macOS, poll elsewhere. Python makes the same choice (devpoll aside).
#if defined(BATTERIES_HAVE_EPOLL_SELECTOR)
using DefaultSelector = EpollSelector;
#elif defined(BATTERIES_HAVE_KQUEUE_SELECTOR)
using DefaultSelector = KqueueSelector;
#else
using DefaultSelector = PollSelector;
#endif

}  // namespace batteries::selectors
