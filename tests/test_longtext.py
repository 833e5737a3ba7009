"""Long-text training (charmodels.longtext): the split, the batches of truncated BPTT,
validation bpc, exact resume from safetensors training state, and train.py's long mode."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import charmodels as cm
from charmodels import data, metrics
from charmodels import longtext as lt
from charmodels.checkpoint import read_train_state, state_path

# A small text with some structure to learn and a character ('Z') only in its last lines.
LINES = ["the cat sat on the mat.", "a dog ran to the log!", "we must apply; we must do."]
TEXT = "\n".join(LINES[i % 3] + f" {i % 7}" for i in range(160)) + "\nZebra ends it."
TINY = cm.ModelConfig("lstm", 16, 1)


def tiny_config(**changes) -> lt.LongTextConfig:
    # dropout draws random numbers at every step: exact resume needs the RNG state restored
    settings = dict(seq_len=12, batch_size=4, lr=1e-2, max_steps=24, eval_every=8, checkpoint_every=5, decay_start=0.5, dropout=0.2)
    return lt.LongTextConfig(**{**settings, **changes})


# ---- split and batches -------------------------------------------------------------------


def test_split_holds_out_the_end_and_keeps_the_whole_vocabulary():
    split = data.split_text(TEXT, 0.1)
    assert split.vocab == cm.Vocab.from_text(TEXT)  # 'Z' appears only in the held-out part, and is known
    assert "Z" in split.vocab and "Z" not in split.vocab.decode(split.train.tolist())
    assert len(split.val) == round(len(TEXT) * 0.1)
    assert split.vocab.decode(split.train.tolist()) + split.vocab.decode(split.val.tolist()) == TEXT  # no overlap, nothing lost
    assert split.train.dtype == torch.int32 and split.val.dtype == torch.int32  # ids, never one-hot vectors


def test_encode_ids_matches_the_vocabulary_and_names_unknown_characters():
    vocab = cm.Vocab("abc한")
    assert data.encode_ids("cab한a", vocab).tolist() == vocab.encode("cab한a")
    with pytest.raises(cm.UnknownCharacterError, match="'z'"):
        data.encode_ids("abz", vocab)


def test_windows_cover_the_training_text_with_targets_shifted_by_one():
    ids = torch.arange(103, dtype=torch.int32)  # ids equal to positions make coverage visible
    streams = data.Streams(ids, batch_size=4, seq_len=7)
    assert streams.length == 25 and streams.windows == 4  # 25 = (103 - 1) // 4, the last window is 4 long
    assert streams.inputs.data_ptr() == ids.data_ptr()  # a view of the ids, no copy of the text
    windows = [streams.window(w) for w in range(streams.windows)]
    inputs = torch.cat([x for x, _ in windows], dim=1)
    targets = torch.cat([y for _, y in windows], dim=1)
    assert [x.shape[1] for x, _ in windows] == [7, 7, 7, 4]
    assert torch.equal(targets, inputs + 1)  # every target is the next character
    assert sorted(inputs.flatten().tolist()) == list(range(100))  # each position read exactly once
    assert torch.equal(inputs[1], torch.arange(25, 50))  # stream b continues where stream b-1 ended
    assert 103 - 1 - inputs.numel() < 4  # fewer than batch_size characters left out at the very end
    with pytest.raises(ValueError, match="lower the batch size"):
        data.Streams(torch.arange(4, dtype=torch.int32), batch_size=8, seq_len=2)


def test_held_out_bpc_equals_reading_the_text_at_once(make_model):
    model = make_model("gru", hidden_size=8, chars="abcdefgh")
    ids = torch.randint(0, 8, (301,), generator=torch.Generator().manual_seed(1)).int()
    with torch.no_grad():
        logits, _ = model(ids[:-1].long().unsqueeze(0))
    direct = F.cross_entropy(logits[0].double(), ids[1:].long()).item() / math.log(2)
    assert metrics.held_out_bpc(model, ids, streams=1, chunk=7) == pytest.approx(direct, rel=1e-5)
    assert metrics.held_out_bpc(model, ids, streams=1, chunk=500) == pytest.approx(direct, rel=1e-5)
    # side-by-side streams with warm-up read the same targets: close to one pass, not equal
    assert metrics.held_out_bpc(model, ids, streams=5, chunk=16) == pytest.approx(direct, rel=0.02)


# ---- the config and the device -----------------------------------------------------------


def test_config_needs_a_limit_and_names_valid_optimizers():
    with pytest.raises(ValueError, match="needs a limit"):
        lt.LongTextConfig()
    with pytest.raises(ValueError, match="adam, rmsprop, sgd"):
        lt.LongTextConfig(optimizer="adagrad", max_steps=1)
    with pytest.raises(ValueError, match="val_fraction"):
        lt.LongTextConfig(val_fraction=0.0, max_steps=1)
    with pytest.raises(ValueError, match="dropout"):
        lt.LongTextConfig(dropout=1.0, max_steps=1)
    with pytest.raises(ValueError, match="precision must be one of: fp32, bf16"):
        lt.LongTextConfig(precision="fp16", max_steps=1)
    with pytest.raises(ValueError, match="weight_decay"):
        lt.LongTextConfig(weight_decay=-0.1, max_steps=1)


def test_a_training_state_saved_before_a_recipe_field_existed_resumes_as_it_began():
    older = {k: v for k, v in lt.LongTextConfig(max_steps=5).to_dict().items() if k not in ("precision", "weight_decay")}
    config = lt.saved_config({"config": older})
    assert (config.precision, config.weight_decay) == ("fp32", 0.0)  # how such runs trained
    assert lt.saved_config({"config": {**older, "weight_decay": 0.3}}).weight_decay == 0.3


def test_dropout_is_for_training_only(tmp_path):
    model, _ = lt.train_long(TEXT, cm.ModelConfig("lstm", 16, 2), tiny_config(max_steps=3), tmp_path / "d.safetensors")
    assert model.rnn.dropout == 0.0 and not model.head._forward_pre_hooks  # nothing left behind
    loaded = cm.load_checkpoint(tmp_path / "d.safetensors")
    assert loaded.info["train_config"]["dropout"] == 0.2 and loaded.rnn.dropout == 0.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available.*--device cpu"):
        lt.train_long(TEXT, TINY, tiny_config(device="cuda"))
    with pytest.raises(ValueError, match="device"):
        lt.LongTextConfig(device="gpu", max_steps=1)


# ---- training, checkpoints and exact resume ----------------------------------------------


@pytest.mark.parametrize("cell, precision", [("lstm", "fp32"), ("gru", "fp32"), ("lstm", "bf16")])
def test_interrupted_and_resumed_run_ends_bit_identical(tmp_path, cell, precision):
    model_config = cm.ModelConfig(cell, 16, 2)
    config = tiny_config(precision=precision)
    whole, whole_history = lt.train_long(TEXT, model_config, config, tmp_path / "whole.safetensors")
    stopped, stopped_history = lt.train_long(TEXT, model_config, config, tmp_path / "split.safetensors", on_step=lambda p: p.step < 11)
    assert stopped_history.stopped and stopped_history.steps == 11  # stopped mid-epoch, mid-decay, between checkpoints
    resumed, history = lt.train_long(TEXT, model_config, config, tmp_path / "split.safetensors", resume=True)
    assert history.steps == 24 and history.resumed_from == [11]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert history.loss == whole_history.loss  # the same losses at every step
    assert cm.load_checkpoint(tmp_path / "split.safetensors").info["tensor_sha256"] == cm.load_checkpoint(
        tmp_path / "whole.safetensors"
    ).info["tensor_sha256"]


def test_training_state_is_safetensors_without_pickle_and_loads_back(tmp_path):
    path = tmp_path / "run.safetensors"
    lt.train_long(TEXT, TINY, tiny_config(max_steps=7, optimizer="rmsprop"), path)
    state = state_path(path)
    assert state.name == "run.train-state.safetensors" and state.is_file()
    data = state.read_bytes()
    assert not data.startswith(b"\x80") and not data.startswith(b"PK")  # neither a pickle nor a torch.save zip
    from safetensors.torch import load

    assert set(load(data)) >= {"rng.torch", "carry.0", "carry.1", "optimizer.0.square_avg", "optimizer.0.step"}
    tensors, meta = read_train_state(state)
    assert tensors["rng.torch"].dtype == torch.uint8
    assert meta["step"] == 7 and meta["config"]["optimizer"] == "rmsprop" and meta["corpus_sha256"] == cm.Corpus("t", TEXT, "").sha256
    assert meta["optimizer_param_groups"][0]["alpha"] == 0.95
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.safetensors", "run.train-state.safetensors"]  # no temp files
    source = (Path(lt.__file__)).read_text(encoding="utf-8")
    assert "torch.save" not in source and "torch.load" not in source and "import pickle" not in source

    state.write_bytes(b"\x80\x04" + data[2:40])
    with pytest.raises(cm.CheckpointError, match="pickle"):
        read_train_state(state)


def test_resume_refuses_another_recipe_and_another_text(tmp_path):
    path = tmp_path / "run.safetensors"
    lt.train_long(TEXT, TINY, tiny_config(max_steps=6, decay_start=1.0), path)
    with pytest.raises(ValueError, match="lr 0.01 -> 0.02"):
        lt.train_long(TEXT, TINY, tiny_config(max_steps=9, lr=0.02, decay_start=1.0), path, resume=True)
    with pytest.raises(ValueError, match="another text"):
        lt.train_long(TEXT + "!", TINY, tiny_config(max_steps=9, decay_start=1.0), path, resume=True)
    _, history = lt.train_long(TEXT, TINY, tiny_config(max_steps=9, decay_start=1.0), path, resume=True)
    assert history.steps == 9  # a constant learning rate: the run may go on past its first limit


def test_resume_keeps_the_learning_rate_schedule(tmp_path):
    """Defect: resumed with a larger --max-steps, the rate jumped from 7.5e-6 back up to 3e-3."""
    path = tmp_path / "run.safetensors"
    seen = []
    lt.train_long(TEXT, TINY, tiny_config(max_steps=12, decay_start=0.5), path, on_step=lambda p: seen.append(p.lr))
    assert seen[-1] < seen[0] / 5  # decayed toward 0 at the limit
    with pytest.raises(ValueError, match=r"max_steps 12 -> 24 \(the learning rate decays to 0 at this run's limit"):
        lt.train_long(TEXT, TINY, tiny_config(max_steps=24, decay_start=0.5), path, resume=True)
    with pytest.raises(ValueError, match="time_limit 0.0 -> 60"):
        lt.train_long(TEXT, TINY, tiny_config(max_steps=12, time_limit=60, decay_start=0.5), path, resume=True)
    # the same limits continue exactly (here: nothing left to do), with the rates of the schedule
    _, history = lt.train_long(TEXT, TINY, tiny_config(max_steps=12, decay_start=0.5), path, resume=True)
    assert history.steps == 12


@pytest.mark.parametrize("optimizer", sorted(lt.OPTIMIZERS))
def test_each_optimizer_learns_with_its_own_default_weight_decay(tmp_path, optimizer):
    """Defect: rmsprop and sgd got AdamW's weight decay 0.1 as L2, and stopped learning."""
    config = lt.LongTextConfig(
        seq_len=24, batch_size=8, lr={"adam": 1e-2, "rmsprop": 5e-3, "sgd": 0.5}[optimizer], optimizer=optimizer,
        max_steps=120, eval_every=0, checkpoint_every=0, decay_start=1.0, dropout=0.0, precision="fp32",
    )
    assert config.weight_decay == {"adam": 0.1, "rmsprop": 0.0, "sgd": 0.0}[optimizer]
    text = "the cat sat on the mat. " * 300
    untrained = metrics.held_out_bpc(cm.CharModel(cm.ModelConfig("lstm", 32), cm.Vocab.from_text(text)), data.split_text(text, 0.05).val)
    _, history = lt.train_long(text, cm.ModelConfig("lstm", 32), config)
    assert history.val_bpc < 1.0 < untrained, (optimizer, history.val_bpc, untrained)
    assert lt.LongTextConfig(optimizer=optimizer, weight_decay=0.3, max_steps=1).weight_decay == 0.3  # an explicit value wins


