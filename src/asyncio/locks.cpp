// asyncio locks: placeholder.
#include <batteries/asyncio/locks.hpp>
