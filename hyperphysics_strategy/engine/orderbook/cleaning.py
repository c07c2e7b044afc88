"""Cleaning rules for bad order books, shared by the single-snapshot and batch paths.

Every snapshot gets a ``reason`` bit mask (0 = clean as received). Bits below 8 mean the
book was repaired and is still usable (``valid`` stays True); bits from 8 up make the
snapshot invalid (``valid`` False, every numeric feature NaN). Nothing here raises on bad
*data*; only wrong shapes or types raise ``ValueError``.

Rules, applied per side in this order:

1. A level is *missing* when price and size are both NaN (padding): ignored, no flag.
2. A level is *invalid* when price or size is NaN, infinite, zero or negative: dropped,
   flag ``DROPPED_LEVELS``.
3. Valid levels are sorted best first (bids descending, asks ascending); flag ``UNSORTED``
   when the valid levels were not already in that order.
4. Levels with the same price are merged into one level whose size is the sum; flag
   ``DUPLICATES``.
5. Only the best ``max_levels`` levels are kept.
6. A side without any valid level: flags ``EMPTY_BID`` / ``EMPTY_ASK`` (invalid).
7. Crossed or locked book (best bid >= best ask): flag ``CROSSED`` (invalid). Not repaired:
   which side is stale cannot be known from one snapshot.
"""

from __future__ import annotations

UNSORTED = 1
DUPLICATES = 2
DROPPED_LEVELS = 4
EMPTY_BID = 8
EMPTY_ASK = 16
CROSSED = 32
INVALID_MASK = EMPTY_BID | EMPTY_ASK | CROSSED

REASONS = {
    UNSORTED: "unsorted levels (sorted)",
    DUPLICATES: "duplicated price levels (merged)",
    DROPPED_LEVELS: "NaN/inf/zero/negative price or size (level dropped)",
    EMPTY_BID: "no valid bid level",
    EMPTY_ASK: "no valid ask level",
    CROSSED: "crossed or locked book (best bid >= best ask)",
}


def describe(reason: int) -> list[str]:
    """Human-readable list of the rules a ``reason`` code records."""
    return [text for bit, text in REASONS.items() if int(reason) & bit]


def clean_side(xp, price, size, descending: bool, max_levels: int):
    """Clean one side of a batch of books.

    ``price``/``size``: (T, L) arrays of the backend ``xp`` (numpy or torch, float).
    Returns ``(price, size, count, flags, all_ok)``: (T, min(L, max_levels)) arrays where
    the valid levels form a sorted prefix, sizes of missing levels are 0 and their prices
    repeat the best price (finite whenever the side has a level), ``count`` the number of
    valid levels, ``flags`` the repair bits (int) per row and ``all_ok`` True when every
    level of the chunk is valid (no padding; the arrays are then returned unchanged).
    """
    inf = float("inf")
    n = price.shape[1]
    ok = (xp.minimum(price, size) > 0) & (xp.maximum(price, size) < inf)  # False for NaN
    all_ok = n > 0 and bool(ok.all())
    if all_ok:
        flags = xp.to_int(ok[:, 0]) * 0
    else:
        missing = xp.isnan(price) & xp.isnan(size)
        flags = xp.to_int(xp.any_rows(~ok & ~missing)) * DROPPED_LEVELS
    if n > 1:
        nxt, cur = price[:, 1:], price[:, :-1]
        in_order = (nxt < cur) if descending else (nxt > cur)
        bad = ~in_order if all_ok else ok[:, 1:] & ~(ok[:, :-1] & in_order)
        fix = xp.nonzero(xp.any_rows(bad)) if bool(bad.any()) else None
        if fix is not None:
            all_ok = False
            key = -price if descending else price  # ascending key, best first
            p, q, k, o = price[fix], size[fix], key[fix], ok[fix]
            kk = xp.where(o, k, inf)
            # unsorted: a valid level below the running maximum of the valid keys before it
            runmax = xp.cummax_rows(xp.where(o, k, -inf))
            unsorted = xp.any_rows(o[:, 1:] & (kk[:, 1:] < runmax[:, :-1]))
            order = xp.argsort_rows(kk)
            p, q, kk, o = (xp.take_rows(a, order) for a in (p, q, kk, o))
            dup = o[:, 1:] & o[:, :-1] & (kk[:, 1:] == kk[:, :-1])
            has_dup = xp.any_rows(dup)
            if bool(has_dup.any()):
                q = xp.where(o, q, 0.0)
                for j in range(n - 1, 0, -1):  # fold each run of equal prices into its first
                    d = dup[:, j - 1]
                    q[:, j - 1] = q[:, j - 1] + xp.where(d, q[:, j], 0.0)
                    o[:, j] = o[:, j] & ~d
                order = xp.argsort_rows(xp.where(o, kk, inf))
                p, q, o = (xp.take_rows(a, order) for a in (p, q, o))
            price, size, ok = xp.copy(price), xp.copy(size), xp.copy(ok)
            price[fix], size[fix], ok[fix] = p, q, o
            flags[fix] = flags[fix] | (
                xp.to_int(unsorted) * UNSORTED + xp.to_int(has_dup) * DUPLICATES
            )
    if n > max_levels:
        price, size, ok = price[:, :max_levels], size[:, :max_levels], ok[:, :max_levels]
    if all_ok:
        count = xp.to_int(ok[:, 0]) * 0 + price.shape[1]
        return price, size, count, flags, True
    count = xp.count_rows(ok)
    bad = ~ok
    price = xp.fill_where_(xp.copy(price), bad, price[:, :1] * 1.0)
    size = xp.fill_where_(xp.copy(size), bad, 0.0)
    return price, size, count, flags, False
