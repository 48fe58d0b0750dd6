"""Signed tree heads: the RFC 6962 §3.5 bytes, Ed25519 signatures, key files, JSON.

Fixture strategy: one key generated per module (``KEY``); key files go to ``tmp_path``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import trustledger.audit as audit
from trustledger.audit import (
    AuditKey,
    AuditKeyError,
    TreeHead,
    TreeHeadError,
    merkle_root,
    tree_head_bytes,
    verify_tree_head,
)
from trustledger.errors import InvalidInput

KEY = AuditKey.generate()
ROOT = merkle_root([b"one", b"two", b"three"])
TS = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z


def flip(b: bytes, i: int = 0, bit: int = 0) -> bytes:
    return b[:i] + bytes([b[i] ^ (1 << bit)]) + b[i + 1 :]


# --- The signed bytes -------------------------------------------------------------------


def test_tree_head_bytes_layout_byte_by_byte() -> None:
    root = bytes(range(0xA0, 0xC0))
    got = tree_head_bytes(0x0102030405060708, 0x1112131415161718, root)
    assert len(got) == 50
    assert got[0] == 0  # version: v1(0)
    assert got[1] == 1  # signature_type: tree_hash(1)
    assert list(got[2:10]) == [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]  # timestamp
    assert list(got[10:18]) == [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]  # tree_size
    assert got[18:] == root  # sha256_root_hash
    assert tree_head_bytes(0, 0, bytes(32)) == bytes([0, 1]) + bytes(48)
    top = 2**64 - 1
    assert tree_head_bytes(top, top, bytes(32)) == bytes([0, 1]) + b"\xff" * 16 + bytes(32)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, TS, ROOT), "tree_size"),
        ((2**64, TS, ROOT), "tree_size"),
        ((True, TS, ROOT), "tree_size"),
        ((3, -1, ROOT), "timestamp_ms"),
        ((3, 2**64, ROOT), "timestamp_ms"),
        ((3, 1.5, ROOT), "timestamp_ms"),
        ((3, TS, ROOT[:31]), "root"),
        ((3, TS, ROOT.hex()), "root"),
    ],
)
def test_tree_head_bytes_refuses_values_that_do_not_fit(
    args: tuple[object, object, object], field: str
) -> None:
    with pytest.raises(TreeHeadError, match=f"tree head {field}: ") as info:
        tree_head_bytes(*args)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and isinstance(info.value, InvalidInput)


# --- Signing and verifying --------------------------------------------------------------


def test_sign_and_verify_round_trip() -> None:
    head = KEY.sign(3, TS, ROOT)
    assert head == TreeHead(3, TS, ROOT, head.signature)
    assert len(head.signature) == 64
    assert verify_tree_head(head, KEY.public_bytes())
    # The signature is a plain Ed25519 signature over the RFC 6962 §3.5 bytes.
    public = Ed25519PublicKey.from_public_bytes(KEY.public_bytes())
    public.verify(head.signature, tree_head_bytes(3, TS, ROOT))
    assert head.signed_bytes == tree_head_bytes(3, TS, ROOT)
    # Ed25519 is deterministic.
    assert KEY.sign(3, TS, ROOT) == head


def test_a_tree_head_signed_by_cryptography_directly_verifies() -> None:
    private = Ed25519PrivateKey.generate()
    signature = private.sign(bytes([0, 1]) + TS.to_bytes(8, "big") + (7).to_bytes(8, "big") + ROOT)
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert verify_tree_head(TreeHead(7, TS, ROOT, signature), raw)
    # The same signature claims nothing about size and timestamp swapped.
    assert not verify_tree_head(TreeHead(TS, 7, ROOT, signature), raw)


def test_any_change_breaks_the_signature() -> None:
    head = KEY.sign(3, TS, ROOT)
    public = KEY.public_bytes()
    changed = [
        TreeHead(3 ^ 1, TS, ROOT, head.signature),
        TreeHead(4, TS, ROOT, head.signature),
        TreeHead(3, TS ^ 1, ROOT, head.signature),
        TreeHead(3, TS + 1000, ROOT, head.signature),
    ]
    changed += [TreeHead(3, TS, flip(ROOT, i, i % 8), head.signature) for i in range(32)]
    changed += [TreeHead(3, TS, ROOT, flip(head.signature, i, i % 8)) for i in range(64)]
    for bad in changed:
        assert not verify_tree_head(bad, public), bad


def test_wrong_or_malformed_public_keys_do_not_verify() -> None:
    head = KEY.sign(3, TS, ROOT)
    assert not verify_tree_head(head, AuditKey.generate().public_bytes())
    assert not verify_tree_head(head, flip(KEY.public_bytes()))
    assert not verify_tree_head(head, KEY.public_bytes()[:31])
    assert not verify_tree_head(head, b"")
    assert not verify_tree_head(head, bytes(32))


def test_tree_head_refuses_bad_fields() -> None:
    with pytest.raises(TreeHeadError, match="signature: must be 64 bytes, not 3"):
        TreeHead(3, TS, ROOT, b"sig")
    with pytest.raises(TreeHeadError, match="root: must be 32 bytes"):
        TreeHead(3, TS, b"", bytes(64))
    with pytest.raises(TreeHeadError, match="tree_size"):
        TreeHead(-3, TS, ROOT, bytes(64))


def test_fingerprint() -> None:
    raw = KEY.public_bytes()
    assert len(raw) == 32
    assert KEY.fingerprint() == hashlib.sha256(raw).hexdigest()
    assert len(KEY.fingerprint()) == 64
    assert KEY.short_fingerprint() == KEY.fingerprint()[:16]
    assert audit.public_key_fingerprint(raw) == KEY.fingerprint()
    assert KEY.short_fingerprint() in repr(KEY)
    with pytest.raises(ValueError, match="32 bytes"):
        audit.public_key_fingerprint(raw[:16])


# --- Key files --------------------------------------------------------------------------


def test_key_file_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    KEY.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    loaded = AuditKey.load(path)
    assert loaded.public_bytes() == KEY.public_bytes()
    assert verify_tree_head(loaded.sign(1, TS, ROOT), KEY.public_bytes())
    assert AuditKey.load(str(path)).fingerprint() == KEY.fingerprint()


def test_key_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KEY.save(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_bytes(b"precious")
    with pytest.raises(AuditKeyError, match="already exists; refusing to overwrite") as info:
        AuditKey.generate().save(path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert path.read_bytes() == b"precious"
    # Not through a dangling symbolic link either.
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(AuditKeyError, match="already exists"):
        KEY.save(link)
    assert not (tmp_path / "nowhere").exists()


def test_save_into_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "audit.key"
    with pytest.raises(AuditKeyError, match="cannot be created") as info:
        KEY.save(path)
    assert str(path) in str(info.value)


def test_load_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.key"
    with pytest.raises(AuditKeyError, match="no such file") as info:
        AuditKey.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x00\xff" * 40,
    ],
)
def test_load_a_garbled_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbled.key"
    path.write_bytes(content)
    with pytest.raises(AuditKeyError, match="not an unencrypted PEM PKCS#8 private key") as info:
        AuditKey.load(path)
    assert str(path) in str(info.value)


def test_load_a_truncated_key_file(tmp_path: Path) -> None:
    good = tmp_path / "good.key"
    KEY.save(good)
    bad = tmp_path / "truncated.key"
    bad.write_bytes(good.read_bytes()[:60])
    with pytest.raises(AuditKeyError, match=re.escape(str(bad))):
        AuditKey.load(bad)


def test_load_refuses_other_kinds_of_key(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(AuditKeyError, match="not an Ed25519 key"):
        AuditKey.load(path)


def test_load_refuses_an_encrypted_key(tmp_path: Path) -> None:
    path = tmp_path / "encrypted.key"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(AuditKeyError, match="not an unencrypted PEM PKCS#8") as info:
        AuditKey.load(path)
    assert str(path) in str(info.value)


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="cannot be read"):
        AuditKey.load(tmp_path)


# --- JSON -------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    head = KEY.sign(3, TS, ROOT)
    doc = head.as_json()
    assert doc == {
        "tree_size": 3,
        "timestamp_ms": TS,
        "timestamp": "2023-11-14T22:13:20.123+00:00",
        "root": base64.b64encode(ROOT).decode(),
        "signature": base64.b64encode(head.signature).decode(),
    }
    assert TreeHead.from_json(doc) == head
    text = json.dumps(doc)
    assert TreeHead.from_json(text) == head
    assert TreeHead.from_json(text.encode()) == head
    without_iso = {k: v for k, v in doc.items() if k != "timestamp"}
    assert TreeHead.from_json(without_iso) == head
    assert TreeHead.from_json({**doc, "timestamp": None}) == head


def test_json_of_a_timestamp_after_the_year_9999() -> None:
    head = TreeHead(1, 2**64 - 1, ROOT, bytes(64))
    assert head.as_json()["timestamp"] is None
    assert TreeHead.from_json(head.as_json()) == head


def _doc() -> dict[str, object]:
    return KEY.sign(3, TS, ROOT).as_json()


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"tree_size": None}, "tree_size", "must be an integer"),
        ({"tree_size": "3"}, "tree_size", "must be an integer, not str"),
        ({"tree_size": -1}, "tree_size", "between 0 and 2\\*\\*64 - 1"),
        ({"tree_size": 3.0}, "tree_size", "must be an integer, not float"),
        ({"timestamp_ms": True}, "timestamp_ms", "must be an integer, not bool"),
        ({"root": "not base64!"}, "root", "not valid base64"),
        ({"root": "AAAA"}, "root", "must be 32 bytes, not 3"),
        ({"root": base64.b64encode(ROOT).decode()[:-1]}, "root", "not valid base64"),
        ({"root": "é"}, "root", "not valid base64"),
        ({"root": 12}, "root", "must be a base64 string"),
        ({"signature": base64.b64encode(bytes(63)).decode()}, "signature", "64 bytes"),
        ({"timestamp": "2023-11-14T22:13:20.124+00:00"}, "timestamp", "does not match"),
    ],
)
def test_from_json_names_the_bad_field(change: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(TreeHeadError, match=f"tree head {field}: .*{reason}") as info:
        TreeHead.from_json({**_doc(), **change})
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("field", ["tree_size", "timestamp_ms", "root", "signature"])
def test_from_json_names_a_missing_field(field: str) -> None:
    doc = _doc()
    del doc[field]
    with pytest.raises(TreeHeadError, match=f"tree head {field}: is missing"):
        TreeHead.from_json(doc)


@pytest.mark.parametrize("text", ["{", "[1, 2]", "null", b"\xff"])
def test_from_json_refuses_what_is_not_a_json_object(text: str | bytes) -> None:
    with pytest.raises(TreeHeadError, match="tree head json: "):
        TreeHead.from_json(text)


def test_public_api() -> None:
    for name in audit.__all__:
        assert hasattr(audit, name), name
    for name in [
        "merkle_root",
        "leaf_hash",
        "node_hash",
        "EMPTY_ROOT",
        "Frontier",
        "inclusion_proof",
        "consistency_proof",
        "subtree_hash",
        "verify_inclusion",
        "verify_consistency",
        "TreeHead",
        "AuditKey",
        "verify_tree_head",
        "tree_head_bytes",
    ]:
        assert name in audit.__all__, name
    assert audit.merkle_root([b"a"]) == audit.leaf_hash(b"a")
