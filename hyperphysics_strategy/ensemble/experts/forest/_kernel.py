"""numba kernels of the compiled forests (CPU, one thread per call, GIL released).

``forest_raw`` walks binary trees laid out by :mod:`._layout`: node ``n`` goes to
``child[n] + (x[feat[n]] > thr[n])`` (siblings are adjacent; a NaN compares false and
takes ``child[n]``); a leaf is its own child with threshold ``+inf``, so every row can
take exactly ``depth[t]`` steps in tree ``t`` without a branch. Rows go in blocks of
``BLOCK``; each tree is walked for 16 rows at once, 16 independent chains of dependent
loads that the CPU overlaps (one chain at a time is latency bound: about 2.5x slower).
Leaf values are added per row in tree order into ``out``, whose dtype is the library's
accumulator (float64 LightGBM, float32 XGBoost), so raw scores match bit for bit.

``oblivious_raw`` evaluates CatBoost's symmetric trees: the leaf index is the bit vector
of the tree's comparisons ``x[f] > border``, computed for a block of rows at once from a
feature-major copy of the block; leaves hold ``K`` values, summed per class in tree order.

``softmax`` is LightGBM's ``Common::Softmax`` row by row in float64 (max subtracted, libm
``exp``), about 20x faster than the same in numpy ufuncs for 1,000 x 3.

``cache=True``: the first call in a fresh environment compiles (a few seconds) and
writes the machine code to ``__pycache__``; later processes load it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import int32, njit, uint64

BLOCK = 64


@njit(cache=True, nogil=True)
def forest_raw(X, feat, thr, child, val, root, klass, depth, out):  # noqa: PLR0913
    n, nf = X.shape
    xf = X.reshape(-1)
    # row offsets of the 16 chains, unsigned so that indexing needs no wraparound check
    s1 = uint64(nf)
    s2 = s1 + s1
    s3, s4 = s2 + s1, s2 + s2
    s5, s6, s7, s8 = s4 + s1, s4 + s2, s4 + s3, s4 + s4
    s9, s10, s11, s12 = s8 + s1, s8 + s2, s8 + s3, s8 + s4
    s13, s14, s15 = s8 + s5, s8 + s6, s8 + s7
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        for t in range(root.shape[0]):
            c = klass[t]
            rt = uint64(root[t])
            steps = depth[t]
            r = b0
            while r + 16 <= b1:
                a = uint64(r * nf)
                n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = rt
                n8 = n9 = n10 = n11 = n12 = n13 = n14 = n15 = rt
                for _ in range(steps):
                    n0 = child[n0] + uint64(xf[a + feat[n0]] > thr[n0])
                    n1 = child[n1] + uint64(xf[a + s1 + feat[n1]] > thr[n1])
                    n2 = child[n2] + uint64(xf[a + s2 + feat[n2]] > thr[n2])
                    n3 = child[n3] + uint64(xf[a + s3 + feat[n3]] > thr[n3])
                    n4 = child[n4] + uint64(xf[a + s4 + feat[n4]] > thr[n4])
                    n5 = child[n5] + uint64(xf[a + s5 + feat[n5]] > thr[n5])
                    n6 = child[n6] + uint64(xf[a + s6 + feat[n6]] > thr[n6])
                    n7 = child[n7] + uint64(xf[a + s7 + feat[n7]] > thr[n7])
                    n8 = child[n8] + uint64(xf[a + s8 + feat[n8]] > thr[n8])
                    n9 = child[n9] + uint64(xf[a + s9 + feat[n9]] > thr[n9])
                    n10 = child[n10] + uint64(xf[a + s10 + feat[n10]] > thr[n10])
                    n11 = child[n11] + uint64(xf[a + s11 + feat[n11]] > thr[n11])
                    n12 = child[n12] + uint64(xf[a + s12 + feat[n12]] > thr[n12])
                    n13 = child[n13] + uint64(xf[a + s13 + feat[n13]] > thr[n13])
                    n14 = child[n14] + uint64(xf[a + s14 + feat[n14]] > thr[n14])
                    n15 = child[n15] + uint64(xf[a + s15 + feat[n15]] > thr[n15])
                out[r, c] += val[n0]
                out[r + 1, c] += val[n1]
                out[r + 2, c] += val[n2]
                out[r + 3, c] += val[n3]
                out[r + 4, c] += val[n4]
                out[r + 5, c] += val[n5]
                out[r + 6, c] += val[n6]
                out[r + 7, c] += val[n7]
                out[r + 8, c] += val[n8]
                out[r + 9, c] += val[n9]
                out[r + 10, c] += val[n10]
                out[r + 11, c] += val[n11]
                out[r + 12, c] += val[n12]
                out[r + 13, c] += val[n13]
                out[r + 14, c] += val[n14]
                out[r + 15, c] += val[n15]
                r += 16
            while r < b1:
                a = uint64(r * nf)
                n0 = rt
                for _ in range(steps):
                    n0 = child[n0] + uint64(xf[a + feat[n0]] > thr[n0])
                out[r, c] += val[n0]
                r += 1


@njit(cache=True, nogil=True)
def oblivious_raw(X, feat, border, split_start, leaf_start, val, out):
    n, nf = X.shape
    k = out.shape[1]
    xt = np.empty((nf, BLOCK), dtype=np.float32)  # the block, feature-major
    leaf = np.empty(BLOCK, dtype=np.int32)
    acc = np.empty((k, BLOCK), dtype=out.dtype)  # class-major sums of the block
    for b0 in range(0, n, BLOCK):
        m = min(n - b0, BLOCK)
        for r in range(m):
            for f in range(nf):
                xt[f, r] = X[b0 + r, f]
        acc[:] = 0.0
        for t in range(split_start.shape[0] - 1):
            leaf[:] = 0
            s0 = split_start[t]
            for i in range(s0, split_start[t + 1]):
                f = feat[i]
                b = border[i]
                bit = i - s0
                for r in range(BLOCK):  # contiguous compares (rows past m are unused)
                    leaf[r] |= int32(xt[f, r] > b) << bit
            l0 = leaf_start[t]
            for j in range(k):
                for r in range(m):
                    acc[j, r] += val[l0 + leaf[r] * k + j]
        for r in range(m):
            for j in range(k):
                out[b0 + r, j] += acc[j, r]


@njit(cache=True, nogil=True)
def softmax(raw, out):
    n, k = raw.shape
    for r in range(n):
        top = float(raw[r, 0])
        for j in range(1, k):
            top = max(top, float(raw[r, j]))
        total = 0.0
        for j in range(k):
            e = math.exp(float(raw[r, j]) - top)
            out[r, j] = e
            total += e
        for j in range(k):
            out[r, j] /= total
