"""``python -m services.feature_server [--host H] [--port P] [--workers N]``.

Settings come from ``SLIPWAY_SERVER_*`` variables (see ``services.feature_server.settings``).
"""

from __future__ import annotations

import argparse
import sys

from foundation.errors import SlipwayError
from foundation.settings import load_settings
from services.feature_server.runner import serve
from services.feature_server.settings import ServerSettings


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), serve until stopped; the exit code.

    A ``SlipwayError`` (bad settings, repo config, keys file or port) prints one line and
    exits 1.
    """
    parser = argparse.ArgumentParser(prog="python -m services.feature_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6566)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    try:
        serve(
            settings=load_settings(ServerSettings),
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=args.access_log,
        )
    except SlipwayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
