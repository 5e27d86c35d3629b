"""sciconv.dtypes: type promotion Dynamo can trace, against torch.result_type."""

import torch

from sciconv.dtypes import result_dtype


def test_result_dtype_matches_torch_result_type_without_calling_it():
    """``result_dtype`` (which torch.compile can trace; discretize and vandermonde_apply promote
    with it) equals
    ``torch.result_type`` (the reference) for every pair of dtypes and of 0-dim / 1-dim
    operands, including the 0-dim rules (a float64 scalar tensor does not widen float32, a
    complex one makes float16 complex32)."""
    dtypes = [torch.bool, torch.int32, torch.int64, torch.float16, torch.bfloat16]
    dtypes += [torch.float32, torch.float64, torch.complex64, torch.complex128]
    for da in dtypes:
        for db in dtypes:
            for sa, sb in (((), (3,)), ((3,), ()), ((), ()), ((2,), (2,))):
                a, b = torch.zeros(sa, dtype=da), torch.zeros(sb, dtype=db)
                assert result_dtype(a, b) == torch.result_type(a, b), (da, db, sa, sb)
