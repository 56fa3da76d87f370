"""Secret hygiene in one place: generate, mask, redact.

No secret value may reach a log, an XCom, a rendered field, a report or a plan. Three layers:

* **Generation** (:func:`random_string`, :func:`generate_password`) is local (``secrets``, a
  CSPRNG): no value on the wire twice, the same behaviour against any endpoint. Every generated
  value is registered with the maskers before it is returned.
* **Masking** (:func:`protect_secret`) registers a value with every masker: our own log filter
  on botocore's body loggers, plus whatever maskers the runtime added with :func:`register_masker`
  (the Airflow layer adds Airflow's task-log and XCom masker; nothing here imports Airflow).
  :func:`guard_botocore_logs` withholds whole botocore records that carry a secret-bearing field.
* **Redaction** (:func:`redact_values`, :func:`redact_text`, :func:`redact`) is the last guard on
  text iamflow writes itself: known values, and anything shaped like a secret access key.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

REDACTED = "<redacted>"
WITHHELD = "<withheld by iamflow: this request or response carries a secret value>"

# --- masking -------------------------------------------------------------------------------------

Masker = Callable[[str], None]
_MASKERS: list[Masker] = []
_MASKERS_LOCK = threading.Lock()


def register_masker(masker: Masker) -> None:
    """Add a function that every later :func:`protect_secret` call hands the value to (idempotent)."""
    with _MASKERS_LOCK:
        if masker not in _MASKERS:
            _MASKERS.append(masker)


class _ValueRedactor(logging.Filter):
    """Replace registered secret values in the log records of botocore's body loggers."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        with self._lock:
            self._values.add(value)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        return redact_values(text, values)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            try:
                message = record.getMessage()
            except Exception:  # an unformattable record: let logging report it as usual
                return True
            cleaned = self.redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


# strings that mark a request or response as carrying a secret value
_MARKERS = ("SecretString", "SecretBinary", "RandomPassword", "SecretAccessKey", "ClientSecret",
            "TemporaryPassword", "Plaintext")
# botocore logs request params ("Making request ... with params") and response bodies at DEBUG
_MARKED_LOGGERS = ("botocore.endpoint", "botocore.parsers")
_VALUE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.auth",
                  "botocore.httpsession")


class SecretValueFilter(logging.Filter):
    """Replace the text of a log record that carries a secret-bearing field (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # an unformattable record: let logging report it as usual
            return True
        if any(marker in text for marker in _MARKERS):
            record.msg, record.args = WITHHELD, None
        return True


_VALUES = _ValueRedactor()
_MARKED = SecretValueFilter()
for _name in _VALUE_LOGGERS:
    logging.getLogger(_name).addFilter(_VALUES)


def guard_botocore_logs() -> None:
    """Withhold botocore request/response records that carry a secret-bearing field (idempotent)."""
    for name in _MARKED_LOGGERS:
        logger = logging.getLogger(name)
        if _MARKED not in logger.filters:
            logger.addFilter(_MARKED)


def protect_secret(value: str) -> None:
    """Register a secret value with every masker before anything could log it."""
    if not value:
        return
    _VALUES.add(value)
    guard_botocore_logs()
    with _MASKERS_LOCK:
        maskers = list(_MASKERS)
    for masker in maskers:
        try:
            masker(value)
        except Exception:  # pragma: no cover - a runtime masker is best effort on top of our own
            logging.getLogger(__name__).debug("a registered masker failed", exc_info=True)


# --- generation ----------------------------------------------------------------------------------

# symbols Cognito and IAM accept that need no escaping in JSON or a repr, so redaction finds them
PASSWORD_SYMBOLS = "!#%*+-=?@^_~"


def random_string(classes: Sequence[str], length: int, *, each_class: bool = True) -> str:
    """A CSPRNG string of ``length`` from the union of ``classes`` (one of each class when asked)."""
    alphabet = "".join(classes)
    if not alphabet:
        raise ValueError("no characters to choose from")
    chars = [secrets.choice(alphabet) for _ in range(length)]
    if each_class:
        positions = list(range(length))
        secrets.SystemRandom().shuffle(positions)
        for position, cls in zip(positions, classes, strict=False):
            chars[position] = secrets.choice(cls)
    return "".join(chars)


def generate_password(minimum_length: int) -> str:
    """A password meeting any Cognito/IAM policy of ``minimum_length``: every class, protected."""
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, PASSWORD_SYMBOLS)
    value = random_string(classes, max(minimum_length, 20))
    protect_secret(value)
    return value


# --- redaction -----------------------------------------------------------------------------------


def redact_values(text: str, values: Iterable[str]) -> str:
    """Replace each of ``values`` (longest first) in ``text`` with ``<redacted>``."""
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def redact_registered(text: str) -> str:
    """Replace every value registered with :func:`protect_secret` in ``text``."""
    return _VALUES.redact(text)


# A secret access key: 40 characters of [A-Za-z0-9/+], mixing upper case, lower case and digits.
_SECRET_RUN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _looks_secret(run: str) -> bool:
    return any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)


# any run of 40 such characters: without one, no token of the text can hold a secret access key
_ANY_RUN = re.compile(r"[A-Za-z0-9/+]{40}")


def redact_text(text: str) -> str:
    """Replace anything shaped like a secret access key with ``<redacted>`` (ARNs are left alone)."""
    if len(text) < 40 or not _ANY_RUN.search(text):
        return text
    pieces: list[str] = []
    for token in re.split(r"(\s+)", text):
        if token.startswith("arn:") or len(token) < 40:
            pieces.append(token)
            continue
        pieces.append(_SECRET_RUN.sub(lambda m: REDACTED if _looks_secret(m.group(0)) else m.group(0), token))
    return "".join(pieces)


def redact(value: Any) -> Any:
    """Apply :func:`redact_text` to every string in a JSON-like value (the last guard before output)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
