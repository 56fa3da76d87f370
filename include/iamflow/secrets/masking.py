"""Keep secret values out of logs that iamflow does not write itself.

At DEBUG level botocore logs every request's params (``botocore.endpoint``: "Making request ...
with params") and every response body (``botocore.parsers``: "Response body"). For Secrets
Manager those carry ``SecretString`` (CreateSecret, PutSecretValue, GetSecretValue), and a
``GetRandomPassword`` response carries the password. :func:`guard_botocore_logs` puts a filter on
those two loggers that withholds such records' text; iamflow calls it before any call that
sends or receives a value.
"""

from __future__ import annotations

import logging

# strings that mark a request or response as carrying a secret value
_MARKERS = ("SecretString", "SecretBinary", "RandomPassword", "SecretAccessKey", "ClientSecret",
            "TemporaryPassword", "Plaintext")
_LOGGERS = ("botocore.endpoint", "botocore.parsers")
WITHHELD = "<withheld by iamflow: this request or response carries a secret value>"


class SecretValueFilter(logging.Filter):
    """Replace the text of a log record that carries a secret value (the record itself is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # an unformattable record: let logging report it as usual
            return True
        if any(marker in text for marker in _MARKERS):
            record.msg, record.args = WITHHELD, None
        return True


_FILTER = SecretValueFilter()


def guard_botocore_logs() -> None:
    """Install the filter on botocore's request/response loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
