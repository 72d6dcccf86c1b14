"""Retrain the four tiny models of chapter 6 and write the weights the package ships.

    python scripts/train_applications.py [translation sentiment vit speech]

Each model is trained by attn_course.training.train from seed 0 (deterministic: one thread, float64,
deterministic algorithms) and saved to attn_course/weights/<name>.npz as float32 arrays.
tests/test_applications.py retrains them and checks the result against these files.
Prints, per model: training time, held-out accuracy, attention-vs-truth score, file size.
"""
import sys
import time

from attn_course import evaluation, readout, training


def main(names):
    names = names or list(training.APPLICATIONS)
    for name in names:
        start = time.perf_counter()
        model = training.train(name)
        seconds = time.perf_counter() - start
        path = training.save(name, model)
        result = evaluation.evaluate(name, model)
        line = f"{name:12s} trained in {seconds:5.1f} s   held-out accuracy {readout.accuracy(result):.4f}"
        if name == "sentiment":
            line += f"   top word carries the sentiment {readout.carrier_rate(result):.4f}"
        elif result.alignment is not None:
            line += f"   alignment accuracy {readout.alignment_accuracy(result.weights, result.alignment):.4f}"
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{line}   {n_params} parameters, {path.stat().st_size / 1024:.0f} KiB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
