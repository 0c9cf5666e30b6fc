// asyncio threads tests: placeholder.
