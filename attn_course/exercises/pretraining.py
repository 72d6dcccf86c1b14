"""Checkers for the exercises of chapter 6d, pretraining: the two families.

    check_who_can_restore(answer)       predict: which model has the information to restore a hidden tale word
    check_corruption_shares(fn)         derive: fn(rate) -> the expected shares of BERT's corruption
    check_corrupt(fn)                   implement: fn(ids, picked, fate, random_ids, mask_id) -> (inputs, targets)
    check_corrupt_one_draw(fn)          debug: fn(ids, u, random_ids, mask_id, rate) -> (inputs, targets), BERT's
                                        corruption decided by one uniform draw per position
    check_restore_rates(fn)             hard: fn(right, ids) -> {role: share restored}, from evaluation.restored
                                        with windows of any length

The references are WHO_CAN_RESTORE, corruption_shares, corrupt_one_draw and restore_rates, here, and attn_course.transformer.corrupt (in a
module that imports torch: imported when asked for).
"""
import numpy as np

from ..sequences import ROLES, tale_roles
from .feedback import Feedback, call, checker, not_written
from .registry import Exercise, Mistake

# ---------------------------------------------------------------------------------------------------
# 6d.1 (predict): who can restore which word

WHO_CAN_RESTORE = {"said": "masked", "first echo": "masked", "echo": "both"}
"""In "lily said : fox met key . the parrot said : met key fox met key ." with one word hidden: a word the
person says is predictable only from the parrot's echo to its right; the parrot's first word only from the
echo that follows it (the parrot starts anywhere in the list); a later echo word from either side."""

_CHOICES = ("causal", "masked", "both", "neither")


@checker
def check_who_can_restore(answer):
    """Check `answer`: a dict {"said", "first echo", "echo"} -> one of "causal", "masked", "both", "neither": which
    model has, in its context window, the information to restore that word with certainty when it is hidden."""
    if answer is Ellipsis:
        return not_written("this prediction", "the `...` in its cell")
    if not isinstance(answer, dict) or set(answer) != set(WHO_CAN_RESTORE):
        return Feedback(False, f"expected a dict with the keys {sorted(WHO_CAN_RESTORE)}, got {answer!r}")
    bad = {k: v for k, v in answer.items() if v not in _CHOICES}
    if bad:
        return Feedback(False, f"each answer is one of {_CHOICES}, got {bad}")
    hints = ("the causal model reads only the words BEFORE the hidden one; the masked model reads both sides",
             "a word the person says is random, but the parrot repeats it later; the parrot starts its echo "
             "anywhere in the list, then continues it in order",
             'said: "masked" (only the echo to the right tells it), first echo: "masked" (the words after it fix '
             'where the parrot started), echo: "both" (the word before it in the list fixes it)')
    for role in ("said", "first echo", "echo"):
        if answer[role] != WHO_CAN_RESTORE[role]:
            why = {"said": "a word the person says: what, in the whole tale, tells which word it was?",
                   "first echo": "the parrot's first word: the parrot may start anywhere in the list; what fixes "
                                 "where it started?",
                   "echo": "a later echo word: the list's order is known once the parrot has started"}[role]
            return Feedback(False, f"{role!r}: {answer[role]!r} is not right. Think again about {why}", hints=hints)
    return Feedback(True, "correct: the causal model has only the left context, so only copying forward; the masked "
                          "model can also read the echo to the right")


# ---------------------------------------------------------------------------------------------------
# 6d.2 (derive): the shares of BERT's corruption

def corruption_shares(rate):
    """The reference: the expected share of all positions that are picked (and so count in the loss), that
    become [MASK], that become a random token, and that are picked but left unchanged."""
    return {"picked": rate, "mask": 0.8 * rate, "random": 0.1 * rate, "kept": 0.1 * rate}


