// batteries::asyncio: Python's asyncio in C++20 coroutines.
//
//   asyncio/loop.hpp        EventLoop: callbacks, timers, fd readiness, the running loop
//   asyncio/exceptions.hpp  CancelledError, InvalidStateError, QueueEmpty, ...
//   asyncio/future.hpp      Future<T>, AnyFuture, Outcome<T>
//   asyncio/task.hpp        Task<T>, create_task, sleep, current_task, all_tasks, run
//   asyncio/tasks.hpp       gather, wait, wait_for, timeout, shield, as_completed
//   asyncio/taskgroups.hpp  TaskGroup and task_group()
//   asyncio/locks.hpp       Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier
//   asyncio/queues.hpp      Queue, PriorityQueue, LifoQueue
//   asyncio/sockets.hpp     Socket, socketpair, the sock_* coroutines, getaddrinfo
//   asyncio/streams.hpp     open_connection, start_server, StreamReader, StreamWriter
//   asyncio/transports.hpp  Protocol, Transport, create_connection, create_server, Server,
//                           create_datagram_endpoint, start_tls
//   ssl.hpp                 ssl::SSLContext, create_default_context, SSLObject, SSLError
//   asyncio/threads.hpp     to_thread, run_in_executor, ThreadPoolExecutor,
//                           run_coroutine_threadsafe
//   asyncio/subprocess.hpp  create_subprocess_exec/shell, Process, subprocess_exec/shell,
//                           connect_read_pipe/connect_write_pipe
//
// docs/asyncio.md lists every Python name with its C++ spelling.
#pragma once

#include "batteries/asyncio/exceptions.hpp"
#include "batteries/asyncio/future.hpp"
#include "batteries/asyncio/loop.hpp"
#include "batteries/asyncio/locks.hpp"
#include "batteries/asyncio/queues.hpp"
#include "batteries/asyncio/sockets.hpp"
#include "batteries/asyncio/streams.hpp"
#include "batteries/asyncio/subprocess.hpp"
#include "batteries/asyncio/task.hpp"
#include "batteries/asyncio/taskgroups.hpp"
#include "batteries/asyncio/tasks.hpp"
#include "batteries/asyncio/threads.hpp"
#include "batteries/asyncio/transports.hpp"
#include "batteries/ssl.hpp"
