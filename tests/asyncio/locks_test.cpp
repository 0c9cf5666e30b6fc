// asyncio locks tests: placeholder.
