// batteries::asyncio: Python's asyncio in C++20. So far: the event loop (asyncio/loop.hpp).
//
// The coroutine layer (Task, Future, gather, cancellation, synchronisation, queues, threads)
// builds on this loop; see docs/asyncio.md for what exists and how Python's names map.
#pragma once

#include "batteries/asyncio/loop.hpp"
