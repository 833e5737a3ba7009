"""Long texts trained by several processes: train.py under torchrun with DDP (gloo on this CPU).

Real launches (`python -m torch.distributed.run --standalone`, the same launcher as
`torchrun`), real processes, real files; no mocks. `--standalone` puts the rendezvous on
localhost:0, a port the operating system picks free, so test runs side by side never
collide. Each launch costs a start of Python and torch in three processes (about 5-10 s
on this 2-core machine), so the launches are few and the models tiny.

The tolerance of the 1-vs-2-process comparison: the two runs compute the same thing in
float32, in another order. One process sums the gradient over the 4 streams of the global
batch at once; two processes sum 2 streams each and all-reduce the halves (gloo), and each
computes its loss over its own half, averaged afterwards. Each sum differs in its last
bits (float32's relative precision is 6e-8); Adam then carries those differences on.
Measured here: the weights after 16 steps differ by at most 5e-7, the losses not at all
at the 5 decimals a history keeps. The test allows 2e-5 on every weight and 1e-4 nats on
every loss, far above that rounding and far below what any real difference makes: one
step at lr 3e-3 moves weights by about 3e-3, so a process training on the wrong streams,
or without the all-reduce, fails at the first step.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import charmodels as cm
from charmodels import distributed, serving
from charmodels import longtext as lt
from charmodels.checkpoint import read_train_state, state_path

ROOT = Path(__file__).resolve().parent.parent
LINES = ["the cat sat on the mat.", "a dog ran to the log!", "we must apply; we must do."]
TEXT = "\n".join(LINES[i % 3] + f" {i % 7}" for i in range(160)) + "\nZebra ends it."
MODEL = cm.ModelConfig("lstm", 16, 2)  # two layers: dropout between them as well as before the head
# train.py's flags for the tiny run; the LongTextConfig it makes, for the same run in this process
FLAGS = ["--cell", "lstm", "--hidden-size", "16", "--layers", "2", "--seq-len", "10", "--batch-size", "4", "--precision", "fp32"]
SETTINGS = {"seq_len": 10, "batch_size": 4, "precision": "fp32"}
LAUNCH_SECONDS = 120  # one launch, start to end, on a loaded machine

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHARMODELS_CHECKPOINTS", "RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONIOENCODING"] = "utf-8"
    env["OMP_NUM_THREADS"] = "1"  # what torchrun sets for several processes; one process here gets the same
    return env


def torchrun_command(processes: int, text_file: Path, out: Path, *flags: str) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
        "train.py", "--text-file", str(text_file), "--name", "tiny", "--long", *FLAGS, "--out", str(out), *flags,
    ]  # fmt: skip


def torchrun(processes: int, text_file: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        torchrun_command(processes, text_file, out, *flags),
        check=False, cwd=ROOT, env=environment(), capture_output=True, text=True, encoding="utf-8", timeout=LAUNCH_SECONDS,
    )  # fmt: skip


@pytest.fixture
def text_file(tmp_path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def same_weights(a: cm.CharModel, b: cm.CharModel) -> bool:
    return a.info["tensor_sha256"] == b.info["tensor_sha256"]


def largest_difference(a: cm.CharModel, b: cm.CharModel) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values()))


# ---- the share of each process ---------------------------------------------------------------


def test_each_process_takes_a_contiguous_share_of_the_global_batch():
    shares = [distributed.share(8, distributed.Group(rank, 4, rank, "gloo")) for rank in range(4)]
    assert shares == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]  # streams in order: each carries its own state
    assert distributed.share(8, None) == slice(0, 8)  # alone: every stream
    with pytest.raises(ValueError, match="batch_size 6 does not split evenly over 4 processes.*multiple of 4"):
        distributed.share(6, distributed.Group(0, 4, 0, "gloo"))


def test_train_py_under_torchrun_trains_long_texts_only(tmp_path, monkeypatch, capsys):
    import train

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets; the refusal comes before joining the others
    assert train.main(["--corpus", "goethe", "--cell", "lstm", "--out", str(tmp_path / "out")]) == 2
    assert "under torchrun, train.py trains one long text" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---- 2 processes learn as 1; a run on 2 resumes on 1 -------------------------------------------


def test_two_processes_learn_as_one_with_the_same_global_batch_and_resume_on_one(tmp_path, text_file):
    """No dropout: with it, each process draws its own masks, which 1 process cannot draw (the
    only difference besides float rounding; tested exactly in the resume test below)."""
    steps = ["--dropout", "0", "--decay-start", "1", "--eval-every", "4", "--checkpoint-every", "4"]
    result = torchrun(2, text_file, tmp_path / "two", *steps, "--max-steps", "8")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 processes (torchrun, gloo): each trains 2 of the 4 streams" in result.stdout
    assert result.stdout.count("validation bpc") == 1  # rank 0 alone prints
    assert result.stdout.rstrip().endswith("(continue with the same command and --resume)")  # its last line: flushed before distributed.end's os._exit

    path = tmp_path / "two" / "tiny-lstm.safetensors"
    two = cm.load_checkpoint(path)  # an ordinary checkpoint: no wrapper's names in it
    assert list(two.state_dict()) == list(cm.CharModel(MODEL, two.vocab).state_dict())
    assert not any(name.startswith("module.") for name in two.state_dict())
    assert two.info["distributed"] == {"world_size": 2, "global_batch": 4, "batch_per_process": 2, "backend": "gloo", "world_sizes": [2]}
    tensors, meta = read_train_state(state_path(path))
    assert meta["world_size"] == 2 and tensors["carry.0"].shape == (2, 4, 16)  # every stream's state, in order
    assert not torch.equal(tensors["rng.torch"], tensors["rng.torch.rank1"])  # each process its own random numbers
    assert not any("module." in name for name in tensors)

    config = lt.LongTextConfig(**SETTINGS, dropout=0.0, decay_start=1.0, eval_every=4, checkpoint_every=4, max_steps=16)
    one, one_history = lt.train_long(TEXT, MODEL, config)  # one process, the same global batch, 16 steps
    curve = [loss for _, loss in two.info["history"]["loss"]]
    assert len(curve) == 8 and curve[0] > curve[-1]
    assert curve == pytest.approx([loss for _, loss in one_history.loss[:8]], abs=1e-4)

    # the run of 2 processes continues in this one: the carried states of all 4 streams, the optimizer, the step
    shutil.copytree(tmp_path / "two", tmp_path / "resumed")
    resumed, history = lt.train_long(TEXT, MODEL, config, tmp_path / "resumed" / "tiny-lstm.safetensors", resume=True)
    assert history.steps == 16 and history.resumed_from == [8]
    assert [loss for _, loss in history.loss] == pytest.approx([loss for _, loss in one_history.loss], abs=1e-4)
    assert largest_difference(resumed, one) < 2e-5
    assert resumed.info["distributed"]["world_sizes"] == [2, 1]

    # the checkpoint works wherever a checkpoint works: sampling, evaluation, the app
    key = serving.register_upload(path)
    assert len("".join(step.char for step in cm.generate(serving.get_model(key), "the ", 20, seed=0))) == 20
    assert cm.evaluate(two, TEXT[:300]).bpc > 0
    serving.forget(key)


# ---- a process dies; the run resumes as if it had not ----------------------------------------


def worker_pid(launcher: subprocess.Popen, rank: int, timeout: float = 60) -> int:
    """The pid of torchrun's worker of `rank` (its children carry RANK in their environment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == launcher.pid and f"RANK={rank}".encode() in environ:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError(f"torchrun's worker of rank {rank} did not appear")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker to kill")
