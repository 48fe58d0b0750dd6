"""Merkle trees exactly as RFC 6962 §2.1 (Certificate Transparency) defines them.

Pure functions: no I/O, no clock. SHA-256 throughout.

Hashes (RFC 6962 §2.1)::

    MTH({})       = SHA-256()                          EMPTY_ROOT
    MTH({d(0)})   = SHA-256(0x00 || d(0))              leaf_hash
    MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))    node_hash
                    where k is the largest power of two smaller than n

Addressing nodes: ``(level, index)``
------------------------------------
The only nodes a log ever stores are *perfect aligned subtrees*: the node at ``level`` L and
``index`` i is the root of the perfect tree over the leaves ``[i * 2**L, (i + 1) * 2**L)``.
Level 0 is the leaves themselves (``(0, i)`` is ``leaf_hash`` of leaf i); ``(1, i)`` is
``node_hash((0, 2i), (0, 2i + 1))``; in general ``(L + 1, i)`` is
``node_hash((L, 2i), (L, 2i + 1))``. A node exists in a tree of size n once its last leaf
is in the tree, ``(i + 1) * 2**L <= n``, and it never changes afterwards: this is what makes
the log append-only. :meth:`Frontier.append` reports every node an append completes, so a
database can store them as they appear.

A tree whose size is not a power of two also has *imperfect* nodes along its right edge
(the root of a 7-leaf tree, for instance). Those change as the tree grows and are never
stored: :func:`subtree_hash` rebuilds them from the perfect subtrees they are made of. The
proof functions take a callback ``node(level, index) -> bytes`` that serves stored perfect
nodes, and only ever ask for nodes that exist in the tree the proof is about.

Example, a tree of 7 leaves (the figure of RFC 6962 §2.1.3)::

                hash                     imperfect: MTH(D[0:7])
               /    \\
              /      \\
             k        l                  k = (2, 0); l = MTH(D[4:7]) is imperfect
            / \\      / \\
           g   h    i   j                g = (1, 0), h = (1, 1), i = (1, 2); j = (0, 6)
          / \\ / \\  / \\
          a b c d  e f                   a..f = (0, 0)..(0, 5)

The *frontier* (also called a compact range of ``[0, n)``) of this tree is the list of
perfect subtrees its leaves split into, largest first: ``k, i, j`` (one per set bit of n).
Folding them right to left with ``node_hash`` gives the root; see :class:`Frontier`.

Proofs and their verification follow RFC 6962 §2.1.1 (PATH, audit paths) and §2.1.2
(PROOF / SUBPROOF, consistency proofs); verification follows the algorithms of RFC 9162
§2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "NodeLookup",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "root_of_hashes",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash here (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() - the root of the empty tree (RFC 6962 §2.1)."""