@checker
def check_corruption_shares(fn):
    """Check `fn(rate) -> dict` with the keys "picked", "mask", "random", "kept": the expected share of ALL
    positions that BERT's corruption picks with probability `rate`, and of those turns into [MASK] (80%), into
    a random token (10%) or leaves unchanged (10%)."""
    hints = ("each share is the probability that one position ends up in that case",
             "a position becomes [MASK] when it is picked (probability rate) AND its draw says [MASK] (0.8)",
             "picked = rate, mask = 0.8 rate, random = 0.1 rate, kept = 0.1 rate")
    for rate in (0.15, 0.4):
        result, error = call(fn, rate)
        if error is not None:
            return error
        expected = corruption_shares(rate)
        if not isinstance(result, dict) or set(result) != set(expected):
            return Feedback(False, f"expected a dict with the keys {sorted(expected)}, got {result!r}")
        try:
            got = {k: float(v) for k, v in result.items()}
        except (TypeError, ValueError):
            return Feedback(False, "each share must be a number")
        if all(np.isclose(got[k], expected[k]) for k in expected):
            continue
        if np.isclose(got["mask"], 0.8) or np.isclose(got["random"], 0.1) or np.isclose(got["kept"], 0.1):
            return Feedback(False, f"for rate = {rate}: 0.8, 0.1 and 0.1 are shares of the PICKED positions; the "
                                   "question asks for shares of all positions", hints=hints)
        if not np.isclose(got["mask"] + got["random"] + got["kept"], got["picked"]):
            return Feedback(False, f"for rate = {rate}: mask + random + kept should add up to picked (every picked "
                                   "position meets one of the three fates)", hints=hints)
        if not np.isclose(got["picked"], rate):
            return Feedback(False, f"for rate = {rate}: picked = {got['picked']}; each position is picked with "
                                   "probability rate", hints=hints)
        return Feedback(False, f"for rate = {rate} the shares differ from the expected ones", hints=hints)
    return Feedback(True, "correct: 15% of the positions give the loss a signal, 12% of the input is [MASK]; a "
                          "causal model gets a signal from every position")


# ---------------------------------------------------------------------------------------------------
# 6d.3 (implement): hide the tokens

@checker
def check_corrupt(fn):
    """Check `fn(ids, picked, fate, random_ids, mask_id) -> (inputs, targets)`: of the picked positions, fate < 0.8
    become mask_id, 0.8 <= fate < 0.9 become random_ids, the rest stay; targets hold the original id at the picked
    positions and -100 elsewhere."""
    from ..transformer import corrupt

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, (3, 12))
    picked = rng.random((3, 12)) < 0.5
    fate = rng.random((3, 12))
    fate[0, :3] = (0.1, 0.85, 0.95)                                      # every fate occurs
    picked[0, :3] = True
    random_ids = rng.integers(0, 50, (3, 12))
    right_inputs, right_targets = corrupt(ids, picked, fate, random_ids, 99)
    hints = ("only picked positions change, and only picked positions have a target",
             "for a picked position: fate < 0.8 -> mask_id; 0.8 <= fate < 0.9 -> random_ids; else unchanged. The "
             "target is the ORIGINAL id, whatever the input became",
             "inputs = np.where(picked & (fate < 0.8), mask_id, ids); inputs = np.where(picked & (fate >= 0.8) & "
             "(fate < 0.9), random_ids, inputs); targets = np.where(picked, ids, -100)")
    result, error = call(fn, ids.copy(), picked.copy(), fate.copy(), random_ids.copy(), 99)
    if error is not None:
        return error
    if not (isinstance(result, tuple) and len(result) == 2):
        return Feedback(False, f"return a pair (inputs, targets), got {type(result).__name__}")
    inputs, targets = (np.asarray(r) for r in result)
    if inputs.shape != ids.shape or targets.shape != ids.shape:
        return Feedback(False, f"inputs and targets must have ids' shape {ids.shape}, got {inputs.shape} and "
                               f"{targets.shape}", hints=hints)
    if np.array_equal(inputs, right_inputs) and np.array_equal(targets, right_targets):
        return Feedback(True, "correct: 80% of the picked tokens hidden, 10% replaced, 10% kept, and the loss asked "
                              "about every picked token's original")
    if not np.array_equal(inputs, right_inputs):
        if np.array_equal(inputs, np.where(picked, 99, ids)):
            return Feedback(False, "every picked token became [MASK]: then the model learns that an unmasked token "
                                   "is never asked about. Look at the fates", hints=hints)
        if not np.array_equal(inputs[~picked], ids[~picked]):
            return Feedback(False, "tokens that were NOT picked changed in the input", hints=hints)
        return Feedback(False, "the picked tokens' inputs are wrong for some fates (where is the 0.8 boundary, and "
                               "the 0.9 one?)", hints=hints)
    if np.array_equal(targets, np.where(picked, inputs, -100)):
        return Feedback(False, "the targets are the corrupted inputs: the model would learn to copy [MASK]. The "
                               "target is what was there before", hints=hints)
    if np.array_equal(targets, ids):
        return Feedback(False, "every position has a target: the loss would be mostly about tokens the model can "
                               "read in its input", hints=hints)
    return Feedback(False, "the targets are wrong: -100 where not picked, the original id where picked", hints=hints)


