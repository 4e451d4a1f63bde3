"""The ``digits`` data set (scikit-learn's bundled 8x8 digits, autograder/datasets/digits.py):
its one part and its refusal of a raw source."""
from __future__ import annotations

import numpy as np
import pytest

from autograder import datasets as ds
from autograder.datasets import DatasetError


def test_digits_loads_uint8_8x8_with_values_up_to_16():
    parts = ds.load("digits")
    assert list(parts) == ["all"]
    d = parts["all"]
    assert d.images.shape == (1797, 8, 8) and d.images.dtype == np.uint8
    assert d.labels.dtype == np.int64 and d.labels.shape == (1797,)
    assert d.images.max() == 16 and d.value_max == 16
    assert d.class_names == tuple("0123456789")
    assert d.class_counts() == np.bincount(d.labels).tolist()


def test_digits_refuses_a_source():
    with pytest.raises(DatasetError, match="takes no --source"):
        ds.load("digits", "/some/where")
