"""localstripe as the tests run it: `python -m tests.localstripe_server PORT`.

Two changes to `localstripe --port PORT`: it listens on 127.0.0.1 only (localstripe binds
every interface), and it keeps its objects in memory only. localstripe saves them after
every change to /tmp/localstripe.pickle and reads that file when it starts, so two test
runs on one machine (the SQLite and PostgreSQL suites, a developer's and CI's) would find
each other's customers and payments and overwrite each other's file.
"""

from __future__ import annotations

import sys

from aiohttp import web
from localstripe import resources, server


def main(port: int) -> None:
    resources.Store.dump_to_disk = lambda self: None
    web.run_app(server.app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
