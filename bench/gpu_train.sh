#!/usr/bin/env bash
# The one device call: environment, attention check, training rows short to long (bench/gpu_session.py; its header
# gives each stage's limit and expected time: ~6-7 minutes in all, leaving a rerun inside 15 minutes of device time).
# Once, here, with network to PyPI:  python bench/device_env.py download   (the wheels the device lacks, into .whl/)
# Then, through the device tool:      run(command="bash bench/gpu_train.sh", carry=[".whl"], timeout_s=540)
# Rehearsed on CPU by the test suite:  python bench/gpu_session.py --rehearse --out DIR
# Results (under $OUT): env.json, attention.log, rows.jsonl, rows.log, train.md; copy train.md's table into
# bench/RESULTS.md with the card and date.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/device.txt" 2>&1
python3 bench/gpu_session.py --out "$OUT" --budget-s "${BUDGET_S:-420}"
