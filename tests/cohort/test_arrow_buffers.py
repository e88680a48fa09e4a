"""The Arrow helpers of the fast path read and build buffers directly; they must agree with pyarrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets.cohort.fast import _filled_ints, bool_column, dictionary_column

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]


@settings(deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(0, 100)), max_size=80),
    type_index=st.integers(0, len(INT_TYPES) - 1),
    start=st.integers(0, 20),
)
def test_filled_ints_equals_pyarrow_for_any_slice_and_nulls(
    values: list[int | None], type_index: int, start: int
) -> None:
    arr = pa.array(values, INT_TYPES[type_index]).slice(min(start, len(values)))
    got = _filled_ints(arr, -1)
    assert got.tolist() == [-1 if v is None else v for v in arr.to_pylist()]


@settings(deadline=None)
@given(
    codes=st.lists(st.integers(0, 3), max_size=60),
    nulls=st.lists(st.booleans(), max_size=60),
)
def test_dictionary_and_bool_columns_equal_their_python_meaning(codes: list[int], nulls: list[bool]) -> None:
    n = min(len(codes), len(nulls))
    idx, mask = np.array(codes[:n], dtype=np.int32), np.array(nulls[:n], dtype=bool)
    names = ["none", "low", "mid", "high"]
    col = dictionary_column(idx, names, mask)
    assert col.to_pylist() == [None if m else names[c] for c, m in zip(idx, mask, strict=True)]
    flags = bool_column(idx % 2 == 1, (None, 0))
    assert flags.to_pylist() == [bool(c % 2) for c in idx]
