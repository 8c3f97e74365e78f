"""A software prefetch for numba kernels: ``prefetch(a, i)`` asks the CPU to bring the cache
line of ``a[i]`` in (LLVM's ``llvm.prefetch``: read, high locality). A hint only: it never
faults and changes no value, so a kernel's results are the same with or without it."""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I8P = ir.IntType(8).as_pointer()


@intrinsic
def prefetch(typingctx, arr, idx):
    """Prefetch ``arr[idx]`` (1-D array, integer index, no wrap-around of a negative one)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(idx, types.Integer)):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False)
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # rw = 0 (read), locality = 3 (keep in all cache levels), cache type = 1 (data)
        builder.call(fn, [builder.bitcast(ptr, _I8P), ir.Constant(_I32, 0),
                          ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return sig, codegen
