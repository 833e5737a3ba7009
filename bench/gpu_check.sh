#!/usr/bin/env bash
# GPU end to end (issue 15): the CUDA and NCCL paths of long-text training, checked on a
# machine with a CUDA GPU in about 2-3 minutes. From the repository root:
#
#     bash bench/gpu_check.sh                 # PYTHON=/path/to/python to choose the interpreter
#
# 1. train.py --device cuda in one process (bf16 autocast where the GPU supports it);
# 2. its checkpoint in a process that sees no GPU (CUDA_VISIBLE_DEVICES=""): loads, samples,
#    evaluates, and goes through the app's model registry (charmodels.serving);
# 3. torchrun with NCCL, one process per GPU (2 where there are 2 or more), and its checkpoint
#    on the CPU likewise;
# 4. a torchrun run stopped and resumed under NCCL against one that never stopped (dropout 0:
#    cuDNN keeps its dropout state inside the library, where no training state can save it);
#    equal weights say PASS, a difference is reported as WARN with its size, since GPU
#    kernels need not be bit-reproducible;
# 5. the GPU tests of tests/test_ddp.py and tests/test_longtext.py, where pytest is installed.
#
# Prints one PASS / FAIL / WARN / SKIP line per check and a summary; exits 1 if any failed.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
passed=0
failed=0

say_pass() { echo "PASS $1"; passed=$((passed + 1)); }
say_fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# check NAME COMMAND...: runs COMMAND; PASS if it exits 0, else FAIL with the end of its output
check() {
  local name=$1
  shift
  local started=$SECONDS
  if output=$("$@" 2>&1); then
    say_pass "$name ($((SECONDS - started)) s)"
  else
    say_fail "$name ($((SECONDS - started)) s)"
    echo "$output" | tail -30 | sed 's/^/    | /'
  fi
}

if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "FAIL cuda: $PY sees no CUDA GPU ($($PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1))"
  exit 1
fi
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")
PRECISION=$($PY -c "import torch; print('bf16' if torch.cuda.is_bf16_supported() else 'fp32')")
NCCL=$($PY -c "import torch.distributed as d; print(int(d.is_available() and d.is_nccl_available()))")
PROCESSES=$((GPUS >= 2 ? 2 : 1))
echo "INFO $($PY -c "import torch; print(torch.cuda.get_device_name(0), '| torch', torch.__version__, '| CUDA', torch.version.cuda)") | $GPUS GPU(s) | precision by device: $PRECISION | NCCL: $NCCL"

# A text of about 300,000 characters from the built-in corpora, so the check needs no download.
$PY - "$WORK/text.txt" <<'EOF'
import sys
from charmodels.corpora import CORPORA
texts = [corpus.text for corpus in CORPORA.values()]
parts = [texts[i % len(texts)] + f" {i % 97}\n" for i in range(3000)]
open(sys.argv[1], "w", encoding="utf-8").write("".join(parts)[:300_000])
EOF

LONG=(--text-file "$WORK/text.txt" --name gpu --long --eval-every 100 --checkpoint-every 100)

# On a CPU-only process: load, sample, evaluate, the app's registry; the record says how it trained.
ON_CPU=$(cat <<'EOF'
import math, os, sys
import torch
from charmodels import evaluate, generate, load_checkpoint, serving
path, processes, backend, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
assert not torch.cuda.is_available(), "this process should see no GPU"
model = load_checkpoint(path)
assert model.device.type == "cpu"
record = model.info["distributed"]
assert record["world_size"] == processes and str(record["backend"]) == backend, record
assert model.info["train_config"]["precision"] == precision, model.info["train_config"]
assert model.info["train_config"]["device"].startswith("cuda")
text = "".join(step.char for step in generate(model, "the ", 80, temperature=0.8, seed=1))
assert len(text) == 80
bpc = evaluate(model, open(os.environ["CHECK_TEXT"], encoding="utf-8").read()[:20_000]).bpc
assert math.isfinite(bpc), bpc
key = serving.register_upload(path)
assert "".join(step.char for step in generate(serving.get_model(key), "the ", 20, seed=0)) == "".join(step.char for step in generate(model, "the ", 20, seed=0))
print(f"val bpc {model.info['validation']['bpc']:.3f}, bpc on 20,000 characters {bpc:.3f}, sample: the {text!r}")
EOF
)
export CHECK_TEXT="$WORK/text.txt"

check "train.py --device cuda, one process ($PRECISION)" $PY train.py "${LONG[@]}" --max-steps 300 --device cuda --out "$WORK/single"
check "its checkpoint on a CPU-only process: loads, samples, evaluates, the app's registry" \
  env CUDA_VISIBLE_DEVICES= $PY -c "$ON_CPU" "$WORK/single/gpu-lstm.safetensors" 1 None "$PRECISION"

if [ "$NCCL" != 1 ]; then
  echo "SKIP torchrun with NCCL: this torch build has no NCCL"
else
  TORCHRUN=($PY -m torch.distributed.run --standalone --nproc_per_node=$PROCESSES train.py "${LONG[@]}" --device cuda)
  check "torchrun --nproc_per_node=$PROCESSES with NCCL, one GPU per process" "${TORCHRUN[@]}" --max-steps 300 --out "$WORK/nccl"
  check "its checkpoint on a CPU-only process" \
    env CUDA_VISIBLE_DEVICES= $PY -c "$ON_CPU" "$WORK/nccl/gpu-lstm.safetensors" "$PROCESSES" nccl "$PRECISION"

  EXACT=(--dropout 0 --decay-start 1)
  if "${TORCHRUN[@]}" "${EXACT[@]}" --max-steps 200 --out "$WORK/whole" >"$WORK/whole.log" 2>&1 &&
    "${TORCHRUN[@]}" "${EXACT[@]}" --max-steps 100 --out "$WORK/split" >"$WORK/split.log" 2>&1 &&
    "${TORCHRUN[@]}" "${EXACT[@]}" --max-steps 200 --out "$WORK/split" --resume >>"$WORK/split.log" 2>&1; then
    verdict=$($PY - "$WORK/whole/gpu-lstm.safetensors" "$WORK/split/gpu-lstm.safetensors" <<'EOF'
import sys
from charmodels import load_checkpoint
a, b = (load_checkpoint(p) for p in sys.argv[1:])
assert b.info["history"]["resumed_from"] == [100], b.info["history"]["resumed_from"]
if a.info["tensor_sha256"] == b.info["tensor_sha256"]:
    print("PASS")
else:
    worst = max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    print(f"WARN the weights differ by at most {worst:.2e}")
EOF
    )
    case $verdict in
      PASS) say_pass "torchrun + NCCL stopped at 100 and resumed to 200 = 200 without a stop, bit for bit" ;;
      WARN*) echo "WARN torchrun + NCCL resumed: ${verdict#WARN } (GPU kernels are not promised bit-reproducible)" ;;
      *) say_fail "torchrun + NCCL resume: $verdict" ;;
    esac
  else
    say_fail "torchrun + NCCL stop and resume"
    tail -30 "$WORK/whole.log" "$WORK/split.log" | sed 's/^/    | /'
  fi
fi

if $PY -c "import pytest" 2>/dev/null; then
  check "pytest: the GPU tests of tests/test_ddp.py and tests/test_longtext.py" \
    $PY -m pytest -q -p no:cacheprovider tests/test_ddp.py tests/test_longtext.py -k "cuda or nccl"
else
  echo "SKIP pytest's GPU tests: pytest is not installed for $PY"
fi

echo "gpu_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
