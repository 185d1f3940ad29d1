"""The profile's quantiles, found by counting instead of a copy of the column, are pyarrow's own
to the last bit, on the shapes that stress the counting: skew, ties, piled-up values, nulls,
integers floats cannot tell apart, every numeric width (small blocks and buckets here so that
narrowing and the fallbacks run on short columns)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from data_platform.frames import quantiles

N = 40_000
RNG = np.random.default_rng(11)
SHAPES = {
    "gamma": RNG.gamma(2.0, 50.0, N),
    "skewed by outliers": np.concatenate([RNG.gamma(2.0, 50.0, N), [1e12, 1e15]]),
    "three values and a sprinkle": RNG.integers(0, 3, N) * 1e6 + (RNG.random(N) < 0.01) * RNG.random(N),
    "two far values": np.where(RNG.random(N) < 0.5, 1.0, 1e9),
    "constant": np.full(N, 7.5),
    "heavy tail, negative": -RNG.pareto(1.0, N),
    "denormal scale": RNG.normal(0.0, 1e-300, N),
    "huge scale": RNG.normal(0.0, 1e300, N),
    "sorted": np.sort(RNG.normal(size=N)),
    "float32": RNG.normal(size=N).astype(np.float32),
    "int64 wide": RNG.integers(-(2**62), 2**62, N),
    "int64 full range": np.concatenate([RNG.integers(-(2**63), 2**63 - 1, N), [-(2**63), 2**63 - 1]]),
    "int64 merged by floats": np.concatenate([2**60 + RNG.integers(0, 100, N), [0, 2**62]]),
    "int64 small range": RNG.integers(0, 1000, N),
    "uint64": RNG.integers(0, 2**64 - 1, N, dtype=np.uint64),
    "int32": RNG.integers(-(10**9), 10**9, N).astype(np.int32),
    "int8": RNG.integers(-100, 100, N).astype(np.int8),
}


def bounds(data: pa.ChunkedArray) -> tuple[float, float]:
    """The smallest and largest values as floats, as the profile has them."""
    mm = pc.min_max(data)
    return float(mm["min"].as_py()), float(mm["max"].as_py())


@pytest.fixture(autouse=True)
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantiles, "BLOCK", 3000)
    monkeypatch.setattr(quantiles, "KEEP", 200)  # narrowing runs on most shapes
    monkeypatch.setattr(quantiles, "SHORT", 100)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("nulls", [False, True])
def test_quantiles_are_pyarrows(shape: str, nulls: bool) -> None:
    values = SHAPES[shape]
    mask = RNG.random(len(values)) < 0.1 if nulls else None
    whole = pa.array(values, mask=mask)
    third = len(values) // 3
    data = pa.chunked_array([whole[:third], whole[third : 2 * third], whole[2 * third :]])
    for qs in ([0.25, 0.5, 0.75], [0.5], [0.0, 0.1, 0.9, 1.0]):
        expected = pc.quantile(data, q=qs, interpolation="linear").to_pylist()
        assert quantiles.quantiles(data, qs, *bounds(data)) == expected, (shape, qs)


def test_counting_answers_where_pyarrow_would_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counting path really runs (not the fallback) on a wide float column."""
    data = pa.chunked_array([pa.array(SHAPES["gamma"])])
    monkeypatch.setattr(quantiles, "_arrow", lambda *a: pytest.fail("fell back to pc.quantile"))
    assert (
        quantiles.quantiles(data, [0.25, 0.5, 0.75], *bounds(data))
        == pc.quantile(data, q=[0.25, 0.5, 0.75], interpolation="linear").to_pylist()
    )
