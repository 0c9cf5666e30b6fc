// The bookkeeping every selector shares: the fd -> key map, argument checks, Python's
// errors, the timeout rules and the retry-on-signal loop around the backend's wait.
#include <batteries/selectors/selector.hpp>

#include <fmt/format.h>

#include <cmath>
#include <typeinfo>

namespace batteries::selectors {

// ---- FileObject and SelectorKey ----

int FileObject::fileno() const {
  int fd = m_fd;
  if (m_object != nullptr) {
    try {
      fd = m_fileno(m_object);
    } catch (const ValueError&) {
      throw ValueError(fmt::format("Invalid file object: {}", repr()));
    } catch (const TypeError&) {
      throw ValueError(fmt::format("Invalid file object: {}", repr()));
    }
  }
  if (fd < 0) {
    throw ValueError(fmt::format("Invalid file descriptor: {}", fd));
  }
  return fd;
}

std::string FileObject::repr() const {
  return m_object == nullptr ? std::to_string(m_fd) : m_repr(m_object);
}

std::string SelectorKey::repr() const {
  std::string shown = "None";
  if (data.has_value()) {
    shown = data.type() == typeid(int)           ? std::to_string(std::any_cast<int>(data))
            : data.type() == typeid(std::string) ? py_repr(std::any_cast<const std::string&>(data))
                                                 : "<object>";
  }
  return fmt::format("SelectorKey(fileobj={}, fd={}, events={}, data={})", fileobj.repr(), fd,
                     enums::str(events), shown);
}

// ---- SelectorMapping ----

bool SelectorMapping::contains(const FileObject& fileobj) const {
  return m_selector->find(fileobj) != nullptr;
}

const SelectorKey& SelectorMapping::operator[](const FileObject& fileobj) const {
  if (const SelectorKey* key = m_selector->find(fileobj)) {
    return *key;
  }
  BaseSelector::not_registered(fileobj);
}

std::optional<SelectorKey> SelectorMapping::get(const FileObject& fileobj) const {
  if (const SelectorKey* key = m_selector->find(fileobj)) {
    return *key;
  }
  return std::nullopt;
}

// ---- BaseSelector ----

namespace {

// Checked on the integer: an IntFlag's ~ stays within its members, so it cannot show stray bits.
bool valid_events(Events events) {
  const unsigned bits = enums::value(events);
  return bits != 0 && (bits & ~enums::value(EVENT_READ | EVENT_WRITE)) == 0;
}

void check_events(Events events) {
  if (!valid_events(events)) {
    throw ValueError(fmt::format("Invalid events: {}", enums::value(events)));
  }
}

}  // namespace

void BaseSelector::check_open() const {
  if (m_closed) {
    throw RuntimeError("Selector is closed");
  }
}

void BaseSelector::not_registered(const FileObject& fileobj) {
  throw KeyError(fmt::format("{} is not registered", fileobj.repr()));
}

int BaseSelector::lookup_fd(const FileObject& fileobj) const {
  try {
    return fileobj.fileno();
  } catch (const ValueError&) {
    // A file closed since it was registered has no valid fileno() any more; find it by
    // identity so that it can still be unregistered, as Python's _fileobj_lookup does.
    for (const auto& [fd, key] : m_keys) {
      if (key.fileobj == fileobj) {
        return fd;
      }
    }
    throw;
  }
}

const SelectorKey* BaseSelector::find(const FileObject& fileobj) const {
  check_open();
  const auto it = m_keys.find(lookup_fd(fileobj));
  return it == m_keys.end() ? nullptr : &it->second;
}

SelectorKey BaseSelector::register_(FileObject fileobj, Events events, std::any data) {
  check_open();
  check_events(events);
  const int fd = lookup_fd(fileobj);
  if (const auto it = m_keys.find(fd); it != m_keys.end()) {
    throw KeyError(fmt::format("{} (FD {}) is already registered", fileobj.repr(), fd));
  }
  // The map is only touched once the backend has accepted the descriptor, and the backend
  // is told to forget it again if the map cannot take it, so the two never disagree.
  backend_register(fd, events);
  try {
    const auto [it, inserted] =
        m_keys.emplace(fd, SelectorKey{fileobj, fd, events, std::move(data)});
    return it->second;
  } catch (...) {
    backend_unregister(fd, events);
    throw;
  }
}

SelectorKey BaseSelector::unregister(const FileObject& fileobj) {
  check_open();
  const auto it = m_keys.find(lookup_fd(fileobj));
  if (it == m_keys.end()) {
    not_registered(fileobj);
  }
  SelectorKey key = std::move(it->second);
  m_keys.erase(it);
  backend_unregister(key.fd, key.events);
  return key;
}

SelectorKey BaseSelector::modify(const FileObject& fileobj, Events events, std::any data) {
  check_open();
  const auto it = m_keys.find(lookup_fd(fileobj));
  if (it == m_keys.end()) {
    not_registered(fileobj);
  }
  // Python's poll-like selectors accept any mask here; an invalid one is refused instead,
  // before anything changes.
  check_events(events);
  SelectorKey& key = it->second;
  if (events != key.events) {
    try {
      backend_modify(key.fd, key.events, events);
    } catch (...) {
      // As Python: a file the backend no longer accepts is dropped, and the error raised.
      backend_unregister(key.fd, key.events);
      m_keys.erase(it);
      throw;
    }
    key.events = events;
  }
  key.data = std::move(data);
  return key;
}

BaseSelector::Timeout BaseSelector::to_timeout(std::optional<double> seconds) {
  if (!seconds) {
    return std::nullopt;
  }
  if (std::isnan(*seconds)) {
    throw ValueError("Invalid value NaN (not a number)");
  }
  if (*seconds <= 0) {
    return std::chrono::nanoseconds(0);
  }
  if (*seconds > std::chrono::duration<double>(max_timeout).count()) {
    throw OverflowError("timeout is too large");
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(*seconds));
}

int BaseSelector::timeout_ms(Timeout timeout) noexcept {
  if (!timeout) {
    return -1;
  }
  if (*timeout <= std::chrono::nanoseconds(0)) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout);
  return static_cast<int>(std::min(ms, max_timeout).count());
}

