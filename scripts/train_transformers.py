"""Retrain the three Transformers of the course and write the weights the package ships.

    python scripts/train_transformers.py [reverse] [tales] [masked] [--seed S [S ...]] [--steps N] [--no-save]

Each model is trained by attn_course.training.train from its recipe's seed (deterministic: one
thread, float64, deterministic algorithms) and saved to attn_course/weights/ as float32 arrays (.npz).
tests/test_transformer.py retrains them and checks the result against these files. Prints, per model:
training time (wall clock and CPU time of this process: the machine may be shared), held-out results
(reverse: exact-string and per-digit accuracy of greedy decoding, how often each layer's best
cross-attention head puts its largest weight on the true source digit; tales: perplexity on held-out
tales next to a bigram model's, the induction probe; masked: how often it restores a hidden held-out token, by
the token's role), parameter count and file size.
--seed / --steps train with other seeds (one line each: `tales --seed 0 1 2 3 4` shows how often the induction
heads form in the recipe's steps) or another length, and save nothing (to study the training itself).
"""
import argparse
import time

import numpy as np
import torch

from attn_course import evaluation, readout, sequences, training


def report_reverse(model):
    test = sequences.reverse_split(seed=0)[1]
    exact, per_digit = evaluation.reverse_accuracy(model, test)
    _, attention = model.generate(torch.from_numpy(test.source), test.target.shape[1])
    cross = attention.cross.numpy()                                           # (n, layers, heads, T, S)
    truth = np.broadcast_to(test.alignment, cross.shape[:1] + test.alignment.shape)
    best = [max(readout.alignment_accuracy(cross[:, layer, head], truth) for head in range(cross.shape[2]))
            for layer in range(cross.shape[1])]
    return (f"held-out exact accuracy {exact:.4f} ({len(test.source)} strings), per digit {per_digit:.4f}; "
            f"best cross-attention head on the true digit, per layer: {', '.join(f'{b:.3f}' for b in best)}")


def report_tales(model):
    train, test = sequences.tale_split(seed=0)
    probe = evaluation.induction_probe(model)
    layer, head = np.unravel_index(probe.scores.argmax(), probe.scores.shape)
    return (f"held-out perplexity {evaluation.perplexity(model, test):.3f} ({len(test)} tokens; bigram model "
            f"{readout.bigram_perplexity(train, test, len(sequences.TALE_VOCAB)):.3f}); induction probe: "
            f"best head layer {layer} head {head} score {probe.scores.max():.3f}, loss first half "
            f"{probe.loss_first:.3f} nats, second half {probe.loss_second:.3f}")


def report_masked(model):
    test = sequences.tale_split(seed=0)[1]
    right = evaluation.restored(model, test, masked=True)                  # (windows, n - 2): positions 1 .. n-2
    n = right.shape[1] + 2
    roles = sequences.tale_roles(test)[:len(right) * n].reshape(len(right), n)[:, 1:-1]
    shares = ", ".join(f"{role} {right[roles == k].mean():.3f}" for k, role in enumerate(sequences.ROLES))
    return f"hidden held-out tokens restored: {right.mean():.3f} ({shares})"


REPORTS = {"reverse": report_reverse, "tales": report_tales, "masked": report_masked}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["reverse", "tales", "masked"])
    parser.add_argument("--seed", type=int, nargs="+", default=None, help="other seeds, one model each (saves nothing)")
    parser.add_argument("--steps", type=int, default=None, help="another number of steps (saves nothing)")
    parser.add_argument("--no-save", action="store_true", help="train and report only")
    args = parser.parse_args()
    save = not (args.no_save or args.seed is not None or args.steps is not None)
    for name in args.names:
        for seed in args.seed or [None]:  # None: the recipe's own seed
            train_and_report(name, seed, args.steps, save)


def train_and_report(name, seed, steps, save):
    wall, cpu = time.perf_counter(), time.process_time()
    model = training.train(name, seed=seed, steps=steps)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    report = REPORTS[name](model)
    n_params = sum(p.numel() for p in model.parameters())
    label = name if seed is None else f"{name} (seed {seed})"
    line = f"{label}: trained in {wall:.1f} s wall clock ({cpu:.1f} s CPU); {report}; {n_params} parameters"
    if save:
        path = training.save(name, model)
        line += f", {path.name} {path.stat().st_size / 1024:.0f} KiB"
    print(line, flush=True)


if __name__ == "__main__":
    main()
