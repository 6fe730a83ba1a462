"""Fill-reducing orderings for structured grids."""

from __future__ import annotations

import numpy as np

from ._jit import jit

LEAF_CELLS = 16  # boxes this small are ordered naturally


@jit
def nested_dissection(shape, out):
    """Geometric nested dissection of a grid of ``shape`` (3 entries; pad with 1).

    Fills ``out`` with flat C-order cell indices: each box is ordered as its two
    halves, then the one-cell-thick separator between them.
    """
    n0, n1, n2 = shape[0], shape[1], shape[2]
    cap = 64 * (n0 + n1 + n2 + 8) + 256
    stack = np.empty((cap, 7), dtype=np.int64)  # kind, lo0, hi0, lo1, hi1, lo2, hi2
    stack[0, 0] = 0
    stack[0, 1] = 0
    stack[0, 2] = n0
    stack[0, 3] = 0
    stack[0, 4] = n1
    stack[0, 5] = 0
    stack[0, 6] = n2
    top = 1
    pos = 0
    while top > 0:
        top -= 1
        kind = stack[top, 0]
        lo0, hi0, lo1, hi1, lo2, hi2 = stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4], stack[top, 5], stack[top, 6]
        e0, e1, e2 = hi0 - lo0, hi1 - lo1, hi2 - lo2
        if e0 <= 0 or e1 <= 0 or e2 <= 0:
            continue
        if kind == 1 or e0 * e1 * e2 <= LEAF_CELLS:
            for i in range(lo0, hi0):
                for j in range(lo1, hi1):
                    for k in range(lo2, hi2):
                        out[pos] = (i * n1 + j) * n2 + k
                        pos += 1
            continue
        # split the longest extent; push separator, right, left (left is processed first)
        if e0 >= e1 and e0 >= e2:
            m = (lo0 + hi0) // 2
            boxes = ((1, m, m + 1, lo1, hi1, lo2, hi2), (0, m + 1, hi0, lo1, hi1, lo2, hi2),
                     (0, lo0, m, lo1, hi1, lo2, hi2))
        elif e1 >= e2:
            m = (lo1 + hi1) // 2
            boxes = ((1, lo0, hi0, m, m + 1, lo2, hi2), (0, lo0, hi0, m + 1, hi1, lo2, hi2),
                     (0, lo0, hi0, lo1, m, lo2, hi2))
        else:
            m = (lo2 + hi2) // 2
            boxes = ((1, lo0, hi0, lo1, hi1, m, m + 1), (0, lo0, hi0, lo1, hi1, m + 1, hi2),
                     (0, lo0, hi0, lo1, hi1, lo2, m))
        for b in boxes:
            for c in range(7):
                stack[top, c] = b[c]
            top += 1
    return pos
