// asyncio queues tests: placeholder.
