"""lib/ed25519.vy against PyNaCl (libsodium) and `cryptography` (OpenSSL), and hashlib's SHA-512.

One verification costs ~0.6 s of py-evm time, so the property tests draw few examples.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

HARNESS = "test_harness/ed25519_harness.vy"
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
GAS = {"gas": 30_000_000}
FEW = settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def py_decode(enc: bytes):
    """RFC 8032 5.1.3 point decoding (canonical y only): (x, y) or None."""
    s = int.from_bytes(enc, "little")
    y, sign = s & ((1 << 255) - 1), s >> 255
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P != u:
        if v * x * x % P != P - u:
            return None
        x = x * pow(2, (P - 1) // 4, P) % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


def nacl_accepts(pk: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        VerifyKey(pk).verify(msg, sig)
        return True
    except (BadSignatureError, ValueError):
        return False


@pytest.fixture(scope="module")
def ed(deploy):
    return deploy(HARNESS).functions


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=320))
def test_sha512_matches_hashlib(ed, data):
    assert ed.sha512(data).call() == hashlib.sha512(data).digest()


def test_sha512_block_boundaries(ed):
    for n in (111, 112, 127, 128, 239, 240, 255, 256, 320):
        data = bytes(range(256)) * 2
        assert ed.sha512(data[:n]).call() == hashlib.sha512(data[:n]).digest(), n


@FEW
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=256))
def test_pynacl_signatures_verify(ed, seed, msg):
    key = SigningKey(seed)
    sig = key.sign(msg).signature
    assert ed.verify(bytes(key.verify_key), msg, sig).call(GAS)


@FEW
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=256), data=st.data())
def test_tampering_fails(ed, seed, msg, data):
    key = SigningKey(seed)
    pk, sig = bytes(key.verify_key), key.sign(msg).signature
    where = data.draw(st.sampled_from(["sig", "msg", "key"]))
    if where == "msg" and not msg:
        where = "sig"
    target = {"sig": sig, "msg": msg, "key": pk}[where]
    bit = data.draw(st.integers(0, 8 * len(target) - 1))
    flipped = bytearray(target)
    flipped[bit // 8] ^= 1 << (bit % 8)
    args = {"sig": sig, "msg": msg, "key": pk, where: bytes(flipped)}
    assert not nacl_accepts(args["key"], args["msg"], args["sig"])  # the oracle agrees it is bad
    assert not ed.verify(args["key"], args["msg"], args["sig"]).call(GAS)


def test_cryptography_signature_on_registry_binding_message(ed):
    # The binding message shape the peer registry uses: domain || chain id || registry || account.
    key = Ed25519PrivateKey.generate()
    msg = b"swarm-registry/1" + (31337).to_bytes(32, "big") + b"\x11" * 20 + b"\x22" * 20
    from cryptography.hazmat.primitives import serialization

    pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ok, gas = ed.verify_gas(pk, msg, key.sign(msg)).call(GAS)
    assert ok and gas < 1_500_000, gas


def test_non_canonical_s_is_rejected(ed):
    key = SigningKey(b"\x07" * 32)
    msg = b"malleable?"
    sig = key.sign(msg).signature
    s = int.from_bytes(sig[32:], "little")
    forged = sig[:32] + (s + L).to_bytes(32, "little")   # same point equation, S >= L
    assert not nacl_accepts(bytes(key.verify_key), msg, forged)
    assert not ed.verify(bytes(key.verify_key), msg, forged).call(GAS)
    assert not ed.verify(bytes(key.verify_key), msg, sig[:63]).call(GAS)  # wrong length


def test_invalid_public_keys_are_rejected(ed):
    key = SigningKey(b"\x09" * 32)
    msg = b"m"
    sig = key.sign(msg).signature
    off_curve = next(y for y in range(2, 100) if py_decode(y.to_bytes(32, "little")) is None)
    for bad in (
        off_curve.to_bytes(32, "little"),                        # y with no x on the curve
        (P + 1).to_bytes(32, "little"),                          # non-canonical y >= p
        (1 | (1 << 255)).to_bytes(32, "little"),                 # x = 0 with the sign bit set
    ):
        assert ed.decode_point(bad).call()[0] is False
        assert not ed.verify(bad, msg, sig).call(GAS)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enc=st.binary(min_size=32, max_size=32))
def test_decode_point_matches_rfc8032(ed, enc):
    want = py_decode(enc)
    got = ed.decode_point(enc).call()
    assert got == ([False, 0, 0] if want is None else [True, *want])


def test_deployed_verifier_called_through_its_interface(deploy):
    """lib/Ed25519Verifier.vy, the deployable form, answers a caller that uses the .vyi."""
    verifier = deploy("lib/Ed25519Verifier.vy")
    caller = deploy("test_harness/ed25519_caller.vy").functions
    key = SigningKey(b"\x0b" * 32)
    msg = b"swarm-registry/1" + bytes(32) + b"\x33" * 40
    sig = key.sign(msg).signature
    ok, gas = caller.check(verifier.address, bytes(key.verify_key), msg, sig).call(GAS)
    assert ok and 300_000 < gas < 1_000_000, gas
    bad = sig[:10] + bytes([sig[10] ^ 4]) + sig[11:]
    assert caller.check(verifier.address, bytes(key.verify_key), msg, bad).call(GAS)[0] is False
