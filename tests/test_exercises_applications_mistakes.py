"""Chapter 6's checkers name more of the mistakes learners make (each with its own message), and still
accept right answers written in other ways."""
import numpy as np
import pytest

from attn_course.exercises import check_alignment_accuracy, check_attention_pooling, check_rollout


def _says(feedback, text):
    assert not feedback, feedback
    assert text in feedback.message, feedback.message


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------
# Alignment accuracy

def accuracy_over_entries(weights, truth):
    return np.take_along_axis(truth, weights.argmax(-1)[..., None], -1).sum() / truth.size


def accuracy_by_mass(weights, truth):
    return ((weights * truth).sum(axis=-1) > 0.5).mean()


@pytest.mark.parametrize("fn, says", [
    (accuracy_over_entries, "divide by the number of queries (4)"),
    (accuracy_by_mass, "TOP key (argmax of its row)"),
])
def test_alignment_mistakes_are_named(fn, says):
    _says(check_alignment_accuracy(fn), says)


def test_alignment_accepts_a_loop():
    def loop(weights, truth):
        rows = weights.reshape(-1, weights.shape[-1]), truth.reshape(-1, truth.shape[-1])
        return np.mean([t[np.argmax(w)] for w, t in zip(*rows)])
    feedback = check_alignment_accuracy(loop)
    assert feedback and "works on batches" in feedback.message


# ---------------------------------------------------------------------------------------------------
# Attention pooling

def pool_mask_multiplied(h, u, mask):
    weights = _softmax((h @ u) * mask)
    return np.einsum("bn,bnd->bd", weights, h), weights


def pool_pair_swapped(h, u, mask):
    weights = _softmax(np.where(mask, h @ u, -np.inf))
    return weights, np.einsum("bn,bnd->bd", weights, h)


@pytest.mark.parametrize("fn, says", [
    (pool_mask_multiplied, "multiplied by the mask, which sets them to 0, not -inf"),
    (pool_pair_swapped, "the pair is in the wrong order"),
])
def test_pooling_mistakes_are_named(fn, says):
    _says(check_attention_pooling(fn), says)


def test_pooling_accepts_a_large_negative_instead_of_minus_infinity():
    def pool(h, u, mask):
        weights = _softmax(np.where(mask, h @ u, -1e30))
        return (weights[..., None] * h).sum(axis=1), weights
    assert check_attention_pooling(pool)


# ---------------------------------------------------------------------------------------------------
# Attention rollout

def _chain(layers, combine=np.matmul):
    result = layers[0]
    for layer in layers[1:]:
        result = combine(layer, result)
    return result


def rollout_transposed(weights):
    return _chain(0.5 * (weights.mean(axis=1) + np.eye(weights.shape[-1]))).T


def rollout_elementwise(weights):
    return _chain(0.5 * (weights.mean(axis=1) + np.eye(weights.shape[-1])), np.multiply)


def rollout_per_head(weights):
    per_head = 0.5 * (weights + np.eye(weights.shape[-1]))        # (layers, heads, n, n)
    return np.mean([_chain(per_head[:, h]) for h in range(weights.shape[1])], axis=0)


def rollout_heads_summed(weights):
    a = weights.sum(axis=1) + np.eye(weights.shape[-1])
    return _chain(a / a.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("fn, says", [
    (rollout_transposed, "you returned the transpose"),
    (rollout_elementwise, "multiplied element by element"),
    (rollout_per_head, "each head was rolled out on its own"),
    (rollout_heads_summed, "the heads are summed, not averaged"),
])
def test_rollout_mistakes_are_named(fn, says):
    _says(check_rollout(fn), says)


def test_rollout_accepts_starting_from_the_identity():
    def rollout(weights):
        result = np.eye(weights.shape[-1])
        for layer in 0.5 * (weights.mean(axis=1) + np.eye(weights.shape[-1])):
            result = layer @ result
        return result
    assert check_rollout(rollout)
