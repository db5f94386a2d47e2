"""The Merkle tree of RFC 9162 §2.1, kept as its perfect subtrees.

A node (level, index) is the hash of the 2**level leaves from index * 2**level on; level 0
holds the leaf hashes. Every subtree hash that the RFC's MTH, PATH and PROOF ask for is a
fold of O(log n) such nodes (`parts`): the ranges the RFC's recursion visits always start
at a multiple of the largest power of two in them. So a proof is planned as a set of
nodes, read in one statement, and folded; appending a leaf adds it and the nodes it
completes (one on average), reading only the right edge of the tree before it.

Pure functions, no database: shop.transparency.log reads and writes the nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"

Node = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # [start, end) of leaf indexes


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (RFC 9162's k), for size > 1."""
    return 1 << ((size - 1).bit_length() - 1)


def parts(start: int, end: int) -> list[Node]:
    """The perfect subtrees that MTH(D[start:end]) folds, largest (leftmost) first."""
    found = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        level = size.bit_length() - 1
        assert start % size == 0, "not a range of the RFC's recursion"
        found.append((level, start >> level))
        start += size
    return found


def fold(nodes: list[Node], hashes: Mapping[Node, bytes]) -> bytes:
    """MTH of the range whose parts are `nodes`: the right ones hashed in first."""
    value = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        value = node_hash(hashes[node], value)
    return value


def root_parts(size: int) -> list[Node]:
    return parts(0, size)


def empty_root() -> bytes:
    return hashlib.sha256(b"").digest()


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes make PATH(index, D[0:size]), in the RFC's order (the
    sibling nearest the leaf first)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of {size}")
    found: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
    found.reverse()
    return found


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The subtrees whose hashes make PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    found: list[Range] = []
    start, end, m, whole = 0, new, old, True
    while True:
        size = end - start
        if m == size:
            if not whole:
                found.append((start, end))
            break
        k = _split(size)
        if m <= k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
            m -= k
            whole = False
    found.reverse()
    return found


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {node for start, end in ranges for node in parts(start, end)}


def hashes_of(ranges: list[Range], hashes: Mapping[Node, bytes]) -> list[bytes]:
    return [fold(parts(start, end), hashes) for start, end in ranges]


def appended_nodes(size: int, leaves: list[bytes], edge: Mapping[Node, bytes]) -> dict[Node, bytes]:
    """The nodes a tree of `size` leaves gains when `leaves` (leaf hashes) are added:
    each leaf, and each perfect subtree it completes. `edge` holds the tree's right edge
    (the nodes of root_parts(size)), the only older nodes the new ones are made of."""
    known = dict(edge)
    added: dict[Node, bytes] = {}
    for offset, value in enumerate(leaves):
        level, index = 0, size + offset
        known[(0, index)] = added[(0, index)] = value
        while index % 2 == 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index // 2
            known[(level, index)] = added[(level, index)] = value
    return added
