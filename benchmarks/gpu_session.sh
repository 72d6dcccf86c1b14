#!/usr/bin/env bash
# Everything the course measures on a CUDA GPU, in one run (at most 8 minutes: each stage has a time limit):
#   1. the Triton kernel's tests on the GPU (float16, bfloat16, causal and not, ragged lengths, d 64/128);
#   2. benchmarks/bench_triton.py (batch 4, n 512..16384, d 64 and 128, causal and not) -> bench_triton.json;
#   3. every chapter run on the GPU (tests/test_gpu_notebooks.py: torch chapters must put work there);
#   4. benchmarks/sweep_triton.py, every tile configuration of the kernel at d = 128 -> sweep_triton.json.
# Results and logs go to $OUT (default benchmarks/results/gpu-run). Each stage has its own time limit so
# that a slow stage cannot starve the next. Copy bench_triton.json to benchmarks/results/bench_triton_<gpu>.json
# and re-execute notebooks/08b_gpu_kernel.ipynb to draw it. SKIP_BENCH=1 skips stage 2; CHAPTERS=05_practice
# runs only the chapters whose test ids match that pytest -k expression. The chapters need attn-course
# installed (chapter 5 reads its metadata): pip install -e . (or --target with PYTHONPATH) first.
set -u
OUT=${OUT:-benchmarks/results/gpu-run}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
PY=${PY:-python3}
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
  $PY -c "import torch, triton, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$OUT/env.txt"
PYTEST="$PY -m pytest -q -p no:cacheprovider -o addopts= -rfEs"
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 8")  # side by side where pytest-xdist is installed: compiling and autotuning are CPU work
echo "== 1. kernel tests on the GPU"; timeout 200 $PYTEST $XDIST tests/test_triton_attention.py 2>&1 | tee "$OUT/tests.log" | tail -15
[ -n "${SKIP_BENCH:-}" ] || { echo "== 2. benchmark";   timeout 170 $PY benchmarks/bench_triton.py --json "$OUT/bench_triton.json" 2>&1 | tee "$OUT/bench.log"; }
echo "== 3. chapters";    timeout 120 $PYTEST $XDIST tests/test_gpu_notebooks.py ${CHAPTERS:+-k "$CHAPTERS"} 2>&1 | tee "$OUT/notebooks.log" | tail -20
echo "== 4. sweep";       timeout 100 $PY benchmarks/sweep_triton.py --n 4096 --block-n 64 128 --stages 3 4 --json "$OUT/sweep_triton.json" 2>&1 | tee "$OUT/sweep.log" | tail -8
