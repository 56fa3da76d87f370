"""In-process moto, one request at a time, as the embedded AWS server is (``iamflow.aws.local.serialized``).

AWS answers concurrent calls safely; moto's backends iterate dicts that another thread may be
changing, so the engine's workers now and then get ``RuntimeError: dictionary changed size during
iteration`` from moto (seen as a failed ``AttachRolePolicy`` beside a ``CreateRole``). The tests
and the benchmarks follow AWS: moto's in-process dispatcher is entered by one thread at a time.
"""

from __future__ import annotations

import functools
import threading
from typing import Any


@functools.cache
def serialize_in_process_moto() -> None:
    """Put moto's in-process request handler behind one re-entrant lock (once per process)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()  # re-entrant: a moto backend may call another service in the same thread
    process_request = BotocoreStubber.process_request

    @functools.wraps(process_request)
    def in_turn(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return process_request(self, request)

    BotocoreStubber.process_request = in_turn  # type: ignore[method-assign]
