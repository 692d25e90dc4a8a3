"""``borrowed(value)``: the same arrays without their reference counts, for calls in kernel loops.

Numba counts references to every array a compiled function receives: a call that
passes n arrays takes and drops n references, each an atomic operation on the
array's memory record (about 5 ns each here; a trunk solve passes 28 arrays). A
borrowed view has the same data, shape and strides but no memory record, so
Numba's reference counting skips it (``NRT_incref`` and ``NRT_decref`` return at
once on a null record). It does not keep the memory alive: borrow only arrays that
something else holds for as long as the view is used (the state a kernel was called
with, for that call).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["borrowed"]


def _borrow_array(context, builder, array_type, value):
    src = context.make_array(array_type)(context, builder, value=value)
    dst = context.make_array(array_type)(context, builder)
    for name in ("data", "shape", "strides", "itemsize", "nitems"):
        setattr(dst, name, getattr(src, name))
    dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
    dst.parent = cgutils.get_null_value(dst.parent.type)
    return dst._getvalue()


def _borrow(context, builder, value_type, value):
    """``value`` with every array in it (itself, or the members of a tuple, nested tuples included) borrowed."""
    if isinstance(value_type, types.Array):
        return _borrow_array(context, builder, value_type, value)
    if isinstance(value_type, types.BaseTuple):
        for i, member_type in enumerate(value_type.types):
            member = builder.extract_value(value, i)
            value = builder.insert_value(value, _borrow(context, builder, member_type, member), i)
        return value
    context.nrt.incref(builder, value_type, value)  # a new reference to anything else (scalars: nothing)
    return value


def _only_arrays_and_scalars(value_type) -> bool:
    if isinstance(value_type, types.BaseTuple):
        return all(_only_arrays_and_scalars(t) for t in value_type.types)
    return isinstance(value_type, (types.Array, types.Number, types.Boolean))


@intrinsic
def borrowed(typingctx, value):
    """An array, or a tuple (named or not, nested) of arrays and numbers, with every array borrowed: the same
    data, shape and strides without reference counting."""
    if not _only_arrays_and_scalars(value):
        return None

    def codegen(context, builder, signature, args):
        return _borrow(context, builder, signature.args[0], args[0])

    return value(value), codegen
