// asyncio's exceptions: CancelledError, InvalidStateError, the queue, barrier and stream errors.
//
// As in Python 3.11, CancelledError is a BaseException (not an Exception), so that
// `catch (const batteries::Exception&)` does not swallow a cancellation; and asyncio's
// TimeoutError is the built-in batteries::TimeoutError.
//
// Thread-safety: exception objects are immutable and may be read from any thread.
#pragma once

#include <batteries/errors.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace batteries::asyncio {

/// Raised in a task at the point where it waits when the task is cancelled.
BATTERIES_EXCEPTION(CancelledError, batteries::detail::BaseExceptionImpl);
/// An operation that is not allowed in the future's state (a result set twice, ...).
BATTERIES_EXCEPTION(InvalidStateError, batteries::detail::ExceptionImpl);
/// Queue.get_nowait() on an empty queue.
BATTERIES_EXCEPTION(QueueEmpty, batteries::detail::ExceptionImpl);
/// Queue.put_nowait() on a full queue.
BATTERIES_EXCEPTION(QueueFull, batteries::detail::ExceptionImpl);
/// Barrier.wait() on a broken or reset barrier.
BATTERIES_EXCEPTION(BrokenBarrierError, RuntimeError);

/// Python's asyncio.IncompleteReadError: StreamReader.readexactly() / readuntil() reached EOF
/// first. partial holds the bytes read before EOF; expected is how many were wanted (nullopt
/// for readuntil, Python's None). The message is Python's: "5 bytes read on a total of 10
/// expected bytes" or "3 bytes read on a total of undefined expected bytes".
class IncompleteReadError : public EOFError {
 public:
  IncompleteReadError(std::string partial_, std::optional<std::size_t> expected_)
      : EOFError(message(partial_.size(), expected_)),
        partial(std::move(partial_)),
        expected(expected_) {}
  [[nodiscard]] std::string_view type_name() const noexcept override {
    return "IncompleteReadError";
  }
  std::string partial;
  std::optional<std::size_t> expected;

 private:
  static std::string message(std::size_t got, std::optional<std::size_t> expected) {
    return std::to_string(got) + " bytes read on a total of " +
           (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes";
  }
};

/// Python's asyncio.LimitOverrunError: StreamReader.readuntil() found no separator within
/// the reader's limit. consumed is how many bytes to consume to get past the limit.
class LimitOverrunError : public batteries::detail::ExceptionImpl {
 public:
  LimitOverrunError(std::string message, std::size_t consumed_)
      : batteries::detail::ExceptionImpl(std::move(message)), consumed(consumed_) {}
  [[nodiscard]] std::string_view type_name() const noexcept override { return "LimitOverrunError"; }
  std::size_t consumed;
};

/// Python's asyncio.SendfileNotAvailableError: sock_sendfile() cannot use the sendfile system
/// call for this socket and file (and was told not to fall back on reads and sends).
BATTERIES_EXCEPTION(SendfileNotAvailableError, RuntimeError);

/// asyncio.TimeoutError is the built-in TimeoutError since Python 3.11.
using TimeoutError = batteries::TimeoutError;

}  // namespace batteries::asyncio
