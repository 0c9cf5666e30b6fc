// asyncio threads: placeholder, filled in by the work on issue 4.
#pragma once
