"""Checkers for the exercises of chapter 7 (PyTorch's attention tools).

    check_mha_mask(fn)          fn(allowed) -> attn_mask for torch.nn.MultiheadAttention
    check_cached_attention(fn)  fn(q, k, v) -> causal attention of the LAST n_q positions, with
                                F.scaled_dot_product_attention (n_q <= n_k, as when decoding with a cache)
    check_capture_weights(fn)   fn(encoder, x) -> per-layer, per-head weights of a torch.nn.TransformerEncoder,
                                captured with forward hooks
    check_weights_shape(weights_shape)  predict: the shape of nn.MultiheadAttention's weights, all defaults
    check_mha_params(fn)        derive: fn(embed_dim, num_heads, kdim, vdim) -> its learned parameters
    check_encode_padded(fn)     hard: fn(layer, x, lengths) -> a padded batch through nn.TransformerEncoderLayer

torch is imported inside the checkers, so that `import attn_course.exercises` stays NumPy-only. The
references: to_mha_mask, cached_attention (attn_course.nn's causal attention, aligned bottom right) and
capture_attention (attn_course.hooks.record_attention). Building a module draws its initial weights
from torch's global generator: the checkers build theirs under fork_rng, leaving the learner's alone.
"""
import numpy as np

from .feedback import Feedback, call, checker, fail, not_written
from .registry import Exercise, Mistake


# ---------------------------------------------------------------------------------------------------
# Exercise 7.1: from "True = may attend" to nn.MultiheadAttention's "True = may NOT attend".

def _mask_case():
    """(3, 5) allowed-mask: bottom-right causal, and key 1 is padding. Not symmetric, not square."""
    from ..nn import causal_mask
    allowed = causal_mask(3, 5)
    allowed[:, 1] = False
    return allowed


def to_mha_mask(allowed):
    """The reference: nn.MultiheadAttention's bool attn_mask, True = may NOT attend."""
    return ~allowed


@checker
def check_mha_mask(fn):
    """Check `fn(allowed) -> attn_mask` for torch.nn.MultiheadAttention.

    allowed: (n_q, n_k) bool tensor, True = may attend (attn_course's and F.scaled_dot_product_attention's
    convention). The answer may be a bool tensor (True = may NOT attend) or a float tensor that is added
    to the scores (0 where allowed, -inf where not). The checker finally runs nn.MultiheadAttention with
    it and compares with attn_course.nn.MultiHeadAttention given `allowed`.
    """
    import torch
    from ..nn import MultiHeadAttention
    allowed = _mask_case()
    n_q, n_k = allowed.shape
    result, error = call(fn, allowed.clone())
    if error is not None:
        return error
    fix = "~allowed (a bool mask, True = may NOT attend)"
    if not isinstance(result, torch.Tensor):
        return fail(f"expected a torch.Tensor (bool, or float added to the scores), got {type(result).__name__}: look "
                    "at the type you return", "nn.MultiheadAttention takes tensors", fix)
    if tuple(result.shape) == (n_k, n_q):
        return fail(f"the mask has shape {tuple(result.shape)} = (n_k, n_q): it is transposed. Look at which axis "
                    "holds the queries", f"both conventions put one row per query: (n_q, n_k) = {(n_q, n_k)}", fix)
    if tuple(result.shape) != (n_q, n_k):
        return fail(f"the mask has shape {tuple(result.shape)}, expected (n_q, n_k) = {(n_q, n_k)}: look at the axes "
                    "you keep", "the mask has the shape of the weights", fix)
    if result.dtype == torch.bool:
        if torch.equal(result, allowed):
            return fail("this is the mask unchanged: look at what True means to nn.MultiheadAttention",
                        "it reads True as 'may NOT attend', the opposite of attn_course and "
                        "F.scaled_dot_product_attention", "invert it: " + fix)
        if not torch.equal(result, to_mha_mask(allowed)):
            return fail("this bool mask is neither the mask nor its inverse: look at which pairs you mark",
                        "True must mark exactly the pairs that may NOT attend", fix)
    elif result.is_floating_point():
        r = result.detach().cpu()
        if torch.equal(r, allowed.float()) or torch.equal(r, (~allowed).float()):
            return fail("a float mask of 0s and 1s hides nothing: look at what nn.MultiheadAttention does with a float "
                        "mask", "a float mask is ADDED to the scores; adding 1 only nudges a weight",
                        "put 0 where a query may attend and -inf where it may not, or return " + fix)
        hidden, shown = r[~allowed], r[allowed]
        if torch.equal(torch.isneginf(r), allowed):
            return fail("the float mask is inverted: the allowed keys are hidden. Look at where the -inf goes",
                        "-inf goes where a query may NOT attend, 0 where it may", fix)
        if not (shown == 0).all():
            return fail("the float mask changes the weights of the keys that are allowed: look at its value there",
                        "a float mask is added to the scores: it must be 0 where a query may attend", fix)
        if not (hidden < -1e4).all():
            return fail(f"the hidden entries are {sorted(set(hidden.tolist()))}, which hides nothing: look at how far "
                        "they push a score", "a float mask must hide a key with -inf (or a very large negative number)",
                        fix)
    else:
        return fail(f"nn.MultiheadAttention takes a bool or a float mask, got dtype {result.dtype}: look at how you "
                    "invert", "1 - allowed on a bool tensor makes integers", fix)

    # The proof: the same layer, the two conventions, the same weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
        q, kv = torch.randn(1, n_q, 8), torch.randn(1, n_k, 8)
        ours = MultiHeadAttention.from_torch(mha)
    with torch.no_grad():
        _, w_torch = mha(q, kv, kv, attn_mask=result, average_attn_weights=False)
        _, w_ours = ours(q, kv, mask=allowed)
    if not torch.allclose(w_torch, w_ours, atol=1e-6):
        return fail("nn.MultiheadAttention with your mask gives other weights than attn_course with the original "
                    "one: look at which pairs your mask hides", fix)
    kind = "~allowed" if result.dtype == torch.bool else "0 / -inf, added to the scores"
    return Feedback(True, f"correct ({kind}): nn.MultiheadAttention now gives the same weights as attn_course "
                          "with True = may attend")


