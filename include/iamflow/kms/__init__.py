"""KMS helpers: envelope encryption under a KMS key, and the proof that a key is usable."""

from __future__ import annotations

from iamflow.kms.envelope import (
    EnvelopeError,
    envelope_decrypt,
    envelope_encrypt,
    prove_key,
)

__all__ = ["EnvelopeError", "envelope_decrypt", "envelope_encrypt", "prove_key"]
