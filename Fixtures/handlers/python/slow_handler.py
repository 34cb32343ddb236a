"""A handler that sleeps `SLOW_SECONDS` seconds (env, float, default 5) and then succeeds.
For timeout tests: with a mapping/function timeout below that, the invoke is a function error
and the runtime process must be killed and restarted.
"""

import os
import time


def handler(event, context):
    time.sleep(float(os.environ.get("SLOW_SECONDS", "5")))
    return {"batchItemFailures": []}
