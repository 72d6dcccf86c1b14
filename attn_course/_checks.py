"""Input checks shared by the whole package.

Every public function validates its arguments here first, so a learner who passes the wrong thing
reads *which* argument was wrong, what was expected and what was given, instead of a NumPy
broadcasting traceback from three frames down.
"""
import numpy as np


def as_float_array(x, name, *, min_ndim=1):
    """`x` as a floating NumPy array (float64 stays float64, everything else floating becomes float32).

    Integers and booleans are refused rather than silently cast: `softmax([1, 2, 3])` on an int array
    is almost always a bug in a learner's code (an argmax index passed where logits were meant).
    Python lists of numbers are accepted and become float64, like `np.asarray` would make them.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=np.float64)
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor: say where the NumPy version lives
        raise TypeError(f"{name} must be a NumPy array, got a torch.Tensor; "
                        "use attn_course.nn for tensors, or pass tensor.numpy()")
    x = np.asarray(x)
    if x.dtype.kind not in "f":
        raise TypeError(f"{name} must be a floating-point array (float32 or float64), got dtype {x.dtype}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = "NaN" if np.isnan(x).any() else "inf"
        raise ValueError(f"{name} contains {bad}; expected finite numbers")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return x


def as_mask(mask, name, shape):
    """`mask` as a boolean array that broadcasts to `shape`. True means *may attend*."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array (True = may attend), got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {mask.shape} does not broadcast to {tuple(shape)}") from None
    if np.broadcast_shapes(mask.shape, shape) != tuple(shape):
        raise ValueError(f"{name} of shape {mask.shape} would enlarge the result shape {tuple(shape)}; "
                         f"expected a shape that broadcasts to {tuple(shape)}")
    return mask


def positive(value, name):
    """A strictly positive finite float, or a clear error."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value
