"""Signed tree heads: an Ed25519 signature over a Merkle root, its size and a timestamp.

The signed bytes are exactly the ``TreeHeadSignature`` structure of RFC 6962 §3.5::

    digitally-signed struct {
        Version version;                    v1 = 0                 1 byte
        SignatureType signature_type;       tree_hash = 1          1 byte
        uint64 timestamp;                   ms since the epoch     8 bytes, big-endian
        uint64 tree_size;                                          8 bytes, big-endian
        opaque sha256_root_hash[32];                               32 bytes
    } TreeHeadSignature;

(50 bytes; see :func:`tree_head_bytes`). RFC 6962 signs with ECDSA or RSA; this log signs
the same bytes with Ed25519 (RFC 8032), whose 64-byte signatures are deterministic.

A key is kept in a PEM PKCS#8 file readable by its owner only (:meth:`AuditKey.save`);
verifiers need only the raw 32-byte public key (:meth:`AuditKey.public_bytes`), known by
its fingerprint, the hex SHA-256 of those 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trustledger.errors import InvalidInput

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "TREE_HEAD_SIZE",
    "AuditKey",
    "AuditKeyError",
    "TreeHead",
    "TreeHeadError",
    "public_key_fingerprint",
    "tree_head_bytes",
    "verify_tree_head",
]

VERSION_V1 = 0
"""RFC 6962 §3.2 ``Version``: v1(0)."""
SIGNATURE_TYPE_TREE_HASH = 1
"""RFC 6962 §3.2 ``SignatureType``: certificate_timestamp(0), tree_hash(1)."""
ROOT_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
TREE_HEAD_SIZE = 1 + 1 + 8 + 8 + ROOT_SIZE
_UINT64_MAX = 2**64 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BBQQ")


class TreeHeadError(InvalidInput, ValueError):
    """A tree head, or its JSON, has a bad field.

    >>> str(TreeHeadError("root", "must be 32 bytes, not 3"))
    'tree head root: must be 32 bytes, not 3'
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"tree head {field}: {reason}")


class AuditKeyError(InvalidInput, ValueError):
    """A signing key file is missing, unreadable, garbled, not Ed25519, or already exists."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"audit key {self.path}: {reason}")


def _check_uint64(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TreeHeadError(field, f"must be an integer, not {type(value).__name__}")
    if not 0 <= value <= _UINT64_MAX:
        raise TreeHeadError(field, f"must be between 0 and 2**64 - 1, not {value}")
    return value


def _check_bytes(field: str, value: object, size: int) -> bytes:
    if not isinstance(value, bytes):
        raise TreeHeadError(field, f"must be bytes, not {type(value).__name__}")
    if len(value) != size:
        raise TreeHeadError(field, f"must be {size} bytes, not {len(value)}")
    return value


def tree_head_bytes(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """The 50 bytes that are signed: RFC 6962 §3.5 ``TreeHeadSignature``.

    ``version`` v1 (0), ``signature_type`` tree_hash (1), ``timestamp`` and ``tree_size``
    as big-endian uint64, then the 32-byte SHA-256 root. Raises :class:`TreeHeadError`
    on a value that does not fit.
    """
    _check_uint64("tree_size", tree_size)
    _check_uint64("timestamp_ms", timestamp_ms)
    _check_bytes("root", root, ROOT_SIZE)
    return _HEAD.pack(VERSION_V1, SIGNATURE_TYPE_TREE_HASH, timestamp_ms, tree_size) + root


def _iso(timestamp_ms: int) -> str | None:
    try:
        when = _EPOCH + timedelta(milliseconds=timestamp_ms)
    except OverflowError:
        return None  # after the year 9999: only timestamp_ms can say it
    return when.isoformat(timespec="milliseconds")


def _b64decode(field: str, value: object, size: int) -> bytes:
    if not isinstance(value, str):
        raise TreeHeadError(field, f"must be a base64 string, not {type(value).__name__}")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise TreeHeadError(field, f"is not valid base64 ({exc})") from None
    return _check_bytes(field, raw, size)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head: the root of the log's first ``tree_size`` entries, signed at
    ``timestamp_ms`` (milliseconds since the Unix epoch, UTC)."""

    tree_size: int
    timestamp_ms: int
    root: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_uint64("tree_size", self.tree_size)
        _check_uint64("timestamp_ms", self.timestamp_ms)
        _check_bytes("root", self.root, ROOT_SIZE)
        _check_bytes("signature", self.signature, SIGNATURE_SIZE)

    @property
    def signed_bytes(self) -> bytes:
        """The bytes the signature is over (:func:`tree_head_bytes`)."""
        return tree_head_bytes(self.tree_size, self.timestamp_ms, self.root)

    @property
    def timestamp(self) -> datetime:
        """``timestamp_ms`` as an aware UTC datetime (OverflowError after year 9999)."""
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict: root and signature in standard base64 (with padding);
        ``timestamp`` is the ISO 8601 form of ``timestamp_ms``, for people."""
        return {
            "tree_size": self.tree_size,
            "timestamp_ms": self.timestamp_ms,
            "timestamp": _iso(self.timestamp_ms),
            "root": base64.b64encode(self.root).decode("ascii"),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> TreeHead:
        """Read :meth:`as_json` back, from the dict or from JSON text.

        Raises :class:`TreeHeadError` (a ValueError) naming the bad field. ``timestamp`` is
        optional; when present it must agree with ``timestamp_ms``.
        """
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise TreeHeadError("json", f"is not valid JSON ({exc})") from None
        if not isinstance(data, Mapping):
            raise TreeHeadError("json", f"must be an object, not {type(data).__name__}")
        for field in ("tree_size", "timestamp_ms", "root", "signature"):
            if field not in data:
                raise TreeHeadError(field, "is missing")
        tree_size = _check_uint64("tree_size", data["tree_size"])
        timestamp_ms = _check_uint64("timestamp_ms", data["timestamp_ms"])
        root = _b64decode("root", data["root"], ROOT_SIZE)
        signature = _b64decode("signature", data["signature"], SIGNATURE_SIZE)
        iso = data.get("timestamp")
        if iso is not None and iso != _iso(timestamp_ms):
            raise TreeHeadError(
                "timestamp",
                f"{iso!r} does not match timestamp_ms {timestamp_ms} ({_iso(timestamp_ms)})",
            )
        return cls(tree_size, timestamp_ms, root, signature)


def public_key_fingerprint(public_key: bytes) -> str:
    """The hex SHA-256 of a raw 32-byte Ed25519 public key (64 hex digits)."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
    return hashlib.sha256(public_key).hexdigest()