# ---------------------------------------------------------------------------------------------------
# 6d.4 (debug): the corruption from one draw per position

def corrupt_one_draw(ids, u, random_ids, mask_id, rate):
    """The reference: u uniform in [0, 1) decides everything. u < rate picks a position; given that, u / rate is
    uniform in [0, 1) again and serves as its fate for attn_course.transformer.corrupt (80/10/10)."""
    from ..transformer import corrupt

    return corrupt(ids, u < rate, u / rate, random_ids, mask_id)


@checker
def check_corrupt_one_draw(fn):
    """Check `fn(ids, u, random_ids, mask_id, rate) -> (inputs, targets)`: position j is picked when u[j] < rate; of
    the picked, 80% become mask_id, 10% random_ids, 10% stay (decided by u as well); targets as in corrupt."""
    rng = np.random.default_rng(0)
    vocab, rate = 50, 0.15
    ids = rng.integers(0, vocab, (40, 500))
    u = rng.random(ids.shape)
    random_ids = (ids + rng.integers(1, vocab, ids.shape)) % vocab                # never the original token
    right_inputs, right_targets = corrupt_one_draw(ids, u, random_ids, vocab, rate)
    hints = ("u < rate picks a position; the picked positions' u are uniform in [0, rate), not in [0, 1)",
             "compare the fates with 0.8 rate and 0.9 rate, or rescale: u / rate is uniform in [0, 1) on the "
             "picked positions",
             "return corrupt(ids, u < rate, u / rate, random_ids, mask_id), corrupt from exercise 6d.3 "
             "(attn_course.transformer.corrupt)")
    result, error = call(fn, ids.copy(), u.copy(), random_ids.copy(), vocab, rate)
    if error is not None:
        return error
    if not (isinstance(result, tuple) and len(result) == 2):
        return Feedback(False, f"return a pair (inputs, targets), got {type(result).__name__}")
    inputs, targets = (np.asarray(r) for r in result)
    if inputs.shape != ids.shape or targets.shape != ids.shape:
        return Feedback(False, f"inputs and targets must have ids' shape {ids.shape}, got {inputs.shape} and "
                               f"{targets.shape}", hints=hints)
    if np.array_equal(inputs, right_inputs) and np.array_equal(targets, right_targets):
        return Feedback(True, "correct: one draw per position, picked with probability rate, then split 80/10/10")
    picked = targets != -100
    if not np.isclose(picked.mean(), rate, atol=0.01):
        return Feedback(False, f"{picked.mean():.0%} of the positions have a target, expected {rate:.0%}: which "
                               "positions are picked?", hints=hints)
    shares = {"[MASK]": (inputs[picked] == vocab).mean(), "a random token": (inputs[picked] == random_ids[picked]).mean(),
              "unchanged": (inputs[picked] == ids[picked]).mean()}
    if any(not np.isclose(share, want, atol=0.02) for share, want in zip(shares.values(), (0.8, 0.1, 0.1))):
        split = ", ".join(f"{share:.0%} {what}" for what, share in shares.items())
        return Feedback(False, f"of the picked positions, {split}: expected 80%, 10%, 10%. Look at the thresholds "
                               "the picked positions' u are compared with", hints=hints)
    return Feedback(False, "the split is right on average but not position by position: the fates must come from "
                           "u, compared with 0.8 rate and 0.9 rate", hints=hints)


