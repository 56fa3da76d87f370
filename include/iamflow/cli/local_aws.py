"""``iamflow local-aws``: the embedded AWS (a moto server) on 127.0.0.1, for local runs and tests."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from iamflow.cli.common import EXIT_ERROR


def cmd_local_aws(args: argparse.Namespace) -> int:
    from iamflow.aws.local import serve
    from iamflow.errors import IamflowError

    try:
        return serve(port=args.port, host=args.host)
    except IamflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def add_local_aws_parser(subparsers: Any) -> None:
    """Add ``local-aws`` to the ``iamflow`` parser."""
    p = subparsers.add_parser("local-aws", help="run the embedded AWS (moto server) on 127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_local_aws)
