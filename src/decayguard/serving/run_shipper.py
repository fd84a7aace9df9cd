"""Entry point of the shipper process: ``python -m decayguard.serving.run_shipper``.

SIGTERM and SIGINT are caught before anything heavy is imported: a shipper told to stop
while still importing (a server stopped right after it started) delivers what is
pending instead of dying with it. A module of its own, so that ``-m`` runs code the
package has not imported already (see :mod:`decayguard.serving.shipper`).
"""

import signal
import sys
import threading

if __name__ == "__main__":
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    from decayguard.serving.shipper import main

    sys.exit(main(stop=stop))
