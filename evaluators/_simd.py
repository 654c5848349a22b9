"""An 8 x 8 block transpose for numba kernels, written as vector shuffles in LLVM IR.

Scalar loops that transpose (strided loads, contiguous stores or the reverse) run at
~1 element a cycle; LLVM does not turn them into shuffles. Eight 8-wide loads, 24
shuffles (three butterfly stages) and eight 8-wide stores move 64 values several times
faster. No bounds checks: callers keep the blocks inside their arrays.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_WIDTH = 8


def _mask(indices):
    return ir.Constant(ir.VectorType(ir.IntType(32), len(indices)), indices)


def _stage(builder, rows, lo_mask, hi_mask, step):
    """One butterfly stage: rows i and i + step combine into (lo, hi) pairs."""
    out = list(rows)
    for i in range(_WIDTH):
        if i & step:
            continue
        a, b = rows[i], rows[i + step]
        out[i] = builder.shuffle_vector(a, b, _mask(lo_mask))
        out[i + step] = builder.shuffle_vector(a, b, _mask(hi_mask))
    return out


# (lo, hi) masks over the 16 elements of two concatenated rows: interleave elements, then
# pairs, then quads, so that after the three stages row j holds column j
_MASKS = (
    (1, [0, 8, 2, 10, 4, 12, 6, 14], [1, 9, 3, 11, 5, 13, 7, 15]),
    (2, [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]),
    (4, [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]),
)


@intrinsic
def transpose8(typingctx, src, src_start, src_stride, dst, dst_start, dst_stride):
    """dst[dst_start + i * dst_stride + j] = src[src_start + j * src_stride + i] for
    i, j < 8 (float64 arrays, contiguous)."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array)
            and src.dtype == types.float64 and dst.dtype == types.float64):
        return None
    sig = types.void(src, types.intp, types.intp, dst, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        src_v, s_start, s_stride, dst_v, d_start, d_stride = args
        vec = ir.VectorType(ir.DoubleType(), _WIDTH)
        src_ptr = context.make_array(signature.args[0])(context, builder, src_v).data
        dst_ptr = context.make_array(signature.args[3])(context, builder, dst_v).data
        intp = s_start.type

        def address(base, start, stride, i):
            index = builder.add(start, builder.mul(stride, ir.Constant(intp, i)))
            return builder.bitcast(builder.gep(base, [index]), vec.as_pointer())

        rows = [builder.load(address(src_ptr, s_start, s_stride, i), align=8)
                for i in range(_WIDTH)]
        for step, lo, hi in _MASKS:
            rows = _stage(builder, rows, lo, hi, step)
        for i in range(_WIDTH):
            builder.store(rows[i], address(dst_ptr, d_start, d_stride, i), align=8)
        return context.get_dummy_value()

    return sig, codegen