# ---------------------------------------------------------------------------------------------------
# 6d.5 (hard): how often each role is restored

def restore_rates(right, ids):
    """The reference: right (n_windows, n - 2) from evaluation.restored(model, ids, ..., n=n), the windows being the
    stream ids cut into n tokens each, positions 1..n-2 asked. Returns {role: share of its tokens restored}."""
    n_windows, n = right.shape[0], right.shape[1] + 2                            # the window length restored() used
    roles = tale_roles(ids[:n_windows * n]).reshape(n_windows, n)[:, 1:n - 1]     # (n_windows, n - 2)
    return {role: float(right[roles == k].mean()) for k, role in enumerate(ROLES)}


@checker
def check_restore_rates(fn):
    """Check `fn(right, ids) -> dict`: right (n_windows, n - 2) bool, as attn_course.evaluation.restored returns for
    the stream ids cut into windows of n tokens (positions 1..n-2 asked), n = 32 or 16; the share of right answers
    per role of attn_course.sequences.ROLES."""
    from ..sequences import tale_split

    _, ids = tale_split(seed=0)
    hints = ("three steps: the role of every token of the stream, cut as restored() cut the windows, sliced to the "
             "positions it asked about; then a mean per role",
             "restored() cuts ids[:n_windows * n] into rows of n and asks positions 1..n-2 of each row, and right's "
             "width tells n: the roles must be cut and sliced the same way, so that right[w, i] meets its token's role",
             "n = right.shape[1] + 2; roles = sequences.tale_roles(ids[:len(right) * n]).reshape(-1, n)[:, 1:n - 1]; "
             "{role: right[roles == k].mean() for k, role in enumerate(sequences.ROLES)}")
    for n in (32, 16):
        roles = tale_roles(ids[:40 * n]).reshape(40, n)
        rng = np.random.default_rng(n)
        right = rng.random((40, n - 2)) < np.array([0.9, 0.2, 0.5, 0.97])[roles[:, 1:n - 1]]  # each role its rate
        expected = restore_rates(right, ids)
        result, error = call(fn, right.copy(), ids.copy())
        if error is not None:
            return error
        if not isinstance(result, dict):
            return Feedback(False, f"expected a dict {{role: share}}, got {type(result).__name__}")
        if set(result) != set(ROLES):
            return Feedback(False, f"the keys must be the roles {ROLES} (their names), got "
                                   f"{sorted(map(str, result))}", hints=hints)
        try:
            got = {role: float(result[role]) for role in ROLES}
        except (TypeError, ValueError):
            return Feedback(False, "each share must be one number between 0 and 1")
        if all(np.isclose(got[r], expected[r], rtol=1e-9) for r in ROLES):
            continue
        for shift, where in ((0, f"positions 0..{n - 3}"), (2, f"positions 2..{n - 1}")):
            off = {role: right[roles[:, shift:shift + n - 2] == k].mean() for k, role in enumerate(ROLES)}
            if all(np.isclose(got[r], off[r], rtol=1e-9) for r in ROLES):
                return Feedback(False, f"your roles are those of {where} of each window: one off from the positions "
                                       "restored() asked about", hints=hints)
        if all(np.isclose(got[r], right.mean(), rtol=1e-9) for r in ROLES):
            return Feedback(False, "every role has the same share, the overall one: the answers were not split by "
                                   "role", hints=hints)
        if n != 32:
            return Feedback(False, f"right for windows of 32 tokens, not for windows of {n} (right has {n - 2} "
                                   "columns): where does your function get the window length?", hints=hints)
        return Feedback(False, "the shares differ from the mean of right over each role's tokens: check which token "
                               "right[0, 0] is about", hints=hints)
    return Feedback(True, "correct: each answer met the role of the token it was about, whatever the window length")

