"""The Transformers of chapters 6b, 6c and 6d: data, shapes, masks, errors, and the shipped weights.

The slow tests retrain each model from its seed (reverse: about 13 s, tales: about 30 s, masked: about 90 s
of CPU time on one core) and check that it does what the chapters say; another checks that the shipped
weights give the figures the chapters print.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

from attn_course import data, sequences

from conftest import notebook_output

torch = pytest.importorskip("torch")
from attn_course import evaluation, readout, training, transformer, viz  # noqa: E402  (needs torch)


def test_import_attn_course_alone_does_not_import_torch():
    code = "import sys, attn_course, attn_course.sequences, attn_course.exercises; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------------------------
# Data: reversal, tales, the induction probe

def test_reverse_split_reverses_and_holds_out():
    train, test = sequences.reverse_split(n_train=300, n_test=50, length=6, seed=3)
    assert train.source.shape == (300, 6) and test.target.shape == (50, 6) and train.source.dtype == np.int64
    assert (train.target == train.source[:, ::-1]).all() and (test.target == test.source[:, ::-1]).all()
    i, j = np.nonzero(test.alignment)
    assert (j == 5 - i).all() and len(i) == 6
    for source, target in zip(test.source, test.target):  # the alignment says where each target digit comes from
        assert (target == source[test.alignment.argmax(axis=1)]).all()
    assert not {s.tobytes() for s in train.source} & {s.tobytes() for s in test.source}
    assert np.array_equal(sequences.reverse_split(10, 5, seed=1)[1].source, sequences.reverse_split(10, 5, seed=1)[1].source)


def test_tales_parrot_repeats_what_was_said():
    words = sequences.tales(20, seed=4)
    assert all(w in sequences.TALE_VOCAB for w in words) and len(sequences.TALE_VOCAB) == len(set(sequences.TALE_VOCAB))
    text = " ".join(words)
    assert text.startswith("once ") and text.endswith("the end .")
    lines = [line.split() for line in text.replace(" . ", " .\n").splitlines()]
    said = [line for line in lines if line[1:3] == ["said", ":"]]
    echoed = [line for line in lines if line[:4] == ["the", "parrot", "said", ":"]]
    assert len(said) == len(echoed) > 20
    for person, parrot in zip(said, echoed):
        listed, echo = person[3:-1], parrot[4:-1]
        assert 3 <= len(listed) <= 9 and len(set(listed)) == len(listed)
        assert 2 * len(listed) <= len(echo) <= 4 * len(listed)
        start = listed.index(echo[0])
        assert echo == [listed[(start + k) % len(listed)] for k in range(len(echo))]
    train, test = sequences.tale_split(n_train=30, n_test=5, seed=2)
    assert train.dtype == np.int64 and sequences.as_text(test).startswith("once ")


def test_repeated_tokens_and_induction_targets():
    ids = sequences.repeated_tokens(6, 20, seed=1, avoid=range(10))
    assert ids.shape == (12,) and (ids[:6] == ids[6:]).all() and len(set(ids[:6])) == 6 and ids.min() >= 10
    targets = sequences.induction_targets(6)
    assert targets.sum() == 6 and not targets[:6].any()
    for t in range(6, 12):
        assert targets[t, t - 5] and ids[t - 5] == ids[t + 1 - 6]  # the key holds the token after the earlier copy


@pytest.mark.parametrize("call, error, says", [
    (lambda: sequences.reverse_split(n_train=0), ValueError, "n_train must be a positive integer, got 0"),
    (lambda: sequences.reverse_split(length=1), ValueError, "length must be at least 2"),
    (lambda: sequences.reverse_split(n_train=60, n_test=1, length=2), ValueError, "at most half of the 10^2 strings"),
    (lambda: sequences.reverse_split(seed=-2), ValueError, "seed must be a non-negative integer"),
    (lambda: sequences.tales(0), ValueError, "n_tales must be a positive integer"),
    (lambda: sequences.repeated_tokens(1, 10), ValueError, "period must be at least 2"),
    (lambda: sequences.repeated_tokens(8, 10, avoid=range(5)), ValueError, "period must be at most the 5 ids"),
    (lambda: sequences.as_text([0, 999]), ValueError, "ids must lie in [0, 73)"),
])
def test_bad_data_input_is_named(call, error, says):
    with pytest.raises(error) as info:
        call()
    assert says in str(info.value)


# ---------------------------------------------------------------------------------------------------
# Models: shapes, masks, errors

@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return (transformer.Transformer(7, 5, d_model=16, n_heads=2, n_layers=2, d_ff=16, max_len=10).eval(),
            transformer.GPT(11, d_model=16, n_heads=2, n_layers=3, d_ff=16, max_len=12).eval())


def test_shapes(small):
    seq2seq, gpt = small
    source, target = torch.randint(0, 7, (3, 6)), torch.randint(0, 5, (3, 4))
    logits, attention = seq2seq(source, target)
    assert logits.shape == (3, 4, 5)
    assert attention.encoder.shape == (3, 2, 2, 6, 6)
    assert attention.decoder.shape == (3, 2, 2, 4, 4)
    assert attention.cross.shape == (3, 2, 2, 4, 6)
    for w in attention:
        assert torch.allclose(w.sum(-1), torch.ones(())), "every row of every head is a softmax"
    ids, attention = seq2seq.generate(source, 4)
    assert ids.shape == (3, 4) and attention.cross.shape == (3, 2, 2, 4, 6)
    logits, weights = gpt(torch.randint(0, 11, (2, 9)))
    assert logits.shape == (2, 9, 11) and weights.shape == (2, 3, 2, 9, 9)
    assert gpt.generate(torch.randint(0, 11, (2, 3)), 15).shape == (2, 18)  # longer than max_len: the last 12 are read


def test_causal_masks_are_visible_in_the_weights(small):
    seq2seq, gpt = small
    _, attention = seq2seq(torch.randint(0, 7, (2, 6)), torch.randint(0, 5, (2, 5)))
    assert (attention.decoder.triu(diagonal=1) == 0).all() and (attention.encoder > 0).all()
    _, weights = gpt(torch.randint(0, 11, (2, 8)))
    assert (weights.triu(diagonal=1) == 0).all()


def test_the_decoder_cannot_see_the_future(small):
    """Changing target token k changes no prediction before k + 1 (the decoder reads target[:, :k] for
    prediction k, shifted right by "begin"); changing source tokens changes everything."""
    seq2seq, gpt = small
    torch.manual_seed(1)
    source, target = torch.randint(0, 7, (2, 6)), torch.randint(0, 5, (2, 5))
    changed = target.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 5
    with torch.no_grad():
        before, after = seq2seq(source, target)[0], seq2seq(source, changed)[0]
    assert torch.equal(before[:, :4], after[:, :4]) and not torch.allclose(before[:, 4:], after[:, 4:])
    ids = torch.randint(0, 11, (2, 10))
    later = ids.clone()
    later[:, 6] = (later[:, 6] + 1) % 11
    with torch.no_grad():
        before, after = gpt(ids)[0], gpt(later)[0]
    assert torch.equal(before[:, :6], after[:, :6]) and not torch.allclose(before[:, 6:], after[:, 6:])


def test_a_model_with_a_full_mask_can_see_the_future():
    torch.manual_seed(0)
    cheat = transformer.GPT(11, d_model=16, n_heads=2, d_ff=16, max_len=8,
                            mask=lambda n: torch.ones(n, n, dtype=torch.bool)).eval()
    ids = torch.randint(0, 11, (1, 8))
    later = ids.clone()
    later[0, 6] = (later[0, 6] + 1) % 11
    with torch.no_grad():
        assert not torch.allclose(cheat(ids)[0][:, :6], cheat(later)[0][:, :6])


def test_without_positions_the_encoder_decoder_cannot_tell_order():
    """No positional encoding: permuting the source permutes nothing the decoder can see."""
    torch.manual_seed(0)
    model = transformer.Transformer(10, 10, d_model=16, n_heads=2, d_ff=16, positional=False).eval()
    source, target = torch.randint(0, 10, (3, 8)), torch.randint(0, 10, (3, 8))
    with torch.no_grad():
        logits = model(source, target)[0]
        shuffled = model(source[:, torch.randperm(8)], target)[0]
    assert torch.allclose(logits, shuffled, atol=1e-5)


def test_greedy_decoding_matches_teacher_forcing_on_its_own_output(small):
    seq2seq, _ = small
    source = torch.randint(0, 7, (4, 6))
    ids, attention = seq2seq.generate(source, 5)
    with torch.no_grad():
        logits, forced = seq2seq(source, ids)
    assert torch.equal(logits.argmax(-1), ids)
    assert torch.allclose(forced.cross, attention.cross, atol=1e-6)


@pytest.mark.parametrize("call, error, says", [
    (lambda s, g: s(torch.full((2, 6), 7), torch.zeros(2, 4, dtype=torch.long)), ValueError,
     "source must hold ids in [0, 7) for this model's vocabulary of 7 tokens, got ids from 7 to 7"),
    (lambda s, g: s(torch.zeros(2, 6, dtype=torch.long), torch.full((2, 4), -1)), ValueError,
     "target must hold ids in [0, 5)"),
    (lambda s, g: s(torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)), ValueError,
     "source must have shape (batch, n) with n >= 1 tokens, got shape (2, 0)"),
    (lambda s, g: s(torch.zeros(2, 6, dtype=torch.long), torch.zeros(2, 0, dtype=torch.long)), ValueError,
     "target must have shape (batch, n) with n >= 1 tokens"),
    (lambda s, g: s(torch.zeros(2, 11, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)), ValueError,
     "source has 11 tokens, more than this model's max_len = 10"),
    (lambda s, g: s(torch.zeros(2, 6), torch.zeros(2, 4, dtype=torch.long)), TypeError, "source must hold integer token ids"),
    (lambda s, g: s(np.zeros((2, 6), dtype=np.int64), None), TypeError, "source must be a torch.Tensor"),
    (lambda s, g: s.generate(torch.zeros(2, 6, dtype=torch.long), 0), ValueError, "length must be a positive int"),
    (lambda s, g: g(torch.tensor([[3, 11]])), ValueError, "ids must hold ids in [0, 11)"),
    (lambda s, g: g(torch.zeros(1, 0, dtype=torch.long)), ValueError, "with n >= 1 tokens, got shape (1, 0)"),
    (lambda s, g: g(torch.zeros(1, 13, dtype=torch.long)), ValueError, "ids has 13 tokens, more than this model's max_len = 12"),
    (lambda s, g: g(torch.zeros(5, dtype=torch.long)), ValueError, "must have shape (batch, n)"),
    (lambda s, g: g.generate(torch.zeros(1, 2, dtype=torch.long), 0), ValueError, "n_new must be a positive int"),
    (lambda s, g: g.generate(torch.zeros(1, 2, dtype=torch.long), 3, temperature=-1), ValueError, "temperature must be"),
    (lambda s, g: training.train("sorting"), ValueError, "name must be one of ['masked', 'reverse', 'sentiment', 'speech', 'tales', 'translation', 'vit']"),
    (lambda s, g: training.train("reverse", steps=0), ValueError, "steps must be a positive integer"),
    (lambda s, g: training.train("reverse", seed=-1), ValueError, "seed must be a non-negative integer"),
    (lambda s, g: evaluation.perplexity(g, [3]), ValueError, "at least 2 token ids"),
    (lambda s, g: readout.induction_scores(np.zeros((2, 2, 6, 6)), 4), ValueError, "(..., layers, heads, 8, 8)"),
    (lambda s, g: viz.cross_attention_view(np.zeros((1, 2, 3, 4)), "abcd", "xyz", np.ones((4, 3), bool)),
     ValueError, "true_alignment must be a bool array of shape (3, 4)"),
])
def test_bad_model_input_is_named(small, call, error, says):
    with pytest.raises(error) as info:
        call(*small)
    assert says in str(info.value)


def test_measures_on_known_cases(small):
    _, gpt = small
    uniform = transformer.GPT(11, d_model=16, n_heads=2, d_ff=16, max_len=12)
    with torch.no_grad():  # zero read-out: every next token has probability 1/11, the perplexity is 11
        uniform.head.weight.zero_()
        uniform.head.bias.zero_()
    assert evaluation.perplexity(uniform, np.arange(30) % 11) == pytest.approx(11.0)
    stream = np.array([0, 1, 2] * 50)
    assert readout.bigram_perplexity(stream, stream, 3) < 1.05
    w = np.zeros((1, 2, 8, 8))
    w[0, 1][sequences.induction_targets(4)] = 1.0
    assert readout.induction_scores(w, 4).tolist() == [[0.0, 1.0]]
    probe = evaluation.induction_probe(gpt, period=5, n_sequences=3, avoid=range(2))
    assert probe.tokens.shape == (3, 10) and probe.weights.shape == (3, 3, 2, 10, 10) and probe.scores.shape == (3, 2)


def test_cross_attention_view_draws_every_layer_and_head():
    import matplotlib.pyplot as plt

    w = np.random.default_rng(0).dirichlet(np.ones(5), size=(2, 3, 4))  # (layers, heads, T, S)
    fig = viz.cross_attention_view(w, list("abcde"), list("wxyz"), np.eye(4, 5, dtype=bool))
    assert len(fig.axes) == 2 * 3 + 1  # the heatmaps and one colour bar
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == list("abcde")  # bottom left: labelled
    plt.close(fig)


def test_save_and_load_round_trip(tmp_path, small):
    seq2seq, _ = small
    training.save_weights(seq2seq, tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz", allow_pickle=False) as arrays:
        assert not any("pe" == k.split(".")[-1] for k in arrays.files), "the position encoding is not stored"
    copy = transformer.Transformer(7, 5, d_model=16, n_heads=2, n_layers=2, d_ff=16, max_len=10)
    training.load_weights(copy, tmp_path / "t.npz")
    assert all(torch.equal(a, b) for a, b in zip(seq2seq.state_dict().values(), copy.state_dict().values()))


# ---------------------------------------------------------------------------------------------------
# The masked language model: BERT's corruption, and a model that reads both sides

def test_corrupt_hides_the_picked_tokens_as_bert_does():
    ids = np.arange(10)[None].repeat(2, 0)                                    # (2, 10)
    picked = np.zeros((2, 10), dtype=bool)
    picked[:, [1, 4, 7]] = True
    fate = np.full((2, 10), 0.5)
    fate[:, 4], fate[:, 7] = 0.85, 0.95                                      # 1: [MASK], 4: random, 7: kept
    inputs, targets = transformer.corrupt(ids, picked, fate, np.full((2, 10), 42), mask_id=99)
    assert inputs[0].tolist() == [0, 99, 2, 3, 42, 5, 6, 7, 8, 9]
    assert targets[0].tolist() == [-100, 1, -100, -100, 4, -100, -100, 7, -100, -100]
    assert inputs.dtype == targets.dtype == np.int64


def test_mask_tokens_shares():
    ids = np.random.default_rng(0).integers(0, 73, (200, 500))
    inputs, targets = transformer.mask_tokens(ids, np.random.default_rng(1))
    picked = targets != -100
    assert abs(picked.mean() - 0.15) < 0.005                                 # 100000 positions: a wide margin
    assert abs((inputs == transformer.MASK).mean() - 0.12) < 0.005
    assert np.array_equal(targets[picked], ids[picked]) and np.array_equal(inputs[~picked], ids[~picked])
    a = transformer.mask_tokens(ids[:2], np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, transformer.mask_tokens(ids[:2], np.random.default_rng(5))))


@pytest.mark.parametrize("call, says", [
    (lambda: transformer.mask_tokens(np.zeros(5, dtype=int), np.random.default_rng(0)), "(batch, T) array"),
    (lambda: transformer.mask_tokens(np.zeros((1, 5)), np.random.default_rng(0)), "(batch, T) array"),
    (lambda: transformer.mask_tokens(np.zeros((1, 5), dtype=int), np.random.default_rng(0), rate=0), "rate must be"),
    (lambda: evaluation.restored(None, np.zeros(100, dtype=int), masked=True), "at least n_windows * n = 6400 tokens"),
    (lambda: evaluation.restored(None, np.zeros((2, 6400), dtype=int), masked=True), "a 1-D stream"),
])
def test_mask_tokens_rejects_bad_input(call, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        call()


def test_the_masked_model_reads_both_sides():
    model = training.load("masked")
    ids = torch.from_numpy(sequences.tale_split(seed=0)[1][:20])[None]
    changed = ids.clone()
    changed[0, 15] = 20
    with torch.no_grad():
        before, weights = model(ids)
        after = model(changed)[0]
    assert (before[0, :15] - after[0, :15]).abs().max() > 1e-3             # earlier positions see token 15
    assert weights[0, :, :, 0, 1:].sum() > 0                                 # position 0 attends to later tokens
    assert model.head.out_features == len(sequences.TALE_VOCAB) + 1 == transformer.MASK + 1


def _restored_by_role(model, masked):
    test = sequences.tale_split(seed=0)[1]
    right = evaluation.restored(model, test, masked=masked, n_windows=100)
    roles = sequences.tale_roles(test)[:100 * 32].reshape(100, 32)[:, 1:31]
    return {role: right[roles == k].mean() for k, role in enumerate(sequences.ROLES)}


def test_the_shipped_masked_model_restores_what_only_the_right_side_reveals():
    masked, causal = (_restored_by_role(training.load(name), name == "masked") for name in ("masked", "tales"))
    for role in ("said", "first echo"):                                      # chapter 6d's claims, with margins
        assert masked[role] > causal[role] + 0.1, (role, masked[role], causal[role])
    assert causal["said"] < 0.05                                             # a guess: nothing on the left says it


@pytest.mark.slow
@pytest.mark.retrain
def test_retrained_masked_model_restores_what_only_the_right_side_reveals():
    masked, causal = _restored_by_role(training.train("masked"), True), _restored_by_role(training.load("tales"), False)
    for role in ("said", "first echo"):
        assert masked[role] > causal[role] + 0.1, (role, masked[role], causal[role])


# ---------------------------------------------------------------------------------------------------
# Shipped weights: small, pickle-free, what training produces, and as good as the chapters say

def test_weights_are_small_and_pickle_free():
    for name in ("reverse", "tales"):
        file = training.RECIPES[name].file
        path = training.WEIGHTS / file
        assert path.stat().st_size < 1024 * 1024, f"{file} takes {path.stat().st_size / 1024:.0f} KiB"
        with np.load(path, allow_pickle=False) as arrays:
            assert all(arrays[k].dtype == np.float32 for k in arrays.files)


# Retraining is deterministic on one machine, not across machines (float64 rounding differs between BLAS
# kernels and training amplifies it), so a retrained model is held to what the chapters say it does.
@pytest.mark.slow
@pytest.mark.retrain
def test_retrained_reverser_reverses_and_aligns():
    retrained = training.train("reverse")  # the recipe's seed, one thread, float64
    test = sequences.reverse_split(seed=0)[1]
    exact, per_digit = evaluation.reverse_accuracy(retrained, test)
    assert exact >= 0.95 and per_digit >= 0.98, (exact, per_digit)
    _, attention = retrained.generate(torch.from_numpy(test.source[:200]), 8)
    cross = attention.cross.numpy()[:, -1]                                    # last layer: (n, heads, T, S)
    truth = np.broadcast_to(test.alignment, (len(cross), 8, 8))
    assert max(readout.alignment_accuracy(cross[:, h], truth) for h in range(cross.shape[1])) >= 0.9


@pytest.mark.slow
@pytest.mark.retrain
def test_retrained_language_model_forms_induction_heads():
    retrained = training.train("tales")
    train, test = sequences.tale_split(seed=0)
    ppl = evaluation.perplexity(retrained, test)
    assert ppl < 0.5 * readout.bigram_perplexity(train, test, len(sequences.TALE_VOCAB)), ppl
    assert ppl < 1.2 * evaluation.perplexity(training.load("tales"), test)  # about as good as the shipped one
    probe = evaluation.induction_probe(retrained)
    assert probe.scores.max() >= 0.5 and probe.loss_second < 0.25 * probe.loss_first, probe.scores


def test_shipped_weights_give_the_figures_the_chapters_print():
    """Chapters 6b and 6c, recomputed from the shipped weights (computed with in float64): exactly the figures
    the stored notebooks print, on any machine."""
    reverse = training.load("reverse")
    exact, per_digit = evaluation.reverse_accuracy(reverse, sequences.reverse_split(seed=0)[1])
    line = f"held-out strings reversed exactly: {exact:.1%}   digits right: {per_digit:.1%}"
    assert line in notebook_output("06b_transformer", "reversed exactly"), line
    train, test = sequences.tale_split(seed=0)
    printed = notebook_output("06c_language_model", "the Transformer:")
    assert f"the Transformer:    {evaluation.perplexity(training.load('tales'), test):.2f}" in printed, printed
    assert f"bigram model:       {readout.bigram_perplexity(train, test, len(sequences.TALE_VOCAB)):.2f}" in printed


def test_shipped_models_attend_as_the_chapters_say():
    reverse = training.load("reverse")
    test = sequences.reverse_split(seed=0)[1]
    _, attention = reverse.generate(torch.from_numpy(test.source[:200]), 8)
    cross = attention.cross.numpy()[:, -1]                                    # last layer: (n, heads, T, S)
    truth = np.broadcast_to(test.alignment, (len(cross), 8, 8))
    assert max(readout.alignment_accuracy(cross[:, h], truth) for h in range(cross.shape[1])) >= 0.95

    probe = evaluation.induction_probe(training.load("tales"))
    assert probe.scores.max() >= 0.5 and probe.loss_second < 0.25 * probe.loss_first
    prompt = torch.from_numpy(data.encode("once anna lived in a red mill with a parrot . anna said : fox key owl ."
                                          " the parrot said :".split(), sequences.TALE_VOCAB))[None]
    continued = sequences.as_text(training.load("tales").generate(prompt, 4)[0, -4:].numpy())
    assert set(continued.split()) <= {"fox", "key", "owl", "."}, continued
