"""How the app's Gradio server is set up for a class: made before Gradio makes its queue.

The benchmarks' no-op servers (bench/app_latency.py, bench/classroom.py) apply the same, so the
app is compared with a Gradio server that does nothing under the same settings.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def apply() -> None:
    # Gradio's queue summarises the events it finished for its monitoring page: a pandas DataFrame
    # of the last 10,000, grouped and ranked after every single event. Under a class's load (40
    # pages, about 35 events a second) that was a fifth of the server's CPU (py-spy during
    # bench/classroom); here it is redone once every 1,000 events, over the last 1,000.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    # Gradio imports matplotlib around every event to set its backend; where it is not installed,
    # each failed import searches every path again (3% of the server's CPU): known missing once
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        sys.modules["matplotlib"] = None  # `import matplotlib` now fails at once
