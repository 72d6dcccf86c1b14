"""softmax: a distribution along the axis, stable for any finite input, exact zeros under a mask."""
import numpy as np
import pytest

from attn_course import softmax
from attn_course.softmax import softmax_


def naive(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def test_matches_the_formula_on_ordinary_input():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for axis in (-1, 0, 1):
        np.testing.assert_allclose(softmax(x, axis=axis), naive(x, axis=axis), rtol=1e-14)


def test_keeps_float32_and_accepts_lists():
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    assert softmax(x).dtype == np.float32
    assert softmax(x.astype(np.float16)).dtype == np.float32
    np.testing.assert_allclose(softmax([1.0, 2.0, 3.0]), naive(np.array([1.0, 2.0, 3.0])), rtol=1e-14)


@pytest.mark.parametrize("x, expected", [
    ([1e308, -1e308], [1.0, 0.0]),
    ([1e308, 1e308], [0.5, 0.5]),
    ([-1e308, -1e308, -1e308], [1 / 3] * 3),
    ([1000.0, 999.0], naive(np.array([1.0, 0.0]))),
    ([-1000.0, -1001.0], naive(np.array([1.0, 0.0]))),
])
def test_stable_for_extreme_input(x, expected):
    with np.errstate(all="raise"):  # no overflow warning escapes either
        got = softmax(np.array(x))
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_float32_extremes():
    big = np.finfo(np.float32).max
    with np.errstate(all="raise"):
        got = softmax(np.array([big, -big, 0], dtype=np.float32))
    np.testing.assert_array_equal(got, np.array([1, 0, 0], dtype=np.float32))


def test_temperature():
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(softmax(x, temperature=2.0), naive(x / 2.0), rtol=1e-14)
    np.testing.assert_allclose(softmax(x, temperature=1e-3), [0, 0, 1], atol=1e-300)
    np.testing.assert_allclose(softmax(x, temperature=1e6), [1 / 3] * 3, rtol=1e-5)
    with np.errstate(all="raise"):
        np.testing.assert_allclose(softmax(np.array([1e308, 0.0]), temperature=1e-300), [1, 0])


def test_mask_gives_exact_zeros_and_renormalises():
    x = np.random.default_rng(2).standard_normal((3, 5))
    mask = np.array([True, False, True, True, False])
    got = softmax(x, mask=mask)  # a 1-D mask broadcasts over the rows
    assert np.all(got[:, ~mask] == 0)
    np.testing.assert_allclose(got[:, mask], naive(x[:, mask]), rtol=1e-14)


def test_fully_masked_slice_is_zeros_not_nan():
    x = np.random.default_rng(3).standard_normal((2, 4))
    mask = np.array([[False] * 4, [True, True, False, False]])
    got = softmax(x, mask=mask)
    assert np.all(got[0] == 0)
    np.testing.assert_allclose(got[1, :2], naive(x[1, :2]), rtol=1e-14)


def test_mask_along_another_axis():
    x = np.random.default_rng(4).standard_normal((4, 3))
    mask = np.array([[True], [False], [True], [True]])
    got = softmax(x, axis=0, mask=mask)
    assert np.all(got[1] == 0)
    np.testing.assert_allclose(got.sum(axis=0), 1.0, rtol=1e-14)


def test_input_is_not_modified():
    x = np.random.default_rng(5).standard_normal((3, 4))
    before = x.copy()
    softmax(x, mask=x > 0)
    softmax(x, temperature=0.5)
    np.testing.assert_array_equal(x, before)


def test_inplace_variant_overwrites_its_argument():
    z = np.array([[1.0, 2.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    out = softmax_(z)
    assert out is z
    np.testing.assert_allclose(z, [[*naive(np.array([1.0, 2.0])), 0], [0, 0, 0]], rtol=1e-14)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.array([1, 2, 3])), TypeError, r"x must be a floating-point array .*got dtype int64"),
    (dict(x=np.array([True, False])), TypeError, r"x must be a floating-point array .*got dtype bool"),
    (dict(x=np.array([1.0, np.nan])), ValueError, r"x contains NaN; expected finite numbers"),
    (dict(x=np.array([1.0, np.inf])), ValueError, r"x contains inf; expected finite numbers"),
    (dict(x=np.array(1.0)), ValueError, r"x must have at least 1 dimension\(s\), got shape \(\)"),
    (dict(temperature=0), ValueError, r"temperature must be a positive finite number, got 0"),
    (dict(temperature=-1.5), ValueError, r"temperature must be a positive finite number, got -1.5"),
    (dict(temperature=float("inf")), ValueError, r"temperature must be a positive finite number, got inf"),
    (dict(temperature="hot"), TypeError, r"temperature must be a positive number, got 'hot'"),
    (dict(mask=np.ones((2, 3))), TypeError, r"mask must be a boolean array \(True = may attend\), got dtype float64"),
    (dict(mask=np.ones(4, dtype=bool)), ValueError, r"mask of shape \(4,\) does not broadcast to \(2, 3\)"),
    (dict(mask=np.ones((5, 2, 3), dtype=bool)), ValueError, r"mask of shape \(5, 2, 3\) would enlarge"),
    (dict(axis=2), ValueError, r"axis must be in \[-2, 1\] for x of shape \(2, 3\), got 2"),
    (dict(axis=None), TypeError, r"axis must be an int, got None"),
])
def test_bad_input(kwargs, error, match):
    args = dict(x=np.zeros((2, 3)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        softmax(args.pop("x"), **args)


def test_torch_tensor_is_refused_with_a_pointer():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"x must be a NumPy array, got a torch.Tensor; use attn_course.nn"):
        softmax(torch.zeros(3))