def test_the_training_state_alone_resumes_exactly_whatever_the_checkpoint_beside_it(tmp_path):
    """Defect: a kill between writing the checkpoint and the state left a pair --resume refused.
    The state now carries the weights: whichever of the two files is newer, or if the
    checkpoint is gone, resuming continues exactly."""
    config = tiny_config()
    whole, _ = lt.train_long(TEXT, TINY, config, tmp_path / "whole.safetensors")
    path = tmp_path / "run.safetensors"
    state = state_path(path)
    lt.train_long(TEXT, TINY, config, path, on_step=lambda p: p.step < 6)
    checkpoint_at_6, state_at_6 = path.read_bytes(), state.read_bytes()
    lt.train_long(TEXT, TINY, config, path, on_step=lambda p: p.step < 9, resume=True)
    for case, (checkpoint, saved_state) in {
        "state older than the checkpoint": (path.read_bytes(), state_at_6),
        "checkpoint older than the state": (checkpoint_at_6, state.read_bytes()),
        "checkpoint gone": (None, state.read_bytes()),
    }.items():
        if checkpoint is None:
            path.unlink()
        else:
            path.write_bytes(checkpoint)
        state.write_bytes(saved_state)
        resumed, history = lt.train_long(TEXT, TINY, config, path, resume=True)
        assert history.steps == 24, case
        for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
            assert torch.equal(a, b), (case, name)
        path.write_bytes(checkpoint_at_6)


