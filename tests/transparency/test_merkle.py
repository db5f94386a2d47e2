"""The tree and its proofs against an independent implementation (pymerkle, which
builds RFC 9162 trees its own way), on random trees of 1 to 2,000 leaves appended in
random batches: the same roots and inclusion paths as pymerkle, the consistency proofs
of RFC 9162's own recursion (transcribed below, over the leaves), each
verifying with tools/verify_log.py's RFC 9162 verifiers, and failing with one bit
flipped anywhere. Plus the reference vectors of RFC 6962's tests (Certificate
Transparency's merkle_tree_test), so both implementations are pinned to the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from shop.transparency import merkle
from shop.transparency.verify_log import LogError, verify_consistency, verify_inclusion


def _tree(leaves: list[bytes], batches: list[int]) -> dict:
    """The stored nodes, appended in batches of the given sizes (as commits append)."""
    nodes: dict = {}
    size, at = 0, 0
    for batch in [*batches, len(leaves)]:
        chunk = leaves[at : at + max(batch, 1)]
        if not chunk:
            break
        edge = {n: nodes[n] for n in merkle.root_parts(size)}
        nodes.update(merkle.appended_nodes(size, [merkle.leaf_hash(x) for x in chunk], edge))
        size += len(chunk)
        at += len(chunk)
    assert size == len(leaves)
    return nodes


def _root(nodes: dict, size: int) -> bytes:
    return merkle.fold(merkle.root_parts(size), nodes)


def _flipped(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


def _mth(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _rfc_proof(m: int, hashes: list[bytes], whole: bool = True) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), as RFC 9162 §2.1.4.1 writes it, over
    the leaves themselves (pymerkle lays its consistency paths out its own way)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [_mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_rfc_proof(m, hashes[:k], whole), _mth(hashes[k:])]
    return [*_rfc_proof(m - k, hashes[k:], False), _mth(hashes[:k])]


def _reference(leaves: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")  # prefixes 0x00 / 0x01, as RFC 9162
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 2000),
    batches=st.lists(st.integers(1, 300), max_size=12),
    data=st.data(),
)
def test_proofs_agree_with_pymerkle_and_verify(size, batches, data):
    leaves = [f"entry {i}".encode() for i in range(size)]
    nodes = _tree(leaves, batches)
    reference = _reference(leaves)
    for _ in range(8):
        n = data.draw(st.integers(1, size), label="tree size")
        root = _root(nodes, n)
        assert root == reference.get_root(n)

        m = data.draw(st.integers(0, n - 1), label="leaf index")
        path = merkle.hashes_of(merkle.inclusion_ranges(m, n), nodes)
        assert path == reference.prove_inclusion(m + 1, n).path[1:]  # pymerkle counts from 1
        leaf = merkle.leaf_hash(leaves[m])
        verify_inclusion(m, n, leaf, path, root)
        for position in range(len(path)):
            bit = data.draw(st.integers(0, 255), label="bit")
            with pytest.raises(LogError):
                verify_inclusion(m, n, leaf, _flipped(path, position, bit), root)
        with pytest.raises(LogError):
            verify_inclusion(m, n, _flipped([leaf], 0, 7)[0], path, root)

        old = data.draw(st.integers(1, n), label="old size")
        proof = merkle.hashes_of(merkle.consistency_ranges(old, n), nodes)
        assert proof == _rfc_proof(old, [merkle.leaf_hash(x) for x in leaves[:n]])
        old_root = _root(nodes, old)
        assert old_root == reference.get_root(old)
        verify_consistency(old, n, old_root, root, proof)
        for position in range(len(proof)):
            bit = data.draw(st.integers(0, 255), label="bit")
            with pytest.raises(LogError):
                verify_consistency(old, n, old_root, root, _flipped(proof, position, bit))
        if old < n:
            with pytest.raises(LogError):
                verify_consistency(old, n, _flipped([old_root], 0, 3)[0], root, proof)


# RFC 6962's test leaves and the roots of their first 1..8 (certificate-transparency's
# merkle_tree_test.cc, kept in transparency-dev/merkle's testonly/constants.go).
REFERENCE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                    "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_rfc_6962_reference_roots():
    leaves = [bytes.fromhex(x) for x in REFERENCE_LEAVES]
    nodes = _tree(leaves, [1, 2, 5])
    for size, expected in enumerate(REFERENCE_ROOTS, start=1):
        assert _root(nodes, size).hex() == expected
    assert merkle.empty_root() == hashlib.sha256(b"").digest()


def test_appending_reads_only_the_right_edge():
    """A tree of n leaves gains a leaf from at most log2(n) + 1 older nodes."""
    size = 1_000_003
    edge = merkle.root_parts(size)
    assert len(edge) == bin(size).count("1") <= size.bit_length()
    fake = {node: bytes(32) for node in edge}
    added = merkle.appended_nodes(size, [bytes(32)], fake)
    assert (0, size) in added and len(added) <= size.bit_length() + 1