void BaseSelector::wait(Timeout timeout) {
  check_open();
  m_ready_fds.clear();
  if (timeout && *timeout < std::chrono::nanoseconds(0)) {
    timeout = std::chrono::nanoseconds(0);
  }
  if (timeout && *timeout > max_timeout) {
    throw OverflowError("timeout is too large");
  }
  using Clock = std::chrono::steady_clock;
  // Only a positive timeout needs a deadline; polls and endless waits skip the clock read.
  const bool timed = timeout && *timeout > std::chrono::nanoseconds(0);
  const auto deadline = timed ? Clock::now() + *timeout : Clock::time_point::max();
  // PEP 475: a signal does not end the wait early; it resumes with the time left.
  while (!backend_wait(timeout, m_ready_fds)) {
    m_ready_fds.clear();
    if (timed) {
      timeout =
          std::max(std::chrono::nanoseconds(0),
                   std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()));
    }
  }
}

std::vector<BaseSelector::Ready> BaseSelector::select(std::optional<double> timeout) {
  return select_keys(to_timeout(timeout));
}

std::vector<BaseSelector::Ready> BaseSelector::select_keys(Timeout timeout) {
  wait(timeout);
  std::vector<Ready> ready;
  ready.reserve(m_ready_fds.size());
  for (const auto& [fd, events] : m_ready_fds) {
    if (const auto it = m_keys.find(fd); it != m_keys.end()) {
      if (const Events mine = events & it->second.events; mine != 0) {
        ready.emplace_back(it->second, mine);
      }
    }
  }
  return ready;
}

std::size_t BaseSelector::select(std::vector<ReadyRef>& ready, Timeout timeout) {
  ready.clear();
  wait(timeout);
  for (const auto& [fd, events] : m_ready_fds) {
    if (const auto it = m_keys.find(fd); it != m_keys.end()) {
      if (const Events mine = events & it->second.events; mine != 0) {
        ready.emplace_back(&it->second, mine);
      }
    }
  }
  return ready.size();
}

void BaseSelector::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_keys.clear();
  m_ready_fds.clear();
  backend_close();
}

SelectorKey BaseSelector::get_key(const FileObject& fileobj) const { return get_map()[fileobj]; }

const SelectorMapping& BaseSelector::get_map() const {
  check_open();
  return m_mapping;
}

}  // namespace batteries::selectors
