"""Envelope encryption without AWS: a fake KMS, the envelope format, tampering, and the guide's CBC scheme."""

from __future__ import annotations

import base64
import copy
import json
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from iamflow.errors import IamflowError
from iamflow.kms.envelope import (
    ALGORITHM,
    EnvelopeError,
    EnvelopeFormatError,
    EnvelopeIntegrityError,
    canonical_context,
    envelope_decrypt,
    envelope_encrypt,
    prove_key,
)

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CTX = {"app": "myapp", "purpose": "data"}


class FakeKms:
    """Wraps data keys with AES-GCM under a master key, binding the context as KMS does."""

    def __init__(self) -> None:
        self._master = AESGCM.generate_key(bit_length=256)
        self.calls: list[str] = []

    def generate_data_key(self, *, KeyId: str, KeySpec: str, EncryptionContext: dict[str, str]) -> dict[str, Any]:
        self.calls.append("GenerateDataKey")
        assert KeySpec == "AES_256"
        data_key = os.urandom(32)
        nonce = os.urandom(12)
        blob = nonce + AESGCM(self._master).encrypt(nonce, data_key, canonical_context(EncryptionContext))
        return {"KeyId": KEY_ARN, "Plaintext": data_key, "CiphertextBlob": blob}

    def decrypt(self, *, CiphertextBlob: bytes, EncryptionContext: dict[str, str], KeyId: str) -> dict[str, Any]:
        self.calls.append("Decrypt")
        try:
            plain = AESGCM(self._master).decrypt(CiphertextBlob[:12], CiphertextBlob[12:],
                                                 canonical_context(EncryptionContext))
        except Exception:
            raise ClientError({"Error": {"Code": "InvalidCiphertextException", "Message": ""}}, "Decrypt") from None
        return {"KeyId": KeyId, "Plaintext": plain}


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms()


def flip_bit(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip_and_envelope_shape(kms):
    env = envelope_encrypt(kms, "alias/k", b"hello world   ", CTX)
    assert set(env) == {"v", "alg", "kid", "wk", "n", "ct", "ctx"}
    assert env["v"] == 1 and env["alg"] == ALGORITHM == "AES-256-GCM" and env["kid"] == KEY_ARN
    assert len(base64.b64decode(env["n"])) == 12  # a 96-bit nonce
    assert len(base64.b64decode(env["ct"])) == len(b"hello world   ") + 16  # ciphertext + GCM tag
    assert env["ctx"] == CTX
    text = json.dumps(env)  # JSON-able as it is, and readable back from its text
    assert envelope_decrypt(kms, text) == b"hello world   "
    assert envelope_decrypt(kms, env, CTX) == b"hello world   "


def test_nonces_are_fresh_for_every_message(kms):
    nonces = {envelope_encrypt(kms, "k", b"same", CTX)["n"] for _ in range(20)}
    assert len(nonces) == 20


@pytest.mark.parametrize("plaintext", [b"", b" ", b"ends in spaces   ", b"\x00\x01\xff" * 10, "héllo ✓".encode()])
def test_any_bytes_survive(kms, plaintext):
    assert envelope_decrypt(kms, envelope_encrypt(kms, "k", plaintext, CTX)) == plaintext


def test_context_is_canonical():
    assert canonical_context({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert canonical_context({"é": "✓"}) == '{"é":"✓"}'.encode()


def test_wrong_context_fails(kms):
    env = envelope_encrypt(kms, "k", b"secret", CTX)
    with pytest.raises(EnvelopeIntegrityError, match="encryption context"):
        envelope_decrypt(kms, env, {**CTX, "purpose": "other"})


def test_context_edited_inside_the_envelope_fails(kms):
    env = envelope_encrypt(kms, "k", b"secret", CTX)
    env["ctx"] = {**CTX, "app": "evil"}
    with pytest.raises(EnvelopeIntegrityError):
        envelope_decrypt(kms, env)


@pytest.mark.parametrize("field", ["ct", "n", "wk"])
def test_tampering_with_any_part_fails(kms, field):
    env = envelope_encrypt(kms, "k", b"pay 100 to alice", CTX)
    bad = copy.deepcopy(env)
    bad[field] = flip_bit(bad[field], 3)
    with pytest.raises(EnvelopeIntegrityError) as info:
        envelope_decrypt(kms, bad)
    assert isinstance(info.value, IamflowError)


def test_truncated_tag_fails(kms):
    env = envelope_encrypt(kms, "k", b"data", CTX)
    env["ct"] = base64.b64encode(base64.b64decode(env["ct"])[:-1]).decode()
    with pytest.raises(EnvelopeIntegrityError):
        envelope_decrypt(kms, env)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.update(v=2), "unsupported envelope"),
        (lambda e: e.update(alg="AES-256-CBC"), "unsupported envelope"),
        (lambda e: e.pop("n"), "lacks n"),
        (lambda e: e.update(ct="not base64!"), "'ct' is not valid base64"),
        (lambda e: e.update(n=base64.b64encode(b"short").decode()), "nonce of 12 bytes"),
        (lambda e: e.update(ctx={"a": 1}), "strings"),
    ],
)
def test_malformed_envelopes_are_refused_clearly(kms, mutate, message):
    env = envelope_encrypt(kms, "k", b"x", CTX)
    mutate(env)
    with pytest.raises(EnvelopeFormatError, match=message):
        envelope_decrypt(kms, env)