# ---------------------------------------------------------------------------------------------------
# Exercise 7.2: causal attention for the last n_q positions of n_k (decoding with a cache).

_CACHE_CASES = [(1, 6), (3, 6), (5, 6), (4, 4)]  # (n_q, n_k); the last is the square case


def _cache_case(n_q, n_k, seed):
    import torch
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 2, n, 4, generator=g) for n in (n_q, n_k, n_k))  # (batch, heads, n, d)


def _cache_mistakes():
    """(name, output for (q, k, v), message): the typical wrong answers, each recognised on every case at once."""
    import torch
    import torch.nn.functional as F
    from ..nn import causal_mask

    def masked(make):
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=make(q.shape[-2], k.shape[-2]))

    fix = ("attn_mask=causal_mask(n_q, n_k) (or torch.nn.attention.bias.causal_lower_right(n_q, n_k)): query i "
           "may see keys j <= i + n_k - n_q")
    return [
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
         ("the one new token sees only the first cached key: is_causal=True puts the diagonal at the TOP-LEFT. Look "
          "at which positions the queries are", "here the queries are the LAST n_q positions", fix)),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
         ("no mask is applied: every query also sees the keys after it. Look at the mask",
          "query i may see keys up to its own position", fix)),
        (masked(lambda n_q, n_k: ~causal_mask(n_q, n_k)),
         ("the mask is inverted: each query sees only the future. Look at what True means",
          "in F.scaled_dot_product_attention True means MAY attend (nn.MultiheadAttention's is the opposite)", fix)),
        (masked(lambda n_q, n_k: torch.ones(n_q, n_k, dtype=torch.bool).tril(diagonal=n_q - n_k)),
         ("the diagonal is shifted the wrong way, tril(diagonal=n_q - n_k): look at the last query",
          "the last query must see all n_k keys", "the offset is n_k - n_q: " + fix)),
    ]


def cached_attention(q, k, v):
    """The reference: causal attention with the diagonal aligned to the bottom right (attn_course.nn's)."""
    from ..nn import scaled_dot_product_attention
    return scaled_dot_product_attention(q, k, v, causal=True)[0]


