"""Envelope encryption under a KMS key: a fresh AES-256-GCM data key per message, wrapped by KMS.

The envelope is a small, versioned, self-describing JSON object::

    {"v": 1, "alg": "AES-256-GCM", "kid": <key ARN>, "wk": <b64 wrapped data key>,
     "n": <b64 96-bit nonce>, "ct": <b64 ciphertext + 16-byte tag>, "ctx": {<encryption context>}}

The encryption context is bound twice: KMS binds it to the wrapped data key (``Decrypt`` with any
other context fails), and AES-GCM authenticates its canonical JSON as associated data (so a context
edited in the envelope fails even before KMS is asked). GCM's tag makes any change to the nonce or
ciphertext fail loudly, unlike an unauthenticated CBC scheme, which decrypts tampered bytes into
garbage without a word; and GCM needs no padding, so every plaintext comes back byte for byte.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import uuid
from collections.abc import Mapping
from typing import Any, TypedDict

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from iamflow.errors import IamflowError

ENVELOPE_VERSION = 1
ALGORITHM = "AES-256-GCM"
NONCE_BYTES = 12  # 96 bits: the nonce size GCM is specified for; random per message
_REQUIRED = ("v", "alg", "kid", "wk", "n", "ct", "ctx")
# KMS answers these when the wrapped key, the key id or the context does not match
_INTEGRITY_CODES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class EnvelopeError(IamflowError):
    """An envelope could not be made or opened."""


class EnvelopeFormatError(EnvelopeError):
    """The envelope (or the encryption context) is malformed or of an unknown version."""


class EnvelopeIntegrityError(EnvelopeError):
    """The envelope does not authenticate: wrong encryption context, or altered bytes."""


def canonical_context(context: Mapping[str, str]) -> bytes:
    """Return the encryption context as canonical JSON bytes (sorted keys, no spaces), the GCM AAD."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def envelope_encrypt(kms_client: Any, key_id: str, plaintext: bytes, context: Mapping[str, str]) -> dict[str, Any]:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``key_id``; return the envelope.

    :param kms_client: a boto3 KMS client.
    :param key_id: key id, key ARN, alias name or alias ARN.
    :param plaintext: the bytes to protect.
    :param context: the encryption context (string to string); needed again to decrypt.

    .. seealso:: ``kms.generate_data_key``
    """
    ctx = _check_context(context)
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise EnvelopeFormatError(f"plaintext must be bytes, not {type(plaintext).__name__}")
    response = kms_client.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
    data_key = bytearray(response["Plaintext"])
    # Python cannot promise the key bytes are erased; dropping every reference we hold and zeroing
    # our mutable copy at least keeps the key out of the response dict and out of later frames.
    response["Plaintext"] = None
    try:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(bytes(data_key)).encrypt(nonce, bytes(plaintext), canonical_context(ctx))
    finally:
        _wipe(data_key)
        del data_key
    return {
        "v": ENVELOPE_VERSION,
        "alg": ALGORITHM,
        "kid": response["KeyId"],
        "wk": _b64(response["CiphertextBlob"]),
        "n": _b64(nonce),
        "ct": _b64(sealed),
        "ctx": ctx,
    }


def envelope_decrypt(kms_client: Any, envelope: Mapping[str, Any] | str, context: Mapping[str, str] | None = None) -> bytes:
    """Open an envelope and return the plaintext.

    :param envelope: the envelope, as a dict or its JSON text.
    :param context: the encryption context the caller expects; when omitted, the one the envelope
        carries. A context other than the one used to encrypt fails with ``EnvelopeIntegrityError``.

    .. seealso:: ``kms.decrypt``
    """
    env = _parse_envelope(envelope)
    ctx = _check_context(env["ctx"] if context is None else context)
    wrapped, nonce, sealed = _unb64(env, "wk"), _unb64(env, "n"), _unb64(env, "ct")
    if len(nonce) != NONCE_BYTES:
        raise EnvelopeFormatError(f"envelope field 'n': a nonce of {NONCE_BYTES} bytes was expected, got {len(nonce)}")
    try:
        # naming the key makes KMS refuse a wrapped key that belongs to any other key
        response = kms_client.decrypt(CiphertextBlob=wrapped, EncryptionContext=ctx, KeyId=env["kid"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _INTEGRITY_CODES:
            raise EnvelopeIntegrityError(
                f"KMS could not unwrap the data key of the envelope under {env['kid']}: the encryption context "
                f"does not match, or the wrapped key was altered ({code})"
            ) from None
        if code == "AccessDeniedException":
            raise EnvelopeError(
                f"KMS refused to unwrap the data key of the envelope under {env['kid']} ({code}): no permission "
                "to decrypt with that key, or the wrapped key is not one of its ciphertexts"
            ) from None
        raise
    data_key = bytearray(response["Plaintext"])
    response["Plaintext"] = None
    try:
        return AESGCM(bytes(data_key)).decrypt(nonce, sealed, canonical_context(ctx))
    except InvalidTag:
        raise EnvelopeIntegrityError(
            "the envelope's ciphertext does not authenticate: it was altered, or the encryption context differs"
        ) from None
    finally:
        _wipe(data_key)
        del data_key


class KeyProof(TypedDict):
    """What an envelope round trip proved: the key (as KMS named it) and the algorithm used."""

    key: str
    ok: bool
    alg: str


def prove_key(kms_client: Any, key_id: str) -> KeyProof:
    """Prove a key usable with an envelope round trip of a random probe; never returns key or probe.

    Raises ``EnvelopeIntegrityError`` when the round trip does not give the probe back.
    """
    probe = os.urandom(32)
    context = {"iamflow:purpose": "key-proof", "iamflow:probe": uuid.uuid4().hex}
    envelope = envelope_encrypt(kms_client, key_id, probe, context)
    try:
        returned = envelope_decrypt(kms_client, envelope, context)
    finally:
        envelope["wk"] = None  # the wrapped probe key has no further use
    if not hmac.compare_digest(returned, probe):
        raise EnvelopeIntegrityError(f"the envelope round trip under {envelope['kid']} did not return the probe")
    return {"key": envelope["kid"], "ok": True, "alg": ALGORITHM}


def _check_context(context: Any) -> dict[str, str]:
    if not isinstance(context, Mapping):
        raise EnvelopeFormatError(f"the encryption context must be a mapping of strings, not {type(context).__name__}")
    for k, v in context.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k:
            raise EnvelopeFormatError(f"the encryption context must map non-empty strings to strings; bad entry {k!r}")
    return dict(context)


def _parse_envelope(envelope: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(envelope, (str, bytes)):
        try:
            envelope = json.loads(envelope)
        except json.JSONDecodeError as exc:
            raise EnvelopeFormatError(f"the envelope is not valid JSON: {exc}") from None
    if not isinstance(envelope, Mapping):
        raise EnvelopeFormatError("an envelope must be a JSON object")
    missing = [k for k in _REQUIRED if k not in envelope]
    if missing:
        raise EnvelopeFormatError(f"the envelope lacks {', '.join(missing)}")
    if envelope["v"] != ENVELOPE_VERSION or envelope["alg"] != ALGORITHM:
        raise EnvelopeFormatError(
            f"unsupported envelope v={envelope['v']!r} alg={envelope['alg']!r} "
            f"(this version reads v={ENVELOPE_VERSION} {ALGORITHM})"
        )
    return dict(envelope)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(envelope: Mapping[str, Any], field: str) -> bytes:
    try:
        return base64.b64decode(envelope[field], validate=True)
    except (ValueError, TypeError):
        raise EnvelopeFormatError(f"envelope field {field!r} is not valid base64") from None


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))
