"""``prefetch(array, index)``: a cache hint for Numba kernels (LLVM ``llvm.prefetch``).

Tells the processor that ``array[index]`` will be read soon, so that it starts
bringing that cache line in while other work goes on. It never changes a result
(a hint for an address outside the array is ignored by the hardware; callers
still pass valid indices). Used where a kernel knows the next addresses of many
independent walks in advance (:mod:`.routing`), and by the exact walk for the lists of every
exit it may take next (:mod:`.transport`).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]

#: llvm.prefetch arguments: read (0), high temporal locality (3), data cache (1).
_READ, _KEEP_IN_ALL_LEVELS, _DATA = 0, 3, 1


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that ``array[index]`` (1-d array, integer index) is about to be read."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]), "llvm.prefetch.p0i8")
        address = builder.bitcast(builder.gep(data, [args[1]]), byte_ptr)
        builder.call(hint, [address, i32(_READ), i32(_KEEP_IN_ALL_LEVELS), i32(_DATA)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