@checker
def check_cached_attention(fn):
    """Check `fn(q, k, v) -> output` for q: (..., n_q, d), k, v: (..., n_k, d) with n_q <= n_k, where the n_q
    queries are the LAST n_q of the n_k positions: query i may attend to keys j <= i + n_k - n_q.

    Tried on (n_q, n_k) = (1, 6) (one new token, five cached), (3, 6), (5, 6) and (4, 4)."""
    import torch
    cases, results = [_cache_case(n_q, n_k, seed=n_q * 10 + n_k) for n_q, n_k in _CACHE_CASES], []
    for (n_q, n_k), (q, k, v) in zip(_CACHE_CASES, cases):
        result, error = call(fn, q.clone(), k.clone(), v.clone())
        if error is not None:
            if "is_causal" in error.message or "attn_mask" in error.message:
                return fail(error.message + ": look at the arguments you pass",
                            "pass either is_causal or attn_mask, not both", "attn_mask=causal_mask(n_q, n_k) alone")
            return error
        if isinstance(result, tuple):
            return fail("expected the output tensor alone, got a tuple: look at your return line",
                        "F.scaled_dot_product_attention returns no weights", "return the output tensor")
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(q.shape[:-1]) + (v.shape[-1],):
            shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
            return fail(f"for n_q = {n_q}, n_k = {n_k} expected an output of shape "
                        f"{tuple(q.shape[:-1]) + (v.shape[-1],)}, got {shape}: look at what you return",
                        "one output per query, of the size of a value")
        results.append(result)

    def same(a, b):  # a query that sees no key gives 0 or NaN depending on the backend: compare both as 0
        return torch.allclose(torch.nan_to_num(a), torch.nan_to_num(b), atol=1e-5)

    wrong = [i for i, (result, (q, k, v)) in enumerate(zip(results, cases))
             if not same(result, cached_attention(q, k, v))]
    if not wrong:
        return Feedback(True, "correct: the diagonal is aligned to the bottom right, so one new token sees every "
                              "cached key, and n_q = n_k is ordinary causal attention")
    n_q, n_k = _CACHE_CASES[wrong[0]]
    where = f"with n_q = {n_q} and n_k = {n_k}:"
    for mistake, (message, *hints) in _cache_mistakes():
        if all(same(result, mistake(*case)) for result, case in zip(results, cases)):
            return fail(f"{where} {message}", *hints)
    if not torch.isfinite(results[wrong[0]]).all():
        return fail(f"{where} the output contains NaN: some query may attend to no key. Look at the mask",
                    f"query i may see keys j <= i + n_k - n_q = i + {n_k - n_q}")
    return fail(f"{where} the output differs from causal attention: look at the mask and the scale",
                f"query i sees keys j <= i + n_k - n_q = i + {n_k - n_q}", "attn_mask=causal_mask(n_q, n_k)")


# ---------------------------------------------------------------------------------------------------
# Exercise 7.3: capture the weights of every layer of a torch.nn.TransformerEncoder with hooks.

def _encoder(seed=0, d_model=8, n_heads=2, n_layers=2):
    import torch
    from torch import nn
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=16, dropout=0.0, batch_first=True)
        encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False).eval()
        x = torch.randn(3, 5, d_model)  # (batch, n, d_model)
    return encoder, x


def _reference_weights(encoder, x):
    """Per layer (batch, heads, n, n), computed without hooks: each layer's self-attention on its input."""
    import torch
    from ..nn import MultiHeadAttention
    weights = []
    with torch.no_grad(), torch.random.fork_rng(devices=[]):  # from_torch builds (and initialises) a module
        for layer in encoder.layers:
            attention_input = layer.norm1(x) if layer.norm_first else x
            weights.append(MultiHeadAttention.from_torch(layer.self_attn)(attention_input)[1])
            x = layer(x)
    return weights


