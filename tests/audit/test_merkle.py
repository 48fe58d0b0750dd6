"""RFC 6962 Merkle trees: reference vectors, a literal transcription of the RFC, properties.

Fixture strategy: none shared. The reference vectors are inline with their source. The
"store" the proof functions read is a dict of every perfect subtree, filled from what
``Frontier.append`` reports for the first ``MAX_LEAVES`` leaves of ``DATA`` (as the log's
database will be); a tree of size n < MAX_LEAVES reads the same nodes, and the lookup
callback fails the test if a proof asks for a node beyond its tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustledger.audit import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from trustledger.audit.merkle import root_of_hashes

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)

# --- Reference vectors -----------------------------------------------------------------
# From transparency-dev/merkle, proof/verify_test.go (inclusionProofs, consistencyProofs,
# roots, leaves), which carries over the test data of the Certificate Transparency
# reference implementation (google/certificate-transparency, merkle_tree_test.cc).
# Note: in the Go vectors the leaf number is 1-based; the indices below are 0-based.

RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

# MTH of the first n RFC_LEAVES, n = 1..8.
RFC_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (index, size, audit path)
RFC_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hashes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hashes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, consistency proof)
RFC_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hashes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# Which stored nodes make up a proof, from transparency-dev/merkle, proof/proof_test.go
# (TestInclusion, TestConsistency): (a, b, node ids as (level, index), (begin, end)).
# Nodes ids[begin:end] are folded into one imperfect node ("rehash": folded bottom up,
# each next id being the *left* child); (0, 0) means no rehash.
NODE_INCLUSION = [
    (0, 2, [(0, 1)], (0, 0)),
    (1, 2, [(0, 0)], (0, 0)),
    (1, 3, [(0, 0), (0, 2)], (0, 0)),
    (0, 7, [(0, 1), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (1, 7, [(0, 0), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (2, 7, [(0, 3), (1, 0), (0, 6), (1, 2)], (2, 4)),
    (3, 7, [(0, 2), (1, 0), (0, 6), (1, 2)], (2, 4)),
    (4, 7, [(0, 5), (0, 6), (2, 0)], (0, 0)),
    (5, 7, [(0, 4), (0, 6), (2, 0)], (0, 0)),
    (6, 7, [(1, 2), (2, 0)], (0, 0)),
    (2, 4, [(0, 3), (1, 0)], (0, 0)),
    (3, 5, [(0, 2), (1, 0), (0, 4)], (0, 0)),
    (3, 6, [(0, 2), (1, 0), (1, 2)], (0, 0)),
    (4, 6, [(0, 5), (2, 0)], (0, 0)),
    (10, 15, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (24, 31, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)], (2, 4)),
    (
        81,
        95,
        [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)],
        (3, 6),
    ),
]
NODE_CONSISTENCY = [
    (1, 2, [(0, 1)], (0, 0)),
    (1, 4, [(0, 1), (1, 1)], (0, 0)),
    (1, 6, [(0, 1), (1, 1), (1, 2)], (0, 0)),
    (2, 3, [(0, 2)], (0, 0)),
    (2, 8, [(1, 1), (2, 1)], (0, 0)),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)], (3, 5)),
    (4, 7, [(0, 6), (1, 2)], (0, 2)),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)], (0, 0)),
    (6, 7, [(1, 2), (0, 6), (2, 0)], (0, 0)),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)], (0, 0)),
    (2, 4, [(1, 1)], (0, 0)),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)], (0, 0)),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)], (0, 0)),
    (4, 6, [(1, 2)], (0, 0)),
    (1, 7, [(0, 1), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)], (1, 4)),
    (
        81,
        95,
        [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)],
        (4, 7),
    ),
]

# --- A literal transcription of RFC 6962 §2.1 (recursive, slices, no cleverness) --------


def _k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


_MTH_MEMO: dict[tuple[bytes, ...], bytes] = {}


def rfc_mth(d: Sequence[bytes]) -> bytes:
    # Memoised on the leaves themselves (only so that every audit path of a 1000-leaf tree
    # takes milliseconds, not seconds); the function is still the RFC's recursion.
    key = tuple(d)
    if key not in _MTH_MEMO:
        _MTH_MEMO[key] = _rfc_mth(d)
    return _MTH_MEMO[key]


def _rfc_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + rfc_mth(d[0:k]) + rfc_mth(d[k:n])).digest()


def rfc_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return rfc_path(m, d[0:k]) + [rfc_mth(d[k:n])]
    return rfc_path(m - k, d[k:n]) + [rfc_mth(d[0:k])]


def rfc_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return rfc_subproof(m, d, True)


def rfc_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = _k(n)
    if m <= k:
        return rfc_subproof(m, d[0:k], b) + [rfc_mth(d[k:n])]
    return rfc_subproof(m - k, d[k:n], False) + [rfc_mth(d[0:k])]


# --- The node store ---------------------------------------------------------------------

MAX_LEAVES = 1000
DATA = RFC_LEAVES + [b"entry %d" % i for i in range(len(RFC_LEAVES), MAX_LEAVES)]


def _build_store(data: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    frontier = Frontier()
    store: dict[tuple[int, int], bytes] = {}
    for d in data:
        for level, index, h in frontier.append(leaf_hash(d)):
            assert (level, index) not in store
            store[level, index] = h
    return store


STORE = _build_store(DATA)


class Lookup:
    """``node`` callback over STORE for a tree of ``size`` leaves; counts the lookups."""

    def __init__(self, size: int, store: dict[tuple[int, int], bytes] = STORE) -> None:
        self.size = size
        self.store = store
        self.calls = 0

    def __call__(self, level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= self.size, f"({level}, {index}) is not in the tree"
        self.calls += 1
        return self.store[level, index]


ROOTS = [rfc_mth(DATA[:n]) for n in range(131)]


def flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# --- Hashes and roots -------------------------------------------------------------------


def test_hashes_match_rfc6962_vectors() -> None:
    # transparency-dev/merkle rfc6962/rfc6962_test.go (TestRFC6962Hasher).
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_empty_tree_root() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_of_hashes([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT
    assert subtree_hash(0, 0, Lookup(0)) == EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_reference_vectors(n: int) -> None:
    assert merkle_root(RFC_LEAVES[:n]) == RFC_ROOTS[n - 1]
    assert rfc_mth(RFC_LEAVES[:n]) == RFC_ROOTS[n - 1]  # the transcription is right too
    assert subtree_hash(0, n, Lookup(n)) == RFC_ROOTS[n - 1]


def test_merkle_root_matches_the_rfc_recursion() -> None:
    for n in range(131):
        assert merkle_root(DATA[:n]) == ROOTS[n], n
        assert root_of_hashes([leaf_hash(d) for d in DATA[:n]]) == ROOTS[n], n
    assert merkle_root(DATA) == rfc_mth(DATA)


def test_merkle_root_is_not_fooled_by_second_preimages() -> None:
    # A leaf whose data is two hashes concatenated does not collide with their parent.
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert merkle_root([a + b]) != merkle_root([b"a", b"b"])
    assert merkle_root([b"a", b"b"]) != merkle_root([b"b", b"a"])


def test_merkle_root_of_a_million_leaves() -> None:
    # Iterative: no recursion limit. Leaves all equal, so the root is also known another
    # way: equal perfect subtrees of each size, folded per set bit of the size.
    n = 1_000_000
    got = merkle_root([b"x"] * n)
    perfect = [leaf_hash(b"x")]
    while len(perfect) < n.bit_length():
        perfect.append(node_hash(perfect[-1], perfect[-1]))
    peaks = [perfect[level] for level in range(n.bit_length() - 1, -1, -1) if n >> level & 1]
    want = peaks[-1]
    for p in reversed(peaks[:-1]):
        want = node_hash(p, want)
    assert got == want


# --- Frontier ---------------------------------------------------------------------------


def test_frontier_after_every_append() -> None:
    frontier = Frontier()
    seen: set[tuple[int, int]] = set()
    for i, d in enumerate(DATA[:130]):
        size = i + 1
        completed = frontier.append(leaf_hash(d))
        assert frontier.size == size
        assert frontier.root() == ROOTS[size]
        # Exactly the perfect subtrees whose last leaf is leaf i: level 0 up to the number
        # of trailing zero bits of the new size.
        trailing = (size & -size).bit_length() - 1
        assert [(lv, ix) for lv, ix, _ in completed] == [
            (lv, (size >> lv) - 1) for lv in range(trailing + 1)
        ]
        for level, index, h in completed:
            assert h == rfc_mth(DATA[index << level : (index + 1) << level])
            seen.add((level, index))
        # The peaks are the perfect subtrees of the tree's left edge, largest first.
        assert len(frontier.peaks) == size.bit_count()
        for level, index, h in frontier.nodes():
            assert h == STORE[level, index]
        assert Frontier.from_bytes(size, frontier.to_bytes()) == frontier
    # Every perfect node of the final tree was reported once.
    assert seen == {(lv, ix) for lv in range(8) for ix in range(130 >> lv)}


def test_frontier_serialization() -> None:
    frontier = Frontier()
    assert frontier.to_bytes() == b""
    assert Frontier.from_bytes(0, b"") == frontier
    for d in DATA[:7]:
        frontier.append(leaf_hash(d))
    data = frontier.to_bytes()
    assert data == STORE[2, 0] + STORE[1, 2] + STORE[0, 6]
    again = Frontier.from_bytes(7, data)
    assert again == frontier and again.root() == ROOTS[7]
    # The rebuilt frontier keeps growing like the original.
    again.append(leaf_hash(DATA[7]))
    assert again.root() == ROOTS[8]
    assert again != frontier
    copy = frontier.copy()
    copy.append(leaf_hash(DATA[7]))
    assert copy == again and frontier.size == 7
    assert frontier != "not a frontier"
    assert "size=7" in repr(frontier)


@pytest.mark.parametrize(
    ("size", "data"),
    [(7, b"\x00" * 64), (7, b"\x00" * 97), (1, b""), (0, b"\x00" * 32), (-1, b"")],
)
def test_frontier_from_bytes_refuses_the_wrong_length(size: int, data: bytes) -> None:
    with pytest.raises(ValueError, match="frontier"):
        Frontier.from_bytes(size, data)


def test_frontier_refuses_a_leaf_hash_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"leaf data, not its hash")


@SETTINGS
@given(st.lists(st.binary(max_size=12), max_size=40), st.data())
def test_frontier_property(leaves: list[bytes], data: st.DataObject) -> None:
    frontier = Frontier()
    store: dict[tuple[int, int], bytes] = {}
    for i, d in enumerate(leaves):
        for level, index, h in frontier.append(leaf_hash(d)):
            store[level, index] = h
        assert frontier.root() == merkle_root(leaves[: i + 1])
    assert frontier.root() == rfc_mth(leaves)
    assert Frontier.from_bytes(frontier.size, frontier.to_bytes()) == frontier
    assert len(store) == 2 * len(leaves) - len(leaves).bit_count()  # every perfect node
    if leaves:
        n = len(leaves)
        node = Lookup(n, store)
        index = data.draw(st.integers(0, n - 1), label="index")
        proof = inclusion_proof(index, n, node)
        assert proof == rfc_path(index, leaves)
        assert verify_inclusion(leaf_hash(leaves[index]), index, n, proof, frontier.root())
        m = data.draw(st.integers(1, n), label="old size")
        cproof = consistency_proof(m, n, node)
        assert cproof == rfc_proof(m, leaves)
        assert verify_consistency(m, n, merkle_root(leaves[:m]), frontier.root(), cproof)


# --- subtree_hash -----------------------------------------------------------------------


def test_subtree_hash_of_every_rfc_range() -> None:
    # Every range the RFC's recursion visits: [s, e) with s a multiple of the largest
    # power of two not above e - s.
    node = Lookup(70)
    for start in range(70):
        for end in range(start + 1, 71):
            top = 1 << ((end - start).bit_length() - 1)
            if start % top == 0:
                before = node.calls
                assert subtree_hash(start, end, node) == rfc_mth(DATA[start:end])
                assert node.calls - before == (end - start).bit_count()
            else:
                with pytest.raises(ValueError, match="not a subtree"):
                    subtree_hash(start, end, node)


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (5, 4)])
def test_subtree_hash_refuses_bad_ranges(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="bad leaf range"):
        subtree_hash(start, end, Lookup(10))


# --- Inclusion proofs -------------------------------------------------------------------


def _from_ids(size: int, ids: list[tuple[int, int]], rehash: tuple[int, int]) -> list[bytes]:
    node = Lookup(size)
    hashes = [node(level, index) for level, index in ids]
    begin, end = rehash
    if end > begin:
        acc = hashes[begin]
        for h in hashes[begin + 1 : end]:
            acc = node_hash(h, acc)
        hashes[begin:end] = [acc]
    return hashes


@pytest.mark.parametrize(("index", "size", "proof"), RFC_INCLUSION)
def test_inclusion_proof_reference_vectors(index: int, size: int, proof: list[bytes]) -> None:
    store = _build_store(RFC_LEAVES)
    assert inclusion_proof(index, size, Lookup(size, store)) == proof
    leaf = leaf_hash(RFC_LEAVES[index])
    root = RFC_ROOTS[size - 1]
    assert verify_inclusion(leaf, index, size, proof, root)
    for bad in _inclusion_probes(leaf, index, size, proof, root):
        assert not verify_inclusion(*bad), bad


@pytest.mark.parametrize(("index", "size", "ids", "rehash"), NODE_INCLUSION)
def test_inclusion_proof_nodes(
    index: int, size: int, ids: list[tuple[int, int]], rehash: tuple[int, int]
) -> None:
    assert inclusion_proof(index, size, Lookup(size)) == _from_ids(size, ids, rehash)


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _inclusion_probes(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[bytes, int, int, list[bytes], bytes]]:
    """Corruptions of a good inclusion proof (after transparency-dev/merkle's
    corruptInclusionProof); none may verify."""
    probes = [
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [*proof, SOME_HASH], root),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, [b"", *proof], root),
        (leaf, index, size * 2, proof, root),
        (leaf, size, size, proof, root),  # index >= size
        (leaf, index + size, size, proof, root),
        (leaf, -1, size, proof, root),
        (leaf, index, 0, proof, root),
        (flip(leaf), index, size, proof, root),
        (leaf, index, size, proof, flip(root)),
    ]
    if size > 1:
        probes.append((leaf, index, size // 2, proof, root))
    for wrong in (index - 1, index + 1, index ^ 2):
        if 0 <= wrong < size and wrong != index:
            probes.append((leaf, wrong, size, proof, root))
    for i in range(len(proof)):
        for bit in (0, 3, 7):
            bad = list(proof)
            bad[i] = flip(bad[i], bit)
            probes.append((leaf, index, size, bad, root))
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
        probes.append((leaf, index, size, proof[1:], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
        probes.append((leaf, index, size, [proof[1], proof[0], *proof[2:]], root))
    return probes


def _check_inclusion(size: int, index: int) -> int:
    node = Lookup(size)
    proof = inclusion_proof(index, size, node)
    assert proof == rfc_path(index, DATA[:size]), (index, size)
    leaf, root = leaf_hash(DATA[index]), ROOTS[size] if size < len(ROOTS) else rfc_mth(DATA)
    assert verify_inclusion(leaf, index, size, proof, root), (index, size)
    return node.calls


def test_inclusion_proof_of_every_index_for_sizes_up_to_70() -> None:
    for size in range(1, 71):
        for index in range(size):
            calls = _check_inclusion(size, index)
            assert calls <= 2 * size.bit_length()
            node = Lookup(size)
            proof = inclusion_proof(index, size, node)
            leaf, root = leaf_hash(DATA[index]), ROOTS[size]
            for bad in _inclusion_probes(leaf, index, size, proof, root):
                assert not verify_inclusion(*bad), (index, size, bad)
            # The proof for the same leaf in a tree of another size does not verify
            # against that tree's root.
            for other in (size - 1, size + 1):
                if index < other:
                    assert not verify_inclusion(leaf, index, other, proof, ROOTS[other])


@pytest.mark.parametrize("size", [127, 128, 129])
def test_inclusion_proof_of_every_index_for_larger_sizes(size: int) -> None:
    for index in range(size):
        _check_inclusion(size, index)


def test_inclusion_proof_of_every_index_in_a_tree_of_1000() -> None:
    for index in range(1000):
        _check_inclusion(1000, index)


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    for index, size in [(0, 0), (1, 1), (7, 7), (-1, 5)]:
        with pytest.raises(ValueError, match="not in a tree of size"):
            inclusion_proof(index, size, Lookup(max(size, 0)))


# --- Consistency proofs -----------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "proof"), RFC_CONSISTENCY)
def test_consistency_proof_reference_vectors(old: int, new: int, proof: list[bytes]) -> None:
    store = _build_store(RFC_LEAVES)
    assert consistency_proof(old, new, Lookup(new, store)) == proof
    old_root, new_root = RFC_ROOTS[old - 1], RFC_ROOTS[new - 1]
    assert verify_consistency(old, new, old_root, new_root, proof)
    if proof:
        for bad in _consistency_probes(old, new, old_root, new_root, proof):
            assert not verify_consistency(*bad), bad


@pytest.mark.parametrize(("old", "new", "ids", "rehash"), NODE_CONSISTENCY)
def test_consistency_proof_nodes(
    old: int, new: int, ids: list[tuple[int, int]], rehash: tuple[int, int]
) -> None:
    assert consistency_proof(old, new, Lookup(new)) == _from_ids(new, ids, rehash)


def _consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    """Corruptions of a good, non-empty consistency proof (after transparency-dev/merkle's
    corruptConsistencyProof); none may verify."""
    probes = [
        (old, new, b"WrongRoot", new_root, proof),
        (old, new, old_root, b"WrongRoot", proof),
        (old, new, new_root, old_root, proof),
        (old, new, flip(old_root), new_root, proof),
        (old, new, old_root, flip(new_root), proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, b""]),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [b"", *proof]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
        (old, new, old_root, new_root, proof[1:]),
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (new, old, new_root, old_root, proof),
        (0, new, old_root, new_root, proof),
    ]
    for i in range(len(proof)):
        for bit in (0, 4, 7):
            bad = list(proof)
            bad[i] = flip(bad[i], bit)
            probes.append((old, new, old_root, new_root, bad))
    if len(proof) > 1:
        probes.append((old, new, old_root, new_root, [proof[1], proof[0], *proof[2:]]))
    return probes


def test_consistency_proof_of_every_pair_up_to_70() -> None:
    for new in range(1, 71):
        for old in range(1, new + 1):
            node = Lookup(new)
            proof = consistency_proof(old, new, node)
            assert proof == rfc_proof(old, DATA[:new]), (old, new)
            assert node.calls <= 2 * new.bit_length()
            old_root, new_root = ROOTS[old], ROOTS[new]
            assert verify_consistency(old, new, old_root, new_root, proof), (old, new)
            if old == new:
                assert proof == []
                assert not verify_consistency(old, new, old_root, new_root, [SOME_HASH])
                continue
            for bad in _consistency_probes(old, new, old_root, new_root, proof):
                assert not verify_consistency(*bad), (old, new, bad)
            # The proof does not pass for neighbouring sizes with their true roots.
            for o, n in ((old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)):
                if 0 < o < n and (o, n) != (old, new):
                    assert not verify_consistency(o, n, ROOTS[o], ROOTS[n], proof)


@pytest.mark.parametrize(("old", "new"), [(1, 1000), (127, 1000), (128, 129), (513, 1000)])
def test_consistency_proof_larger_sizes(old: int, new: int) -> None:
    proof = consistency_proof(old, new, Lookup(new))
    assert proof == rfc_proof(old, DATA[:new])
    assert verify_consistency(old, new, rfc_mth(DATA[:old]), rfc_mth(DATA[:new]), proof)


def test_consistency_proof_refuses_bad_sizes() -> None:
    for old, new in [(0, 0), (0, 5), (6, 5), (-1, 5)]:
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(old, new, Lookup(max(new, 0)))


def test_consistency_without_a_proof() -> None:
    # RFC 9162 §2.1.4: the same size needs equal roots; the empty tree is a prefix of all.
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert not verify_consistency(0, 5, SOME_HASH, ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [EMPTY_ROOT])
    assert not verify_consistency(6, 5, ROOTS[6], ROOTS[5], [])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


# --- Malformed input never raises -------------------------------------------------------

Verifier = Callable[..., bool]


@pytest.mark.parametrize(
    "args",
    [
        (b"short", 0, 1, [], b"short"),
        (SOME_HASH, 0, 1, b"", SOME_HASH),
        (SOME_HASH, 0, 1, None, SOME_HASH),
        (SOME_HASH, 0, 1, [None], SOME_HASH),
        (SOME_HASH, 0, 1, [], "not bytes"),
        (SOME_HASH, "0", 1, [], SOME_HASH),
        (SOME_HASH, True, 2, [SOME_HASH], SOME_HASH),
        (SOME_HASH, 0, 1.0, [], SOME_HASH),
        (SOME_HASH, 2**64, 2**64 + 1, [], SOME_HASH),
    ],
)
def test_verify_inclusion_never_raises(args: tuple[object, ...]) -> None:
    verify: Verifier = verify_inclusion
    assert verify(*args) is False


@pytest.mark.parametrize(
    "args",
    [
        (1, 2, b"short", SOME_HASH, [SOME_HASH]),
        (1, 2, SOME_HASH, SOME_HASH, None),
        (1, 2, SOME_HASH, SOME_HASH, b"x" * 32),
        (1, 2, SOME_HASH, SOME_HASH, [b"x" * 31]),
        (-1, 2, SOME_HASH, SOME_HASH, [SOME_HASH]),
        ("1", 2, SOME_HASH, SOME_HASH, [SOME_HASH]),
        (1, None, SOME_HASH, SOME_HASH, [SOME_HASH]),
        (3, 2**70, SOME_HASH, SOME_HASH, [SOME_HASH] * 3),
    ],
)
def test_verify_consistency_never_raises(args: tuple[object, ...]) -> None:
    verify: Verifier = verify_consistency
    assert verify(*args) is False


# --- Huge trees: O(log n) lookups -------------------------------------------------------


def test_proofs_in_huge_trees_cost_log_n_lookups() -> None:
    # All leaves equal, so every perfect node at a level has the same hash and a "store"
    # of any size is one hash per level: proofs for trees of up to 2**62 leaves.
    same = [leaf_hash(b"same")]
    for _ in range(64):
        same.append(node_hash(same[-1], same[-1]))

    class Huge(Lookup):
        def __call__(self, level: int, index: int) -> bytes:
            assert (index + 1) << level <= self.size
            self.calls += 1
            return same[level]

    for size in [2**20 + 1, 10**9 + 7, 2**40 - 1, 2**40, 2**62 + 12345]:
        root = subtree_hash(0, size, Huge(size))
        for index in [0, 1, size // 3, size - 2, size - 1]:
            node = Huge(size)
            proof = inclusion_proof(index, size, node)
            assert node.calls <= 2 * size.bit_length()
            assert verify_inclusion(same[0], index, size, proof, root)
        for old in [1, 2, size // 2, size // 3, size - 1, size]:
            node = Huge(size)
            proof = consistency_proof(old, size, node)
            assert node.calls <= 2 * size.bit_length()
            old_root = subtree_hash(0, old, Huge(old))
            assert verify_consistency(old, size, old_root, root, proof)
