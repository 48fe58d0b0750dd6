"""A tamper-evident audit log: RFC 6962 Merkle trees and Ed25519 signed tree heads.

This package only re-exports: the Merkle tree, its proofs and their verification live in
:mod:`trustledger.audit.merkle`; signed tree heads and the signing key in
:mod:`trustledger.audit.signing`.

>>> from trustledger.audit import merkle_root
>>> len(merkle_root([b"first entry", b"second entry"]))
32
"""

from __future__ import annotations

from trustledger.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeLookup,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_of_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from trustledger.audit.signing import (
    AuditKey,
    AuditKeyError,
    TreeHead,
    TreeHeadError,
    public_key_fingerprint,
    tree_head_bytes,
    verify_tree_head,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "AuditKey",
    "AuditKeyError",
    "Frontier",
    "NodeLookup",
    "TreeHead",
    "TreeHeadError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "public_key_fingerprint",
    "root_of_hashes",
    "subtree_hash",
    "tree_head_bytes",
    "verify_consistency",
    "verify_inclusion",
    "verify_tree_head",
]
