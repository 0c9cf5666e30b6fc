// asyncio combinators tests.
