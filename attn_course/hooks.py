"""Getting the attention weights out of a PyTorch model, with forward hooks.

    from attn_course import hooks            (imports torch; `import attn_course` alone does not)

    with hooks.record_attention(model) as weights:
        model(x)
    weights["blocks.0.attention"]            one tensor per call: (batch, heads, n_q, n_k)

A forward hook is a function PyTorch calls after a module's forward, with the module, its inputs and
its output; it can read the output without changing the model's code. Two kinds of module are recorded:

- attn_course.nn.MultiHeadAttention returns (output, weights): the hook keeps the weights.
- torch.nn.MultiheadAttention returns weights only when it is called with need_weights=True, and
  torch.nn.TransformerEncoderLayer calls it with need_weights=False (so that the fused kernels of
  F.scaled_dot_product_attention can run). A forward pre-hook therefore rewrites that keyword to True,
  with average_attn_weights=False (one pattern per head, not their mean), before the call.

Hooks also take a TransformerEncoderLayer off PyTorch's "fast path" (a fused C++ layer that never
calls self_attn at all, used in eval mode without autograd): the layer then runs its Python code, which
is what lets the hooks see anything. Every hook is removed when the `with` block ends.
"""
import contextlib

from torch import nn

from .nn import MultiHeadAttention


def attention_modules(model):
    """[(name, module)] for every attention module in `model` (ours and torch.nn.MultiheadAttention)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (MultiHeadAttention, nn.MultiheadAttention))]


@contextlib.contextmanager
def record_attention(model):
    """Record the attention weights of every attention module of `model` while the block runs.

    Yields a dict {module name: [weights of each call]}, each (batch, heads, n_q, n_k), detached.
    Raises ValueError when the model has no attention module to record."""
    modules = attention_modules(model)
    if not modules:
        raise ValueError(f"{type(model).__name__} has no attention module (attn_course.nn.MultiHeadAttention "
                         "or torch.nn.MultiheadAttention) to record")
    weights = {name: [] for name, _ in modules}
    handles = []
    try:
        for name, module in modules:
            if isinstance(module, nn.MultiheadAttention):
                handles.append(module.register_forward_pre_hook(_ask_for_weights, with_kwargs=True))
            handles.append(module.register_forward_hook(_keeper(weights[name])))
        yield weights
    finally:
        for handle in handles:
            handle.remove()


# forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal)
_POSITION = {"need_weights": 4, "average_attn_weights": 6}


def _ask_for_weights(module, args, kwargs):
    """Pre-hook of torch.nn.MultiheadAttention: return the weights, one pattern per head."""
    args = list(args)
    for name, value in (("need_weights", True), ("average_attn_weights", False)):
        if len(args) > _POSITION[name]:  # passed by position: replace it there
            args[_POSITION[name]] = value
        else:
            kwargs[name] = value
    return tuple(args), kwargs


def _keeper(store):
    def keep(module, args, output):
        store.append(output[1].detach())  # (batch, heads, n_q, n_k); output[0] is the attended values
    return keep
