// asyncio combinators.
#include <batteries/asyncio/tasks.hpp>