NodeLookup = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the perfect aligned subtree over leaves
``[index * 2**level, (index + 1) * 2**level)`` (level 0 is the leaf hash)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one leaf's data (RFC 6962 §2.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node (RFC 6962 §2.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaves' *data* (each leaf is hashed with :func:`leaf_hash` first).

    >>> merkle_root([]) == EMPTY_ROOT
    True
    >>> merkle_root([b"a"]) == leaf_hash(b"a")
    True
    """
    return root_of_hashes([_sha256(_LEAF_PREFIX + d).digest() for d in leaves])


def root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaves' hashes (RFC 6962 §2.1). Iterative, O(n).

    The tree is built level by level: adjacent nodes are paired left to right and an odd
    node at the right end is carried up unchanged. That is the same tree as the RFC's
    split at the largest power of two below n: every left subtree the RFC makes is
    perfect, so the pairing never crosses one of its boundaries.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            _sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _fold(peaks: Sequence[bytes]) -> bytes:
    """Fold perfect subtree hashes (largest first, adjacent) right to left into one root."""
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


class Frontier:
    """The perfect subtrees that make up the left edge of a tree of ``size`` leaves.

    A tree of n leaves splits into one perfect aligned subtree per set bit of n, largest
    first (for n = 7: the subtrees over leaves [0, 4), [4, 6) and [6, 7)). Their hashes,
    the *peaks*, are all that is needed to compute the root and to append more leaves, so
    a log can keep the frontier of its latest tree in one database row
    (:meth:`to_bytes` / :meth:`from_bytes`) and never re-read its leaves.

    >>> f = Frontier()
    >>> f.append(leaf_hash(b"a"))[0][:2], f.append(leaf_hash(b"b"))[-1][:2]
    ((0, 0), (1, 0))
    >>> f.root() == merkle_root([b"a", b"b"])
    True
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The hashes of the perfect subtrees, largest (leftmost) first."""
        return tuple(self._peaks)

    def nodes(self) -> list[tuple[int, int, bytes]]:
        """The peaks with their addresses, as ``(level, index, hash)``, largest first."""
        out: list[tuple[int, int, bytes]] = []
        start = 0
        peaks = iter(self._peaks)
        for level in range(self._size.bit_length() - 1, -1, -1):
            if self._size >> level & 1:
                out.append((level, start >> level, next(peaks)))
                start += 1 << level
        return out

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add the leaf with hash ``leaf_hash`` as leaf number :attr:`size`.

        Returns every perfect subtree this append completes, as ``(level, index, hash)``,
        bottom up: first ``(0, leaf index, leaf_hash)``, then each parent that now has
        both children. These are exactly the nodes a database must store to serve the
        ``node`` callback of the proof functions.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, not {len(leaf_hash)}")
        index = self._size
        h = bytes(leaf_hash)
        completed = [(0, index, h)]
        level = 0
        while index & 1:
            h = node_hash(self._peaks.pop(), h)
            index >>= 1
            level += 1
            completed.append((level, index, h))
        self._peaks.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the tree so far: the peaks folded right to left; EMPTY_ROOT if empty."""
        if not self._peaks:
            return EMPTY_ROOT
        return _fold(self._peaks)

    def to_bytes(self) -> bytes:
        """The peaks concatenated (32 bytes per set bit of :attr:`size`); keep size apart."""
        return b"".join(self._peaks)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Rebuild the frontier of a tree of ``size`` leaves from :meth:`to_bytes`."""
        if size < 0:
            raise ValueError(f"frontier size must be >= 0, not {size}")
        want = HASH_SIZE * size.bit_count()
        if len(data) != want:
            raise ValueError(
                f"frontier of size {size} has {size.bit_count()} peak(s), "
                f"{want} bytes; got {len(data)} bytes"
            )
        f = cls()
        f._size = size
        f._peaks = [bytes(data[i : i + HASH_SIZE]) for i in range(0, want, HASH_SIZE)]
        return f

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier.from_bytes(self._size, self.to_bytes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._peaks == other._peaks

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_range(start: int, end: int) -> None:
    if start < 0 or end < start:
        raise ValueError(f"bad leaf range [{start}, {end})")


def subtree_hash(start: int, end: int, node: NodeLookup) -> bytes:
    """MTH(D[start:end]) from stored perfect subtrees, in at most log2(end - start) + 1
    lookups.

    The range must be one that RFC 6962's recursion (§2.1, and so §2.1.1 and §2.1.2)
    produces: ``start`` a multiple of the largest power of two not above ``end - start``.
    Such a range is a tree of ``end - start`` leaves shifted by ``start``, so it splits
    into aligned perfect subtrees (one per set bit of its size, largest first) that are
    folded right to left. ``[0, 0)`` is the empty tree, EMPTY_ROOT.
    """
    _check_range(start, end)
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    top = 1 << (size.bit_length() - 1)
    if start % top:
        raise ValueError(
            f"leaf range [{start}, {end}) is not a subtree of an RFC 6962 tree: "
            f"{start} is not a multiple of {top}"
        )
    peaks: list[bytes] = []
    pos = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            peaks.append(node(level, pos >> level))
            pos += 1 << level
    return _fold(peaks)


def inclusion_proof(index: int, size: int, node: NodeLookup) -> list[bytes]:
    """The audit path PATH(index, D[size]) of RFC 6962 §2.1.1, leaf end first.

    ::

        PATH(0, {d(0)}) = {}
        PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
        PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k

    Walks from the root down to the leaf; O(log n) node lookups.
    Raises ValueError unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, node: NodeLookup) -> list[bytes]:
    """The consistency proof PROOF(m, D[n]) of RFC 6962 §2.1.2, m = old_size, n = new_size.

    ::

        PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
        SUBPROOF(m, D[m], true)  = {}
        SUBPROOF(m, D[m], false) = {MTH(D[m])}
        SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          for m <= k
        SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  for m > k

    Empty for m == n. O(log n) node lookups. Raises ValueError unless
    ``0 < old_size <= new_size``.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(
            f"no consistency proof from size {old_size} to size {new_size}: "
            "need 0 < old size <= new size"
        )
    siblings: list[bytes] = []
    start, end, whole = 0, new_size, True
    while old_size != end:
        k = _split(end - start)
        if old_size - start <= k:
            siblings.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            siblings.append(subtree_hash(start, start + k, node))
            start += k
            whole = False
    proof = [] if whole else [subtree_hash(start, end, node)]
    proof.extend(reversed(siblings))
    return proof


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_proof(proof: object) -> bool:
    return (
        isinstance(proof, Sequence)
        and not isinstance(proof, bytes | bytearray | str)
        and all(_is_hash(p) for p in proof)
    )


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree of ``size``
    leaves with ``root`` (the algorithm of RFC 9162 §2.1.3.2).

    Never raises: a malformed proof (wrong length, a hash that is not 32 bytes,
    ``index >= size``, ...) is simply not a proof.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_size(index) and _is_size(size)) or index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` leaves with ``old_root`` is a prefix
    of the tree of ``new_size`` leaves with ``new_root`` (RFC 9162 §2.1.4.2).

    Sizes that need no proof: equal sizes are consistent when the roots are equal and the
    proof is empty; an empty old tree (``old_root`` must be EMPTY_ROOT) is a prefix of
    every tree, again with an empty proof. Never raises on malformed input.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    # RFC 9162 §2.1.4.2, steps 1 to 7.
    if len(proof) == 0:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
