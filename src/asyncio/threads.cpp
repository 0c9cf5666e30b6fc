// asyncio threads: placeholder.
#include <batteries/asyncio/threads.hpp>
