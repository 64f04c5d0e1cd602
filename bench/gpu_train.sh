#!/usr/bin/env bash
# One GPU session (one H200, no network; ~8 minutes): the CUDA-only attention paths, then the
# throughput bench. Run from the repository root through the device tool, e.g.
#   run(command="bash bench/gpu_train.sh", carry=[".whl"], timeout_s=590)
# The machine's python3 has torch 2.11 and transformers 5.17; this code was written against transformers 5.24. To run
# with that version, fetch its wheel here first (the folder is git-ignored and travels through `carry`):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl transformers==5.24.0
# Results: $OUT/attention.log, $OUT/bench.log, $OUT/train.md (bench/results/train.md with the GPU section filled).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$OUT/device.txt"
timeout 150 python3 bench/gpu_attention_check.py 2>&1 | tee "$OUT/attention.log"
timeout 420 python3 bench/train.py --budget-s 330 2>&1 | tee "$OUT/bench.log"
cp bench/results/train.md "$OUT/train.md"