def test_a_killed_process_ends_the_run_and_the_last_state_resumes_exactly(tmp_path, text_file):
    """Dropout on: each process's random numbers are saved and restored, so a resumed run
    draws the masks the uninterrupted one drew, and ends with the same weights, bit for bit."""
    steps = ["--dropout", "0.2", "--decay-start", "0.5", "--eval-every", "0", "--checkpoint-every", "10", "--max-steps", "150"]
    whole = torchrun(2, text_file, tmp_path / "whole", *steps)
    assert whole.returncode == 0, whole.stdout + whole.stderr

    killed_at, lines = [], []
    launcher = subprocess.Popen(
        torchrun_command(2, text_file, tmp_path / "killed", *steps),
        cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )  # fmt: skip
    try:
        victim = worker_pid(launcher, rank=1)

        def read() -> None:
            for line in launcher.stdout:
                lines.append(line)
                if line.rstrip().endswith("saved") and not killed_at:  # rank 0 wrote a state: now a worker dies
                    os.kill(victim, signal.SIGKILL)
                    killed_at.append(time.monotonic())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        launcher.wait(timeout=LAUNCH_SECONDS)
        ended = time.monotonic()
        reader.join(timeout=10)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    output = "".join(lines)
    assert killed_at, output
    assert launcher.returncode != 0 and "done (max_steps)" not in output, output  # the run ended when the worker died
    assert ended - killed_at[0] < 30, "the other process and torchrun did not end soon after the kill"
    _, meta = read_train_state(state_path(tmp_path / "killed" / "tiny-lstm.safetensors"))
    assert 10 <= meta["step"] < 150 and meta["step"] % 10 == 0  # the last state rank 0 wrote, whole

    resumed = torchrun(2, text_file, tmp_path / "killed", *steps, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"at step {meta['step']}" in resumed.stdout
    a = cm.load_checkpoint(tmp_path / "whole" / "tiny-lstm.safetensors")
    b = cm.load_checkpoint(tmp_path / "killed" / "tiny-lstm.safetensors")
    assert b.info["history"]["resumed_from"] == [meta["step"]]
    assert same_weights(a, b)  # the same weights, bit for bit
    assert a.info["history"]["loss"] == b.info["history"]["loss"]
    assert not [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]


def test_a_batch_that_does_not_split_over_the_processes_is_refused(tmp_path, text_file):
    result = torchrun(2, text_file, tmp_path / "odd", "--batch-size", "5", "--max-steps", "4")
    assert result.returncode != 0
    assert "batch_size 5 does not split evenly over 2 processes" in result.stderr
    assert 'train.py", line' not in result.stderr  # said in one line, no traceback of train.py (torchrun adds its own report)
    assert "processes (torchrun" not in result.stdout  # refused before training began
    assert not (tmp_path / "odd").exists()


# ---- GPUs --------------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here); bench/gpu_check.sh checks these paths on one")


@needs_cuda
def test_train_py_on_cuda_leaves_a_checkpoint_for_any_cpu(tmp_path, text_file, run_python):
    result = run_python("train.py", "--text-file", text_file, "--name", "tiny", "--long", *FLAGS[:-2], "--max-steps", "20", "--device", "cuda", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    model = cm.load_checkpoint(tmp_path / "tiny-lstm.safetensors")
    assert model.device.type == "cpu"
    assert model.info["train_config"]["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert model.info["distributed"]["world_size"] == 1
    assert len("".join(step.char for step in cm.generate(model, "the ", 20, seed=0))) == 20
    assert cm.evaluate(model, TEXT[:300]).bpc > 0


@needs_cuda
def test_torchrun_with_nccl_trains_one_process_per_gpu(tmp_path, text_file):
    gpus = torch.cuda.device_count()
    processes = 2 if gpus >= 2 else 1
    result = torchrun(processes, text_file, tmp_path / "nccl", "--max-steps", "12", "--device", "cuda", "--precision", "bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert result.returncode == 0, result.stdout + result.stderr
    model = cm.load_checkpoint(tmp_path / "nccl" / "tiny-lstm.safetensors")
    assert model.info["distributed"]["backend"] == "nccl" and model.info["distributed"]["world_size"] == processes
    assert len("".join(step.char for step in cm.generate(model, "the ", 20, seed=0))) == 20
