"""Retrain the four tiny models of chapter 6 and write the weights the package ships.

    python scripts/train_applications.py [translation sentiment vit speech]

Each model is trained by attn_course.models.train from seed 0 (deterministic: one thread, float64,
deterministic algorithms) and saved to attn_course/weights/<name>.npz as float32 arrays.
tests/test_applications.py retrains them and checks the result against these files.
Prints, per model: training time, held-out accuracy, attention-vs-truth score, file size.
"""
import sys
import time

from attn_course import models


def main(names):
    names = names or list(models.RECIPES)
    models.WEIGHTS.mkdir(exist_ok=True)
    for name in names:
        start = time.perf_counter()
        model = models.train(name)
        seconds = time.perf_counter() - start
        path = models.WEIGHTS / f"{name}.npz"
        models.save_weights(model, path)
        result = models.evaluate(name, model)
        line = f"{name:12s} trained in {seconds:5.1f} s   held-out accuracy {models.accuracy(result):.4f}"
        if name == "sentiment":
            line += f"   top word carries the sentiment {models.carrier_rate(result):.4f}"
        elif result.alignment is not None:
            line += f"   alignment accuracy {models.alignment_accuracy(result.weights, result.alignment):.4f}"
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{line}   {n_params} parameters, {path.stat().st_size / 1024:.0f} KiB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
