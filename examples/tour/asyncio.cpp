// Tour section: asyncio's coroutines, gather, timeouts and a task group, as in Python.
#include <batteries/asyncio.hpp>

#include <string>

#include "tour.hpp"

namespace aio = batteries::asyncio;

namespace tour_asyncio {

// async def fetch_data(name, delay):
aio::Task<std::string> fetch_data(std::string name, int delay) {
  fmt::print("{}: starting\n", name);
  co_await aio::sleep(delay);
  fmt::print("{}: done after {}s\n", name, delay);
  co_return name + "-result";
}

aio::Task<void> main() {
  auto& loop = aio::get_running_loop();
  const double start = loop.time();
  // results = await asyncio.gather(fetch_data("Task-A", 2), fetch_data("Task-B", 1))
  auto [a, b] = co_await aio::gather(fetch_data("Task-A", 2), fetch_data("Task-B", 1));
  fmt::print("['{}', '{}'] in {:.1f}s, not 3s: the two slept at the same time\n", a, b,
             loop.time() - start);

  // await asyncio.wait_for(fetch_data("slow", 5), timeout=0.1)
  try {
    co_await aio::wait_for(fetch_data("slow", 5), 0.1);
  } catch (const aio::TimeoutError&) {
    fmt::print("wait_for: TimeoutError after 0.1s, and 'slow' was cancelled\n");
  }

  // async with asyncio.TaskGroup() as tg: ...
  auto quick = [](int x) -> aio::Task<int> {
    co_await aio::sleep(0.01);
    co_return x* x;
  };
  aio::Task<int> t1, t2;
  co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
    t1 = tg.create_task(quick(3));
    t2 = tg.create_task(quick(4));
    co_return;
  });
  fmt::print("TaskGroup: {} + {} = {}\n", t1.result(), t2.result(), t1.result() + t2.result());
}

}  // namespace tour_asyncio

void tour::asyncio() {
  heading("asyncio: coroutines, tasks, gather, timeouts and task groups");
  aio::run(tour_asyncio::main());  // asyncio.run(main())
}