def _hooks_left(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def capture_attention(encoder, x):
    """The reference: each layer's weights, recorded by the package's hooks (attn_course.hooks)."""
    import torch
    from ..hooks import record_attention
    with record_attention(encoder) as weights, torch.no_grad():
        encoder(x)
    return [w[0] for w in weights.values()]


@checker
def check_capture_weights(fn):
    """Check `fn(encoder, x) -> list of tensors`, one per layer of the torch.nn.TransformerEncoder `encoder`
    (batch_first), each (batch, heads, n, n): the attention weights of that layer's self-attention, for input
    x: (batch, n, d_model). Hooks must be removed before fn returns."""
    import torch
    encoder, x = _encoder()
    n_layers, n_heads = len(encoder.layers), encoder.layers[0].self_attn.num_heads
    batch, n = x.shape[:2]
    result, error = call(fn, encoder, x.clone())
    left = _hooks_left(encoder)
    pre_hook = ("a forward pre-hook on each layer.self_attn, registered with with_kwargs=True, that sets "
                "kwargs['need_weights'] = True and kwargs['average_attn_weights'] = False")
    if error is not None:
        if "NoneType" in error.message:
            return fail(error.message + ": the hook saw weights = None. Look at how the layer calls its attention",
                        "TransformerEncoderLayer calls self_attn(..., need_weights=False)", pre_hook)
        return error
    if left:
        return fail(f"{left} hook(s) are still registered after your function returned: look at the end of your "
                    "function", "left in place they run on every later call",
                    "keep the handles and call handle.remove() on each")
    if isinstance(result, torch.Tensor):
        return fail("expected a list with one tensor per layer, got one tensor: look at what you return",
                    "return [w_layer0, w_layer1]")
    try:
        result = list(result)
    except TypeError:
        return fail(f"expected a list with one tensor per layer, got {type(result).__name__}: look at what you return",
                    "return [w_layer0, w_layer1]")
    if not result:
        return fail("nothing was captured: look at when you register the hooks and what you return",
                    "register them on each layer.self_attn BEFORE calling the encoder", "return the list they fill")
    if any(w is None for w in result):
        return fail("the captured weights are None: look at how the layer calls its attention",
                    "TransformerEncoderLayer calls self_attn with need_weights=False", pre_hook)
    if not all(isinstance(w, torch.Tensor) for w in result):
        return fail(f"each captured item must be a tensor of weights, got {[type(w).__name__ for w in result]}: look "
                    "at what your hook keeps", "self_attn returns (output, weights): keep output[1]")
    if len(result) != n_layers:
        shapes = [tuple(w.shape) for w in result]
        if all(s == tuple(x.shape) for s in shapes):
            return fail(f"expected one tensor per layer ({n_layers}), got {len(result)} of shapes {shapes}: these look "
                        "like the layers' outputs. Look at which module you hook", "hook layer.self_attn, not the "
                        "layer", "layer.self_attn.register_forward_hook(...), keeping output[1]")
        return fail(f"expected one tensor per layer ({n_layers}), got {len(result)} of shapes {shapes}: look at which "
                    "layers you hook", "every layer of encoder.layers, once each")
    expected_shape = (batch, n_heads, n, n)
    for i, w in enumerate(result):
        shape = tuple(w.shape)
        if shape == (batch, n, n):
            return fail(f"layer {i}: shape {shape} is the MEAN over the heads: look at the arguments of self_attn",
                        f"one pattern per head is {expected_shape}", "set kwargs['average_attn_weights'] = False in "
                        "the pre-hook")
        if shape == tuple(x.shape):
            return fail(f"layer {i}: shape {shape} is (batch, n, d_model), a layer's output or the attended values, "
                        "not the weights: look at what your hook keeps", "self_attn returns (output, weights)",
                        "hook layer.self_attn and keep output[1]")
        if shape != expected_shape:
            return fail(f"layer {i}: expected shape (batch, heads, n, n) = {expected_shape}, got {shape}: look at what "
                        "your hook keeps", "keep output[1], with average_attn_weights=False")
    expected = _reference_weights(encoder, x)
    got = [w.detach().float() for w in result]
    if all(torch.allclose(g, e, atol=1e-5) for g, e in zip(got, expected)):
        # a second input: the function must capture afresh, not return what an earlier call left behind
        x2 = torch.flip(x, dims=[1])
        result2, error = call(fn, encoder, x2)
        if error is None and all(torch.allclose(w.detach().float(), e, atol=1e-5)
                                 for w, e in zip(result2, _reference_weights(encoder, x2))) and len(result2) == n_layers:
            return Feedback(True, f"correct: {n_layers} layers x {n_heads} heads of weights, each row a distribution "
                                  "over the keys, and no hook left behind")
        return fail("right on the first input but not on a second one: look at where your list is created",
                    "weights left from an earlier call are returned again", "collect into a fresh list on every call")
    if all(torch.allclose(g, e, atol=1e-5) for g, e in zip(got, reversed(expected))):
        return fail("the layers are in reverse order: look at the order you collect them in",
                    "return the first layer's weights first")
    return fail("the captured tensors differ from each layer's self-attention weights on the input it receives: "
                "look at which modules you hook", "hook every layer's self_attn, in order, in eval mode")


def _capture_mistake(pre_hook=True, average=False, keep="output[1]", remove=True):
    """A capture_attention with hooks on each layer.self_attn, making the mistakes the flags name."""
    pre = ("    def pre(module, args, kwargs):\n        kwargs['need_weights'] = True\n"
           + ("" if average else "        kwargs['average_attn_weights'] = False\n") + "        return args, kwargs\n\n")
    return ("import torch\n\ndef capture_attention(encoder, x):\n    captured, handles = [], []\n\n"
            + (pre if pre_hook else "") + "    for layer in encoder.layers:\n"
            + ("        handles.append(layer.self_attn.register_forward_pre_hook(pre, with_kwargs=True))\n"
               if pre_hook else "")
            + f"        handles.append(layer.self_attn.register_forward_hook(lambda m, inputs, output: captured.append("
              f"{keep})))\n    with torch.no_grad():\n        encoder(x)\n"
            + ("    for h in handles:\n        h.remove()\n" if remove else "") + "    return captured\n")


def _cached_mistake(call):
    return ("import torch\nimport torch.nn.functional as F\nfrom attn_course.nn import causal_mask\n\n"
            f"def cached_attention(q, k, v):\n    return {call}\n")


def _mha_mask_mistake(body):
    return f"import torch\n\ndef to_mha_mask(allowed):\n    return {body}\n"


# ---------------------------------------------------------------------------------------------------
# Exercise 7.4 (predict): the shape of nn.MultiheadAttention's weights, with its defaults

def _default_weights_shape():
    """The shape of the weights nn.MultiheadAttention(8, 2) returns, all defaults (batch_first=False,
    need_weights=True, average_attn_weights=True), for x of shape (5, 3, 8)."""
    import torch
    with torch.random.fork_rng(devices=[]):
        mha = torch.nn.MultiheadAttention(embed_dim=8, num_heads=2).double().eval()
        x = torch.randn(5, 3, 8, dtype=torch.float64)
    with torch.no_grad():
        return tuple(mha(x, x, x)[1].shape)


def __getattr__(name):
    # WEIGHTS_SHAPE, the reference prediction, is measured with torch when first asked for: importing
    # attn_course.exercises must not import torch.
    if name == "WEIGHTS_SHAPE":
        return _default_weights_shape()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@checker
def check_weights_shape(weights_shape):
    """Check a prediction `weights_shape`: the shape of the weights that torch.nn.MultiheadAttention(embed_dim=8,
    num_heads=2), with all its defaults, returns for x of shape (5, 3, 8) in mha(x, x, x)."""
    if weights_shape is Ellipsis:
        return not_written("your prediction `weights_shape`", "the `...` after `weights_shape =`")
    try:
        got = tuple(int(n) for n in weights_shape)
    except (TypeError, ValueError):
        return Feedback(False, f"write the prediction as a tuple of whole numbers, got {weights_shape!r}")
    right = _default_weights_shape()
    if got == right:
        return Feedback(True, f"right: {right}. With batch_first=False the input is (n, batch, d) = (5, 3, 8), but "
                              "the weights come back batch first, (batch, n_q, n_k), averaged over the 2 heads")
    if got == (5, 3, 5):
        return Feedback(False, f"{got} puts the batch second, like the input: is that where the weights keep it?",
                        hints=("only the inputs and the output follow batch_first; the weights do not",
                               f"the weights are (batch, n_q, n_k) = {right}"))
    if len(got) == 4:
        return Feedback(False, f"{got} has a heads axis: what does average_attn_weights=True, the default, do?",
                        hints=("by default the layer returns the MEAN of its heads' weights",
                               f"(batch, n_q, n_k) = {right}"))
    if got in ((3, 8, 8), (5, 8, 8), (8, 5, 5)):
        return Feedback(False, f"{got}: the weights have one row per query and one column per key; which axis "
                               "of x counts the positions?",
                        hints=("with batch_first=False, x is (n, batch, d_model): 5 positions, a batch of 3",
                               f"(batch, n_q, n_k) = {right}"))
    return Feedback(False, f"{got} is not the shape: which axes does x (5, 3, 8) have, and which do the weights?",
                    hints=("x is (n, batch, d_model) with batch_first=False; the weights are averaged over heads",
                           f"(batch, n_q, n_k) = {right}"))


# ---------------------------------------------------------------------------------------------------
# Exercise 7.5 (derive): the parameters of nn.MultiheadAttention

def mha_params(embed_dim, num_heads, kdim, vdim):
    """The reference: W_Q (embed_dim x embed_dim), W_K (embed_dim x kdim), W_V (embed_dim x vdim), their 3
    embed_dim biases, and the output projection (embed_dim x embed_dim, with a bias). num_heads does not
    enter: the heads share out the embed_dim outputs of each projection."""
    return embed_dim * (embed_dim + kdim + vdim) + 3 * embed_dim + embed_dim * embed_dim + embed_dim


def _torch_mha_params(embed_dim, num_heads, kdim, vdim):
    import torch
    with torch.random.fork_rng(devices=[]):  # building the layer draws its initial weights
        mha = torch.nn.MultiheadAttention(embed_dim, num_heads, kdim=kdim, vdim=vdim)
    return sum(p.numel() for p in mha.parameters())


@checker
def check_mha_params(fn):
    """Check `fn(embed_dim, num_heads, kdim, vdim) -> int`: the learned parameters of
    torch.nn.MultiheadAttention(embed_dim, num_heads, kdim=kdim, vdim=vdim) (biases on, the default), checked
    against PyTorch's own count."""
    for e, h, kd, vd in [(8, 2, 8, 8), (64, 8, 64, 64), (32, 4, 16, 24), (512, 8, 768, 256)]:
        answer, error = call(fn, e, h, kd, vd)
        if error is not None:
            return error
        case = f"embed_dim = {e}, num_heads = {h}, kdim = {kd}, vdim = {vd}"
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"{case}: return a number, got {type(answer).__name__}")
        right = _torch_mha_params(e, h, kd, vd)
        if got == right:
            continue
        if got == 4 * e * e + 4 * e:
            return Feedback(False, f"{case}: you returned {got:g}, which ignores kdim and vdim: what shape does the "
                                   "key projection have when the keys have kdim features?",
                            hints=("W_K maps the kdim features of a key to embed_dim: embed_dim x kdim weights",
                                   "e (e + kdim + vdim) + 3 e for the input projections, e^2 + e for the output"))
        if np.isclose(got, right + (h - 1) * (e * (e + kd + vd) + e * e)) or np.isclose(got, h * right):
            return Feedback(False, f"{case}: you returned {got:g}, which grows with the number of heads: does each "
                                   "head have its own embed_dim-wide projections?",
                            hints=("each head takes a slice of embed_dim / num_heads outputs of ONE projection",
                                   "num_heads does not enter the count"))
        if got == right - 4 * e:
            return Feedback(False, f"{case}: you returned {got:g}, {4 * e} short: what else do the four "
                                   "projections learn besides their weight matrices?",
                            hints=("bias=True is the default: one bias per output of each projection",
                                   "3 embed_dim input biases and embed_dim output biases"))
        return Feedback(False, f"{case}: expected {right}, got {got:g}",
                        hints=("count W_Q, W_K, W_V, their biases, and out_proj with its bias",
                               "e (e + kdim + vdim) + 3 e + e^2 + e"))
    return Feedback(True, "correct: embed_dim (embed_dim + kdim + vdim) + 3 embed_dim for the input projections and "
                          "embed_dim² + embed_dim for the output; the number of heads changes how the projections are "
                          "cut, not how many numbers they hold")