def test_bad_inputs_to_encrypt(kms):
    with pytest.raises(EnvelopeFormatError, match="bytes"):
        envelope_encrypt(kms, "k", "text", CTX)  # type: ignore[arg-type]
    with pytest.raises(EnvelopeFormatError, match="strings"):
        envelope_encrypt(kms, "k", b"x", {"n": 5})  # type: ignore[dict-item]
    with pytest.raises(EnvelopeFormatError):
        envelope_decrypt(kms, "{not json")
    assert kms.calls == []  # refused before KMS is asked


def test_prove_key_returns_no_key_material(kms):
    proof = prove_key(kms, "alias/k")
    assert proof == {"key": KEY_ARN, "ok": True, "alg": "AES-256-GCM"}
    assert kms.calls == ["GenerateDataKey", "Decrypt"]


def test_envelope_errors_are_iamflow_errors():
    assert issubclass(EnvelopeIntegrityError, EnvelopeError)
    assert issubclass(EnvelopeFormatError, EnvelopeError)
    assert issubclass(EnvelopeError, IamflowError)


# --- why not the guide's example: AES-CBC, padded with spaces, no authentication ---------------


def guide_cbc_encrypt(data_key: bytes, plaintext: str) -> tuple[bytes, bytes]:
    """The guide's scheme, reproduced here only to show its faults: pad with spaces, CBC, no MAC."""
    iv = os.urandom(16)
    padded = plaintext + " " * (16 - len(plaintext) % 16)
    enc = Cipher(algorithms.AES(data_key), modes.CBC(iv)).encryptor()
    return iv, enc.update(padded.encode()) + enc.finalize()


def guide_cbc_decrypt(data_key: bytes, iv: bytes, ciphertext: bytes) -> str:
    """The only inverse the scheme allows: decrypt and strip the trailing spaces."""
    dec = Cipher(algorithms.AES(data_key), modes.CBC(iv)).decryptor()
    return (dec.update(ciphertext) + dec.finalize()).decode(errors="replace").rstrip(" ")


def test_guide_cbc_loses_trailing_spaces_while_gcm_keeps_them(kms):
    key = os.urandom(32)
    plaintext = "password with trailing spaces   "
    iv, ct = guide_cbc_encrypt(key, plaintext)
    assert guide_cbc_decrypt(key, iv, ct) != plaintext  # the padding cannot be told from the data
    assert envelope_decrypt(kms, envelope_encrypt(kms, "k", plaintext.encode(), CTX)) == plaintext.encode()


def test_guide_cbc_accepts_a_flipped_bit_while_gcm_refuses_it(kms):
    key = os.urandom(32)
    iv, ct = guide_cbc_encrypt(key, "pay $100 to alice")
    # flipping a bit of the IV flips the same bit of the first plaintext block: a silent, chosen edit
    forged_iv = bytearray(iv)
    forged_iv[5] ^= ord("1") ^ ord("9")
    assert guide_cbc_decrypt(key, bytes(forged_iv), ct) == "pay $900 to alice"

    env = envelope_encrypt(kms, "k", b"pay $100 to alice", CTX)
    with pytest.raises(EnvelopeIntegrityError):
        envelope_decrypt(kms, {**env, "ct": flip_bit(env["ct"], 5)})


def test_guide_cbc_cannot_even_encrypt_non_ascii_text():
    # it pads by characters but encrypts bytes: a multi-byte character leaves a partial block
    with pytest.raises(ValueError):
        guide_cbc_encrypt(os.urandom(32), "café")
