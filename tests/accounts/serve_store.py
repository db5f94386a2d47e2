"""Serve a store in its own process (for tests of what several processes share).

Reads DB_URL, MEDIA_ROOT, RATELIMIT_STORAGE_URI, RATELIMIT_KEY_PREFIX and (optional)
TRUSTED_PROXIES, MEDIA_STORAGE, MEDIA_BASE_URL, S3_* and STORE_SETTINGS (JSON: more
settings) from the environment, binds 127.0.0.1 on a free port, prints it, and serves
until killed or until its parent (the test) goes away.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from werkzeug.serving import make_server

from shop import create_app
from shop.config import config_for_tests

MEDIA_SETTINGS = ("MEDIA_STORAGE", "MEDIA_BASE_URL", "S3_ENDPOINT_URL", "S3_BUCKET",
                  "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION")  # fmt: skip


def _stop_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    app = create_app(
        config_for_tests(
            os.environ["DB_URL"],
            os.environ["MEDIA_ROOT"],
            RATELIMIT_STORAGE_URI=os.environ["RATELIMIT_STORAGE_URI"],
            RATELIMIT_KEY_PREFIX=os.environ["RATELIMIT_KEY_PREFIX"],
            TRUSTED_PROXIES=int(os.environ.get("TRUSTED_PROXIES", "0")),
            **{key: os.environ[key] for key in MEDIA_SETTINGS if key in os.environ},
            **json.loads(os.environ.get("STORE_SETTINGS", "{}")),
        )
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=_stop_with_parent, args=(os.getppid(),), daemon=True).start()
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
