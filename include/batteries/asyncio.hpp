// batteries::asyncio: Python's asyncio in C++20 coroutines.
//
//   asyncio/loop.hpp        EventLoop: callbacks, timers, fd readiness, the running loop
//   asyncio/exceptions.hpp  CancelledError, InvalidStateError, QueueEmpty, ...
//   asyncio/future.hpp      Future<T>, AnyFuture, Outcome<T>
//   asyncio/task.hpp        Task<T>, create_task, sleep, current_task, all_tasks, run
//
// docs/asyncio.md lists every Python name with its C++ spelling.
#pragma once

#include "batteries/asyncio/exceptions.hpp"
#include "batteries/asyncio/future.hpp"
#include "batteries/asyncio/loop.hpp"
#include "batteries/asyncio/task.hpp"
