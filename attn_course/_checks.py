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


def as_queries_keys(q, k):
    """q: (..., n_q, d_k) and k: (..., n_k, d_k) as float arrays whose d_k agree and whose batches broadcast."""
    q = as_float_array(q, "q", min_ndim=2)
    k = as_float_array(k, "k", min_ndim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k: q has shape {q.shape} "
                         f"(d_k={q.shape[-1]}), k has shape {k.shape} (d_k={k.shape[-1]})")
    batch_shape((q, "q"), (k, "k"))
    return q, k


def attention_inputs(q, k, v, scale):
    """(q, k, v, scale) checked for attention, every version of it (NumPy, tiled, windowed, the backward pass).

    q: (..., n_q, d_k)  k: (..., n_k, d_k)  v: (..., n_k, d_v), floating, finite, batches that broadcast.
    scale: a positive number, default 1/sqrt(d_k); returned as a scalar of the arrays' common dtype, so
    that multiplying by it never changes their precision.
    """
    q, k = as_queries_keys(q, k)
    v = as_float_array(v, "v", min_ndim=2)
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have one value per key: k has {k.shape[-2]} keys (shape {k.shape}), "
                         f"v has {v.shape[-2]} values (shape {v.shape})")
    batch_shape((q, "q"), (k, "k"), (v, "v"))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else positive(scale, "scale")
    return q, k, v, np.result_type(q, k, v).type(scale)


def batch_shape(*named):
    """The broadcast of the leading (batch) dimensions of (array, name) pairs of shape (..., n, d)."""
    try:
        return np.broadcast_shapes(*(x.shape[:-2] for x, _ in named))
    except ValueError:
        given = ", ".join(f"{name} {x.shape[:-2]}" for x, name in named)
        raise ValueError(f"leading (batch) dimensions of {given} do not broadcast") from None


def has_shape(x, name, shape, meaning):
    """Refuse `x` unless its shape is `shape`; `meaning` names the dimensions, e.g. "(d_model, d_model)"."""
    if x.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {meaning} = {tuple(shape)}, got {x.shape}")
    return x


def positive_int(value, name, minimum=1):
    """A Python int >= minimum (default 1: strictly positive); NumPy integers accepted, bools and floats refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}")
    return int(value)


def nonnegative_int(value, name):
    """A Python int >= 0 (a seed, an index); NumPy integers accepted, bools and floats refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


# ---------------------------------------------------------------------------------------------------
# Tensors (the PyTorch models): torch is imported by the caller, so this module still imports without it

def token_ids(ids, name, vocab_size):
    """Refuse anything but a (batch, n) integer tensor of ids in [0, vocab_size) with n >= 1; returns it as int64."""
    import torch

    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integer token ids (torch.int64), got dtype {ids.dtype}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(f"{name} must have shape (batch, n) with n >= 1 tokens, got shape {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} must hold ids in [0, {vocab_size}) for this model's vocabulary of {vocab_size} "
                         f"tokens, got ids from {int(ids.min())} to {int(ids.max())} (a different vocabulary?)")
    return ids.long()


def feature_frames(x, name, d_in):
    """Refuse anything but a (batch, n, d_in) floating tensor with n >= 1 frames."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of features, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of features, got dtype {x.dtype}")
    if x.dim() != 3 or x.shape[1] == 0 or x.shape[2] != d_in:
        raise ValueError(f"{name} must have shape (batch, n, {d_in}) with n >= 1 frames, got shape {tuple(x.shape)}")
    return x