_ONE_DRAW_TRY = ("import numpy as np\n"
                 "def corrupt_one_draw(ids, u, random_ids, mask_id, rate):\n"
                 "    picked = {picked}\n"
                 "    inputs = np.where(picked & ({mask}), mask_id, ids)\n"
                 "    inputs = np.where(picked & ({random}), random_ids, inputs)\n"
                 "    return inputs, np.where({target}, ids, -100)")
_RATES_TRY = ("from attn_course import sequences\n"
              "def restore_rates(right, ids):\n"
              "    roles = sequences.tale_roles(ids[:len(right) * 32]).reshape(-1, 32)\n"
              "    return {{role: right[{roles} == k].mean() for k, role in enumerate(sequences.ROLES)}}")

EXERCISES = [
    Exercise(checker=check_who_can_restore, reference="attn_course.exercises.pretraining.WHO_CAN_RESTORE",
             chapter="06d_masked_lm", solution="who_can_restore", level="predict",
             mistakes=(Mistake('who_can_restore = {"said": "neither", "first echo": "masked", "echo": "both"}',
                               "a word the person says"),)),
    Exercise(checker=check_corruption_shares, reference="attn_course.exercises.pretraining.corruption_shares",
             chapter="06d_masked_lm", solution="corruption_shares", level="derive",
             mistakes=(Mistake("def corruption_shares(rate):\n"
                               "    return {'picked': rate, 'mask': 0.8, 'random': 0.1, 'kept': 0.1}",
                               "shares of the PICKED positions"),)),
    Exercise(checker=check_corrupt, reference="attn_course.transformer.corrupt",
             chapter="06d_masked_lm", solution="corrupt", level="implement",
             mistakes=(Mistake("import numpy as np\n"
                               "def corrupt(ids, picked, fate, random_ids, mask_id):\n"
                               "    return np.where(picked, mask_id, ids), np.where(picked, ids, -100)",
                               "every picked token became [MASK]"),)),
    Exercise(checker=check_corrupt_one_draw, reference="attn_course.exercises.pretraining.corrupt_one_draw",
             chapter="06d_masked_lm", solution="corrupt_one_draw", level="debug", points=2,
             mistakes=(Mistake(_ONE_DRAW_TRY.format(picked="u < rate", mask="u < 0.8", random="(u >= 0.8) & (u < 0.9)",
                                                    target="picked"), "100% [MASK], 0% a random token, 0% unchanged"),
                       Mistake(_ONE_DRAW_TRY.format(picked="u < rate", mask="u < 0.8 * rate", random="u >= 0.8 * rate",
                                                    target="picked"), "19% a random token, 0% unchanged"),
                       Mistake(_ONE_DRAW_TRY.format(picked="u < rate", mask="u < 0.8 * rate",
                                                    random="(u >= 0.8 * rate) & (u < 0.9 * rate)",
                                                    target="np.ones_like(picked)"), "100% of the positions have a target"),
                       Mistake(_ONE_DRAW_TRY.format(picked="u < rate", mask="u >= 0.2 * rate",
                                                    random="u < 0.1 * rate", target="picked"),
                               "right on average but not position by position"))),
    Exercise(checker=check_restore_rates, reference="attn_course.exercises.pretraining.restore_rates",
             chapter="06d_masked_lm", solution="restore_rates", level="hard", points=3,
             mistakes=(Mistake(_RATES_TRY.format(roles="roles[:, :30]"), "positions 0..29"),
                       Mistake(_RATES_TRY.format(roles="roles[:, 2:]"), "positions 2..31"),
                       Mistake("from attn_course import sequences\n"
                               "def restore_rates(right, ids):\n"
                               "    return {role: right.mean() for role in sequences.ROLES}", "the same share"))),
]
