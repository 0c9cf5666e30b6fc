// asyncio's exceptions: CancelledError, InvalidStateError and the queue and barrier errors.
//
// As in Python 3.11, CancelledError is a BaseException (not an Exception), so that
// `catch (const batteries::Exception&)` does not swallow a cancellation; and asyncio's
// TimeoutError is the built-in batteries::TimeoutError.
//
// Thread-safety: exception objects are immutable and may be read from any thread.
#pragma once

#include <batteries/errors.hpp>

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

/// asyncio.TimeoutError is the built-in TimeoutError since Python 3.11.
using TimeoutError = batteries::TimeoutError;

}  // namespace batteries::asyncio
