// asyncio combinators: placeholder.
#pragma once
#include <batteries/asyncio/task.hpp>
