"""The backward pass of attention, by hand, in NumPy, and a finite-difference check that it is right.

Backpropagation carries dL/d(output) back to dL/d(inputs) through each step of the forward pass,
in reverse (Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
Nature 1986). For attention, with s = scores, w = weights, o = output and g = dL/do:

    o = w v          ->  dv = w^T g          dw = g v^T
    w = softmax(s)   ->  ds = w * (dw - sum_j w_j dw_j)       (the softmax's Jacobian, diag(w) - w w^T)
    s = q k^T scale  ->  dq = ds k scale     dk = ds^T q scale

A masked key has w = 0, so its ds is 0 and no gradient flows to it. FlashAttention's backward pass
(Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness", NeurIPS
2022, appendix B) is these same equations, computed tile by tile.
"""
import numpy as np

from ._checks import as_float_array, has_shape, positive
from .attention import scaled_dot_product_attention
from .multihead import MultiHeadParams, check_inputs, merge_heads, project, split_heads


def softmax_backward(weights, grad_weights, axis=-1):
    """dL/dx for weights = softmax(x), given the weights and dL/dweights (same shape); masked entries get 0.

    The Jacobian is diag(w) - w w^T, so (diag(w) - w w^T) g = w * (g - w · g): no n x n matrix needed.
    """
    weights = as_float_array(weights, "weights")
    grad_weights = has_shape(as_float_array(grad_weights, "grad_weights"), "grad_weights", weights.shape,
                             "weights.shape")
    return weights * (grad_weights - np.sum(weights * grad_weights, axis=axis, keepdims=True))


def scaled_dot_product_attention_backward(q, k, v, grad_output, *, mask=None, causal=False, scale=None):
    """(dq, dk, dv): the gradients of L given dL/d(output) = grad_output, shaped like q, k and v.

    Same arguments as attn_course.scaled_dot_product_attention, plus grad_output: (..., n_q, d_v).
    The forward pass is recomputed (as FlashAttention does) rather than stored.
    """
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, scale=scale)
    q, k, v = (as_float_array(a, name, min_ndim=2) for a, name in ((q, "q"), (k, "k"), (v, "v")))
    g = has_shape(as_float_array(grad_output, "grad_output", min_ndim=2), "grad_output", output.shape,
                  "the output's (..., n_q, d_v)")
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else positive(scale, "scale")

    dv = np.swapaxes(weights, -1, -2) @ g                      # (..., n_k, d_v)
    dw = g @ np.swapaxes(v, -1, -2)                            # (..., n_q, n_k)
    ds = softmax_backward(weights, dw)                         # (..., n_q, n_k)
    ds *= scale                                                # through the scaling too (in place: keeps float32)
    dq = ds @ k                                                # (..., n_q, d_k)
    dk = np.swapaxes(ds, -1, -2) @ q                           # (..., n_k, d_k)
    # An input that was broadcast over batch dimensions gets the sum of the gradients of its copies.
    return sum_to(dq, q.shape), sum_to(dk, k.shape), sum_to(dv, v.shape)


def multi_head_attention_backward(x_q, x_kv, params, n_heads, grad_output, *, mask=None, causal=False):
    """(dx_q, dx_kv, grads): gradients of L given dL/d(output) = grad_output: (..., n_q, d_model).

    Same arguments as attn_course.multi_head_attention. grads is a MultiHeadParams of dL/dW_q, ...,
    dL/db_o (None where params has no bias). For self-attention (x_q is x_kv) the gradient with
    respect to x is dx_q + dx_kv: x reaches the output along both paths.
    """
    x_q, x_kv, p, head_mask = check_inputs(x_q, x_kv, params, n_heads, mask)
    # Forward, keeping what the backward pass needs.
    q = split_heads(project(x_q, p.W_q, p.b_q), n_heads)
    k = split_heads(project(x_kv, p.W_k, p.b_k), n_heads)
    v = split_heads(project(x_kv, p.W_v, p.b_v), n_heads)
    heads, _ = scaled_dot_product_attention(q, k, v, mask=head_mask, causal=causal)
    concat = merge_heads(heads)                                # (..., n_q, d_model)
    g = has_shape(as_float_array(grad_output, "grad_output", min_ndim=2), "grad_output", concat.shape,
                  "the output's (..., n_q, d_model)")

    # Backward, last step first.  output = concat W_o + b_o
    dW_o, db_o = linear_backward(concat, g, p.b_o)
    d_concat = g @ p.W_o.T
    dq, dk, dv = scaled_dot_product_attention_backward(q, k, v, split_heads(d_concat, n_heads),
                                                       mask=head_mask, causal=causal)
    dq, dk, dv = merge_heads(dq), merge_heads(dk), merge_heads(dv)  # (..., n, d_model)
    dW_q, db_q = linear_backward(x_q, dq, p.b_q)
    dW_k, db_k = linear_backward(x_kv, dk, p.b_k)
    dW_v, db_v = linear_backward(x_kv, dv, p.b_v)
    dx_q = sum_to(dq @ p.W_q.T, x_q.shape)
    dx_kv = sum_to(dk @ p.W_k.T + dv @ p.W_v.T, x_kv.shape)   # x_kv feeds both the keys and the values
    return dx_q, dx_kv, MultiHeadParams(dW_q, dW_k, dW_v, dW_o, db_q, db_k, db_v, db_o)


def linear_backward(x, grad_y, b):
    """(dW, db) for y = x @ W + b: each is summed over every row of every batch."""
    x = np.broadcast_to(x, grad_y.shape[:-1] + x.shape[-1:])
    x2, g2 = x.reshape(-1, x.shape[-1]), grad_y.reshape(-1, grad_y.shape[-1])  # (rows, d_in), (rows, d_out)
    return x2.T @ g2, None if b is None else g2.sum(axis=0)


def sum_to(grad, shape):
    """Sum `grad` over the dimensions that broadcasting added or stretched, to get back `shape`."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def numerical_gradient(f, x, *, eps=1e-6):
    """dL/dx by central differences, (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for each entry i, in float64.

    f: a function of an array shaped like x, returning a scalar. Costs 2 x.size calls of f.
    The error is O(eps²) from the approximation plus O(machine epsilon / eps) from rounding: eps = 1e-6 balances them.
    """
    x = as_float_array(x, "x", min_ndim=0).astype(np.float64)  # a copy we may perturb
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + eps
        f_plus = float(f(x))
        x[i] = original - eps
        f_minus = float(f(x))
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def gradient_check(f, x, grad, *, eps=1e-6):
    """Largest |grad - numerical gradient| relative to the largest gradient entry; ~1e-8 or less when grad is right.

    f: scalar function of x. grad: your analytic dL/dx, shaped like x. Relative to the largest entry, not
    entry by entry: an entry that should be 0 (a masked key) computes as ~1e-11 by finite differences.
    """
    grad = has_shape(as_float_array(grad, "grad", min_ndim=0), "grad", np.shape(x), "x.shape")
    numeric = numerical_gradient(f, x, eps=eps)
    largest = max(np.abs(grad).max(initial=0), np.abs(numeric).max(initial=0), np.finfo(np.float64).tiny)
    return float(np.abs(grad - numeric).max(initial=0) / largest)
