"""Serve the store in its own process, configured from the environment as in production
(shop.config.load_config), for tests that kill it.

With CRASH_AFTER_COMMIT=1 the process kills itself (SIGKILL) the moment a unit of work has
committed and is about to hand its jobs to the queue: a crash between commit and enqueue.
Prints the port it listens on; stops when its parent (the test) goes away.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from werkzeug.serving import make_server

from shop import create_app


def _stop_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    app = create_app()
    if os.environ.get("CRASH_AFTER_COMMIT") == "1":
        from shop.jobs import outbox

        outbox.hand_over = lambda *_args, **_kw: os.kill(os.getpid(), signal.SIGKILL)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=_stop_with_parent, args=(os.getppid(),), daemon=True).start()
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