def test_precision_follows_the_device():
    assert lt.LongTextConfig(max_steps=1).precision == ("bf16" if lt.native_bf16("cpu") else "fp32")
    assert lt.LongTextConfig(max_steps=1, precision="fp32").precision == "fp32"
    if not torch.cuda.is_available():
        assert not lt.native_bf16("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_validation_bpc_falls_on_a_repetitive_text(tmp_path, precision):
    text = "the cat sat on the mat. " * 300
    config = lt.LongTextConfig(
        seq_len=24, batch_size=8, lr=1e-2, max_steps=150, eval_every=25, checkpoint_every=0, decay_start=1.0, dropout=0.0, precision=precision
    )
    seen = []
    model, history = lt.train_long(text, cm.ModelConfig("lstm", 32), config, tmp_path / "cat.safetensors", on_step=seen.append)
    first, last = history.val[0][1], history.val[-1][1]
    assert [step for step, _ in history.val] == [25, 50, 75, 100, 125, 150]
    assert last < first / 2 and last < 0.5, history.val
    assert [p.step for p in seen] == list(range(1, 151))
    assert all(p.eta is not None and p.chars_per_s > 0 for p in seen)
    assert seen[-1].eta == 0 and seen[24].evaluated and seen[24].val_bpc == pytest.approx(first, abs=1e-5)

    loaded = cm.load_checkpoint(tmp_path / "cat.safetensors")  # a normal checkpoint
    corpus = loaded.info["corpus"]
    assert corpus["chars"] == len(text) and corpus["sha256"] == cm.Corpus("t", text, "").sha256
    assert loaded.info["validation"]["bpc"] == pytest.approx(last) and loaded.info["validation"]["step"] == 150
    assert loaded.info["history"]["steps"] == 150
    assert all(t.dtype == torch.float32 for t in loaded.state_dict().values())  # bf16 is only how the forward ran
    assert "".join(s.char for s in cm.generate(loaded, "the cat ", 15)) == "sat on the mat."


# ---- train.py and the eval CLI -------------------------------------------------------------


def test_train_py_long_mode_resume_and_eval(tmp_path, run_python):
    text_file = tmp_path / "tiny.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    common = ["train.py", "--text-file", text_file, "--name", "tiny", "--long", "--cell", "gru", "--hidden-size", "16"]
    common += ["--layers", "1", "--seq-len", "10", "--batch-size", "4", "--decay-start", "1", "--eval-every", "5"]
    whole = run_python(*common, "--out", tmp_path / "whole", "--max-steps", "16")
    assert whole.returncode == 0, whole.stderr
    assert "long-text mode (--long)" in whole.stdout and "ETA" in whole.stdout
    assert "validation bpc" in whole.stdout and "train loss" in whole.stdout and "chars/s" in whole.stdout

    first = run_python(*common, "--out", tmp_path / "split", "--max-steps", "9")
    assert first.returncode == 0, first.stderr
    again = run_python(*common, "--out", tmp_path / "split", "--max-steps", "9")
    assert again.returncode == 2 and "--resume" in again.stderr  # never overwrites a run silently
    resumed = run_python(*common, "--out", tmp_path / "split", "--max-steps", "16", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "at step 9" in resumed.stdout
    a = cm.load_checkpoint(tmp_path / "whole" / "tiny-gru.safetensors")
    b = cm.load_checkpoint(tmp_path / "split" / "tiny-gru.safetensors")
    assert a.info["tensor_sha256"] == b.info["tensor_sha256"]  # the same weights, bit for bit

    path = tmp_path / "whole" / "tiny-gru.safetensors"
    assert a.info["corpus"]["text"] == TEXT  # a text this short travels with its checkpoint
    for extra in ([], ["--text-file", text_file]):
        measured = run_python("-m", "charmodels", "eval", path, *extra, "--json")
        assert measured.returncode == 0, measured.stderr
        assert json.loads(measured.stdout)["val_bpc"] == pytest.approx(a.info["validation"]["bpc"], abs=1e-4)

    cuda = run_python(*common, "--out", tmp_path / "cuda", "--max-steps", "2", "--device", "cuda")
    if not torch.cuda.is_available():
        assert cuda.returncode == 2 and "CUDA is not available" in cuda.stderr and "Traceback" not in cuda.stderr


def test_train_py_keeps_long_flags_out_of_short_texts(tmp_path, run_python):
    text_file = tmp_path / "t.txt"
    text_file.write_text("abcabc", encoding="utf-8")
    result = run_python("train.py", "--text-file", text_file, "--name", "t", "--seq-len", "5", "--out", tmp_path / "out")
    assert result.returncode == 2 and "--seq-len" in result.stderr and "--long" in result.stderr
    assert not (tmp_path / "out").exists()