class AuditKey:
    """An Ed25519 private key that signs tree heads."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> AuditKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuditKey:
        """Read a PEM PKCS#8 Ed25519 private key (unencrypted) written by :meth:`save`.

        Raises :class:`AuditKeyError` naming the path if the file is missing, unreadable,
        garbled, encrypted, or holds a key of another kind.
        """
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise AuditKeyError(path, "no such file") from None
        except OSError as exc:
            raise AuditKeyError(path, f"cannot be read ({exc.strerror or exc})") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise AuditKeyError(
                path, f"is not an unencrypted PEM PKCS#8 private key ({exc})"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(path, f"holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key as PEM PKCS#8 (unencrypted) to a new file with mode 0o600.

        Refuses to overwrite: raises :class:`AuditKeyError` if ``path`` exists (even as a
        dangling symbolic link) or cannot be created.
        """
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise AuditKeyError(path, "already exists; refusing to overwrite it") from None
        except OSError as exc:
            raise AuditKeyError(path, f"cannot be created ({exc.strerror or exc})") from None
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise

    def public_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key, what :func:`verify_tree_head` takes."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def fingerprint(self) -> str:
        """The hex SHA-256 of :meth:`public_bytes` (64 hex digits)."""
        return public_key_fingerprint(self.public_bytes())

    def short_fingerprint(self) -> str:
        """The first 16 hex digits of :meth:`fingerprint`, for display."""
        return self.fingerprint()[:16]

    def sign(self, tree_size: int, timestamp_ms: int, root: bytes) -> TreeHead:
        """Sign the tree head (:func:`tree_head_bytes`)."""
        signature = self._key.sign(tree_head_bytes(tree_size, timestamp_ms, root))
        return TreeHead(tree_size, timestamp_ms, root, signature)

    def __repr__(self) -> str:
        return f"AuditKey(fingerprint={self.short_fingerprint()})"


def verify_tree_head(head: TreeHead, public_key: bytes) -> bool:
    """Whether ``head.signature`` is ``public_key``'s Ed25519 signature over the head's
    RFC 6962 §3.5 bytes. Never raises: a bad signature or key is just False."""
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(head.signature, head.signed_bytes)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
