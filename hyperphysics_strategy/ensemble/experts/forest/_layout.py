"""Trees in one common form, and their flattening into the kernel's node arrays.

A converter describes each tree by numpy arrays over its ``m`` internal nodes (node 0
is the root) and its leaves: node ``i`` tests column ``feature[i]`` of the kernel's
input and goes to ``high[i]`` when ``x > threshold[i]`` (float32 comparison),
otherwise, NaN included, to ``low[i]``. A child ``>= 0`` is an internal node, ``< 0``
the leaf ``~child``. A tree without a split has no internal node and one leaf.

Columns ``0..F-1`` are the features, ``F..2F-1`` their negations (built per call only
when a tree uses one). A library's "left when ``x <= t``, NaN goes left" is ``x > t``
with ``low`` = left; with NaN going right it is ``-x > prev(-t)`` with ``low`` = right
(:func:`le_splits`).

:func:`flatten` gives each node a slot with the children of internal node ``i`` in the
adjacent slots ``1 + 2i`` (low) and ``2 + 2i`` (high), so the kernel needs one child
index per node, and turns leaves into slots that loop on themselves (threshold
``+inf``): a row can take ``depth`` steps in every tree without a branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Unsupported(ValueError):
    """The model uses something the compiled forest does not implement."""


@dataclass
class Tree:
    klass: int
    feature: np.ndarray  # (m,) kernel input column
    threshold: np.ndarray  # (m,) float32
    low: np.ndarray  # (m,) child taken when not x > threshold (NaN too)
    high: np.ndarray  # (m,) child taken when x > threshold
    leaf: np.ndarray  # (m + 1,) leaf values

    @classmethod
    def leaf_only(cls, klass: int, value: float) -> Tree:
        empty = np.zeros(0, dtype=np.int64)
        return cls(klass, empty, np.zeros(0, np.float32), empty, empty, np.array([value]))


@dataclass
class NodeArrays:
    feat: np.ndarray  # uint32, column of the kernel input
    thr: np.ndarray  # float32
    child: np.ndarray  # uint32, the low child; the high one is child + 1
    val: np.ndarray  # leaf values at leaf slots (accumulator dtype)
    root: np.ndarray  # uint32, one per tree
    klass: np.ndarray  # uint32, output column of each tree
    depth: np.ndarray  # uint32, steps to take in each tree


def f32_below(t: np.ndarray) -> np.ndarray:
    """The largest float32 ``<= t`` (float64), elementwise."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):  # beyond +-FLT_MAX: +-inf
        f = t.astype(np.float32)
        return np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)


def f32_prev(f: np.ndarray) -> np.ndarray:
    """The float32 just below ``f`` (``-inf`` below ``-FLT_MAX``)."""
    with np.errstate(over="ignore"):
        return np.nextafter(np.asarray(f, dtype=np.float32), np.float32(-np.inf))


def le_splits(
    feature: np.ndarray, t: np.ndarray, nan_left: np.ndarray, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes going left when ``x <= t`` (float32 ``t``), NaN going left where ``nan_left``.

    Returns ``(column, threshold, swapped)``; where ``swapped`` the node tests
    ``-x > prev(-t)`` (that is ``x <= t``) on column ``feature + n_features`` and its
    left child is ``high``.
    """
    t = np.asarray(t, dtype=np.float32)
    swapped = ~np.asarray(nan_left, dtype=bool)
    column = np.where(swapped, np.asarray(feature) + n_features, feature)
    threshold = np.where(swapped, f32_prev(-t), t).astype(np.float32)
    return column, threshold, swapped


def with_children(
    klass: int,
    column: np.ndarray,
    threshold: np.ndarray,
    swapped: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf: np.ndarray,
) -> Tree:
    low = np.where(swapped, right, left)
    high = np.where(swapped, left, right)
    return Tree(klass, column, threshold, low, high, np.asarray(leaf))


def finite_tree(tree: Tree, n_features: int) -> Tree:
    """``tree`` for inputs without NaN or inf: every node tests a feature column.

    A node on a negated column tests ``-x > prev(-t)``, that is ``x <= t``; for finite
    ``x`` that is ``not x > t``, so it becomes ``x > t`` on the feature itself with its
    children swapped. Only NaN told the two apart (and LightGBM's clipping, only inf),
    so the tree gives the same leaf for every finite row, on an input half as wide."""
    swapped = tree.feature >= n_features
    if not swapped.any():
        return tree
    with np.errstate(over="ignore"):
        t = -np.nextafter(tree.threshold, np.float32(np.inf))  # prev(-t) -> t
    return Tree(
        tree.klass,
        np.where(swapped, tree.feature - n_features, tree.feature),
        np.where(swapped, t, tree.threshold).astype(np.float32),
        np.where(swapped, tree.high, tree.low),
        np.where(swapped, tree.low, tree.high),
        tree.leaf,
    )


def flatten(trees: list[Tree], dtype: type) -> NodeArrays:
    sizes = np.array([2 * len(t.feature) + 1 for t in trees], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    total = int(starts[-1])
    if total >= 2**32 - 2:
        raise Unsupported("more than 2**32 nodes")
    feat = np.zeros(total, dtype=np.uint32)
    thr = np.full(total, np.inf, dtype=np.float32)
    child = np.arange(total, dtype=np.uint32)  # leaves loop on themselves
    val = np.zeros(total, dtype=dtype)
    depth = np.zeros(len(trees), dtype=np.uint32)
    for k, tree in enumerate(trees):
        base = int(starts[k])
        m = len(tree.feature)
        if m == 0:
            val[base] = tree.leaf[0]
            continue
        if len(tree.leaf) != m + 1:
            raise Unsupported(f"{m} splits and {len(tree.leaf)} leaves")
        pos = np.empty(m, dtype=np.int64)  # slot of each internal node
        leaf_pos = np.empty(m + 1, dtype=np.int64)  # slot of each leaf
        pos[0] = 0
        for children, first in ((tree.low, 1), (tree.high, 2)):
            slots = first + 2 * np.arange(m)
            inner = children >= 0
            pos[children[inner]] = slots[inner]
            leaf_pos[~children[~inner]] = slots[~inner]
        feat[base + pos] = tree.feature
        thr[base + pos] = tree.threshold
        child[base + pos] = base + 1 + 2 * np.arange(m)
        val[base + leaf_pos] = tree.leaf
        depth[k] = _depth(tree.low, tree.high)
    return NodeArrays(
        feat=feat,
        thr=thr,
        child=child,
        val=val,
        root=starts[:-1].astype(np.uint32),
        klass=np.array([t.klass for t in trees], dtype=np.uint32),
        depth=depth,
    )


def _depth(low: np.ndarray, high: np.ndarray) -> int:
    """Depth of the deepest leaf (root at depth 0)."""
    frontier = np.zeros(1, dtype=np.int64)
    level = 0
    while frontier.size:
        level += 1
        children = np.concatenate([low[frontier], high[frontier]])
        frontier = children[children >= 0]
        if level > len(low):
            raise Unsupported("the tree has a cycle")
    return level