# ---------------------------------------------------------------------------------------------------
# Exercise 7.6 (hard): a padded batch through nn.TransformerEncoderLayer

def encode_padded(layer, x, lengths):
    """The reference: layer(x) for the padded batch x: (batch, n, d_model) whose sequence b has lengths[b] real
    tokens, with the key padding mask in nn's convention (True = padding, may NOT be attended to)."""
    import torch
    padding = torch.arange(x.shape[1], device=x.device) >= torch.as_tensor(lengths, device=x.device)[:, None]
    return layer(x, src_key_padding_mask=padding)


def _padded_variant(layer, x, lengths, how):
    import torch
    real = torch.arange(x.shape[1]) < torch.as_tensor(lengths)[:, None]
    if how == "none":
        return layer(x)
    if how == "inverted":
        return layer(x, src_key_padding_mask=real)
    if how == "off by one":
        return layer(x, src_key_padding_mask=torch.arange(x.shape[1]) > torch.as_tensor(lengths)[:, None])
    raise ValueError(how)


@checker
def check_encode_padded(fn):
    """Check `fn(layer, x, lengths) -> (batch, n, d_model)`: a torch.nn.TransformerEncoderLayer (batch_first=True,
    no dropout) run on the padded batch x, sequence b having lengths[b] real tokens followed by padding. On the
    real tokens the result must be what the layer gives each sequence alone, without its padding."""
    import torch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(76)
        layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0,
                                                 batch_first=True).double().eval()
        x = torch.randn(3, 6, 8, dtype=torch.float64)
    lengths = [6, 4, 2]
    with torch.no_grad():
        result, error = call(fn, layer, x.clone(), list(lengths))
        if error is not None:
            return error
        alone = [layer(x[b:b + 1, :n])[0] for b, n in enumerate(lengths)]            # each (n_b, d)
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(x.shape):
            shape = tuple(result.shape) if hasattr(result, "shape") else type(result).__name__
            return Feedback(False, f"expected the layer's output, shape (batch, n, d_model) = {tuple(x.shape)}, "
                                   f"got {shape}")
        got = result.double()
        wrong = [b for b, n in enumerate(lengths) if not torch.allclose(got[b, :n], alone[b], rtol=0, atol=1e-9)]
        if not wrong:
            return Feedback(True, "correct: with src_key_padding_mask True at the padding, every real token gives what "
                                  "it gives without any padding; the padded positions' outputs are never used")
        b = wrong[0]
        case = f"sequence {b} ({lengths[b]} real tokens of {x.shape[1]})"
        if not torch.all(torch.isfinite(got[b, :lengths[b]])):
            return Feedback(False, f"{case}: the real tokens' outputs are NaN: they may attend to no key at all. "
                                   "Which convention does src_key_padding_mask use?",
                            hints=("nn's masks mean True = may NOT attend: True must mark the padding",
                                   "padding = torch.arange(n) >= lengths[:, None]"))
        for how, message, hints in [
            ("none", "the real tokens attend to the padding too: nothing tells the layer which keys are padding",
             ("pass a key padding mask: src_key_padding_mask, (batch, n)",
              "layer(x, src_key_padding_mask=torch.arange(n) >= lengths[:, None])")),
            ("inverted", "the real tokens attend to the padding ONLY: which convention does "
                         "src_key_padding_mask use?",
             ("nn's masks mean True = may NOT attend: True must mark the padding",
              "padding = torch.arange(n) >= lengths[:, None], not <")),
            ("off by one", "one padding position is still attended to: where does the padding start?",
             ("sequence b's real tokens are positions 0 .. lengths[b] - 1", "padding = arange(n) >= lengths[:, None]")),
        ]:
            try:
                variant = _padded_variant(layer, x, lengths, how)
            except Exception:  # noqa: BLE001: a variant the layer refuses does not match
                continue
            if torch.allclose(got[b, :lengths[b]], variant[b, :lengths[b]], rtol=0, atol=1e-9, equal_nan=True):
                return Feedback(False, f"{case}: {message}", hints=hints)
        return Feedback(False, f"{case}: the real tokens' outputs differ from the sequence run alone",
                        hints=("run each sequence alone, layer(x[b:b + 1, :lengths[b]]), and compare",
                               "layer(x, src_key_padding_mask=torch.arange(n) >= lengths[:, None])"))


