"""Envelope encryption against in-process moto KMS: round trip, wrong context, tampering, check mode."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from iamflow.errors import CheckModeViolation
from iamflow.kms import envelope_decrypt, envelope_encrypt, prove_key
from iamflow.kms.envelope import EnvelopeError, EnvelopeIntegrityError

CTX = {"app": "myapp", "table": "orders"}


@pytest.fixture
def key(clients: Any) -> dict[str, Any]:
    kms = clients.client("kms")
    meta = kms.create_key(Description="envelope test")["KeyMetadata"]
    kms.create_alias(AliasName="alias/envelope", TargetKeyId=meta["KeyId"])
    return meta


def flip(b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x80
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip_by_alias_names_the_key_arn(clients, key):
    kms = clients.client("kms")
    env = envelope_encrypt(kms, "alias/envelope", b"order 42: 3 widgets  ", CTX)
    assert env["kid"] == key["Arn"]
    assert b"widgets" not in base64.b64decode(env["ct"])
    assert envelope_decrypt(kms, env, CTX) == b"order 42: 3 widgets  "
    assert envelope_decrypt(kms, env) == b"order 42: 3 widgets  "


def test_wrong_context_is_refused_by_kms(clients, key):
    kms = clients.client("kms")
    env = envelope_encrypt(kms, key["KeyId"], b"secret", CTX)
    with pytest.raises(EnvelopeIntegrityError, match="encryption context does not match"):
        envelope_decrypt(kms, env, {**CTX, "table": "users"})


def test_tampered_ciphertext_is_refused(clients, key):
    kms = clients.client("kms")
    env = envelope_encrypt(kms, key["KeyId"], b"pay 100 to alice", CTX)
    with pytest.raises(EnvelopeIntegrityError, match="does not authenticate"):
        envelope_decrypt(kms, {**env, "ct": flip(env["ct"], 2)})


def test_tampered_wrapped_key_is_refused(clients, key):
    kms = clients.client("kms")
    env = envelope_encrypt(kms, key["KeyId"], b"x", CTX)
    # moto answers AccessDenied where AWS answers InvalidCiphertext: both are a clear EnvelopeError
    with pytest.raises(EnvelopeError, match="unwrap the data key"):
        envelope_decrypt(kms, {**env, "wk": flip(env["wk"], 40)})


def test_a_wrapped_key_of_another_key_is_refused(clients, key):
    kms = clients.client("kms")
    other = kms.create_key()["KeyMetadata"]
    env = envelope_encrypt(kms, key["KeyId"], b"x", CTX)
    with pytest.raises(EnvelopeError):
        envelope_decrypt(kms, {**env, "kid": other["Arn"]})


def test_prove_key_and_its_calls(clients, key, call_log):
    call_log.reset()
    assert prove_key(clients.client("kms"), "alias/envelope") == {"key": key["Arn"], "ok": True, "alg": "AES-256-GCM"}
    assert call_log.by_operation() == {"kms:GenerateDataKey": 1, "kms:Decrypt": 1}


def test_check_mode_refuses_the_proof(check_clients, clients, key, call_log):
    call_log.reset()
    with pytest.raises(CheckModeViolation):
        prove_key(check_clients.client("kms"), "alias/envelope")
    assert call_log.calls == []