EXERCISES = [
    Exercise(checker=check_mha_mask, reference="attn_course.exercises.tools.to_mha_mask",
             chapter="07_tools", solution="to_mha_mask", level="debug", mistakes=(
                 Mistake(_mha_mask_mistake("allowed"), "the mask unchanged"),                  # mask not inverted
                 Mistake(_mha_mask_mistake("(~allowed).T"), "transposed"),
                 Mistake(_mha_mask_mistake("torch.zeros(allowed.shape).masked_fill(allowed, float('-inf'))"),
                         "the float mask is inverted"),
                 Mistake(_mha_mask_mistake("1.0 - allowed.float()"), "hides nothing"),
                 Mistake(_mha_mask_mistake("torch.zeros(allowed.shape).masked_fill(~allowed, -1.0)"), "hidden entries"),
                 Mistake(_mha_mask_mistake("torch.ones(allowed.shape).masked_fill(~allowed, float('-inf'))"),
                         "changes the weights of the keys that are allowed"),
                 Mistake(_mha_mask_mistake("1 - allowed.int()"), "int32"),
                 Mistake(_mha_mask_mistake("(~allowed).numpy()"), "expected a torch.Tensor"),
                 Mistake(_mha_mask_mistake("~allowed[:, :4]"), "shape (3, 4)"),
                 Mistake(_mha_mask_mistake("torch.zeros_like(allowed)"), "neither the mask nor its inverse"),
             )),
    Exercise(checker=check_cached_attention, reference="attn_course.exercises.tools.cached_attention",
             chapter="07_tools", solution="cached_attention", level="debug", mistakes=(
                 Mistake(_cached_mistake("F.scaled_dot_product_attention(q, k, v, is_causal=True)"), "TOP-LEFT"),
                 Mistake(_cached_mistake("F.scaled_dot_product_attention(q, k, v)"), "no mask"),
                 Mistake(_cached_mistake("F.scaled_dot_product_attention(q, k, v, attn_mask=~causal_mask(q.shape[-2], "
                                         "k.shape[-2]))"), "the mask is inverted"),
                 Mistake(_cached_mistake("F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(q.shape[-2], "
                                         "k.shape[-2], dtype=torch.bool).tril(diagonal=q.shape[-2] - k.shape[-2]))"),
                         "shifted the wrong way"),
                 Mistake(_cached_mistake("(F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(q.shape[-2], "
                                         "k.shape[-2])), None)"), "got a tuple"),
                 Mistake(_cached_mistake("F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(q.shape[-2], "
                                         "k.shape[-2]), scale=1.0)"), "differs from causal attention"),
             )),
    Exercise(checker=check_capture_weights, reference="attn_course.exercises.tools.capture_attention",
             chapter="07_tools", solution="capture_attention", level="implement", mistakes=(
                 Mistake(_capture_mistake(pre_hook=False, keep="output[1].detach()"), "NoneType"),
                 Mistake(_capture_mistake(pre_hook=False), "the captured weights are None"),
                 Mistake(_capture_mistake(average=True), "MEAN over the heads"),
                 Mistake(_capture_mistake(remove=False), "still registered"),
                 Mistake(_capture_mistake(keep="output[0]"), "(batch, n, d_model)"),
                 Mistake(_capture_mistake(keep="output[1]").replace("return captured", "return captured[::-1]"),
                         "reverse order"),
                 Mistake(_capture_mistake().replace("return captured", "return captured[0]"),
                         "got one tensor"),
             )),
    Exercise(checker=check_weights_shape, reference="attn_course.exercises.tools.WEIGHTS_SHAPE",
             chapter="07_tools", solution="weights_shape", level="predict", points=1,
             mistakes=(Mistake("weights_shape = (5, 3, 5)", "puts the batch second"),
                       Mistake("weights_shape = (3, 2, 5, 5)", "has a heads axis"),
                       Mistake("weights_shape = (5, 8, 8)", "which axis of x counts the positions"))),
    Exercise(checker=check_mha_params, reference="attn_course.exercises.tools.mha_params",
             chapter="07_tools", solution="mha_params", level="derive", points=2,
             mistakes=(Mistake("def mha_params(e, h, kdim, vdim):\n    return 4 * e * e + 4 * e", "ignores kdim and vdim"),
                       Mistake("def mha_params(e, h, kdim, vdim):\n"
                               "    return h * (e * (e + kdim + vdim) + 3 * e + e * e + e)", "grows with the number of heads"),
                       Mistake("def mha_params(e, h, kdim, vdim):\n    return e * (e + kdim + vdim) + e * e",
                               "besides their weight matrices"))),
    Exercise(checker=check_encode_padded, reference="attn_course.exercises.tools.encode_padded",
             chapter="07_tools", solution="encode_padded_batch", level="hard", points=3,
             mistakes=(Mistake("def encode_padded_batch(layer, x, lengths):\n    return layer(x)",
                               "nothing tells the layer which keys are padding"),
                       Mistake("def encode_padded_batch(layer, x, lengths):\n"
                               "    real = torch.arange(x.shape[1]) < torch.tensor(lengths)[:, None]\n"
                               "    return layer(x, src_key_padding_mask=real)", "convention does src_key_padding_mask use"),
                       Mistake("def encode_padded_batch(layer, x, lengths):\n"
                               "    pad = torch.arange(x.shape[1]) > torch.tensor(lengths)[:, None]\n"
                               "    return layer(x, src_key_padding_mask=pad)", "where does the padding start"))),
]
