"""python -m charmodels list | sample | eval | explain | publish | gradflow | surprise | recital | course:
checkpoints from a terminal.

A checkpoint is a shipped name (goethe-lstm), a .safetensors path (your own, saved with
save_checkpoint), a folder written by save_pretrained, hf://owner/repo (a model repo's
model.safetensors) or hf://owner/repo/file.safetensors. `sample` takes the library's
arguments with the library's meaning: --top-k 0 = off, --top-p 1 = off, --seed -1 = random.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .checkpoint import corpus_of, load_checkpoint, read_metadata, shipped_names
from .corpora import CORPORA, Corpus
from .data import split_text
from .errors import CharmodelsError, describe
from .metrics import evaluate, held_out_bpc
from .model import CharModel
from .sampling import MAX_LENGTH, MAX_TEMPERATURE, generate


def _list(args: argparse.Namespace) -> int:
    rows = []
    for name in shipped_names():
        if name.endswith(".train-state"):  # a long-text run's training state beside its checkpoint
            continue
        meta = read_metadata(name)
        corpus = meta.get("corpus", {})
        rows.append(
            {
                "name": name,
                "corpus": corpus.get("name"),
                "cell": meta["model_config"]["cell"],
                "parameters": meta.get("parameters"),
                **meta.get("metrics", {}),
            }
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'name':16s} {'params':>8s} {'tf_acc':>7s} {'recon':>7s} {'bpc':>7s} {'min_p':>6s}")
    for r in rows:
        if "tf_acc" not in r:  # a long-text checkpoint: measured on held-out text, not by the quality bar
            print(f"{r['name']:16s} {r['parameters'] or 0:8,d}       -       -       -      -  (long text)")
            continue
        print(f"{r['name']:16s} {r['parameters'] or 0:8,d} {r['tf_acc']:7.1%} {r['recon']:7.1%} {r['bpc']:7.4f} {r['min_p']:6.3f}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    # generate() checks every argument (check_sampling, check_prompt) before it loads anything
    steps = generate(args.checkpoint, args.prompt, args.length, args.temperature, args.top_k, args.top_p, args.seed)
    if args.json:
        written = [{"char": s.char, "prob": s.prob} for s in steps]
        text = "".join(s["char"] for s in written)
        print(json.dumps({"prompt": args.prompt, "text": text, "steps": written}, ensure_ascii=False))
        return 0
    sys.stdout.write(args.prompt)
    for step in steps:
        sys.stdout.write(step.char)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as error:
        raise CharmodelsError("cli_text_unreadable", path=str(path), detail=error.strerror or str(error)) from error
    except UnicodeDecodeError as error:
        detail = describe("file_not_utf8", {"at": error.start})
        raise CharmodelsError("cli_text_unreadable", path=str(path), detail=detail) from error


def _eval_long(args: argparse.Namespace, model: CharModel) -> int:
    """Validation bpc of a long-text checkpoint on the held-out end of its text: the text it
    carries (up to checkpoint.EMBED_TEXT_UP_TO characters), else the file given again."""
    record, validation = model.info.get("corpus", {}), model.info["validation"]
    about = f"{record.get('name')!r} ({record.get('chars', 0):,} characters, sha256 {str(record.get('sha256'))[:12]}…)"
    carried = corpus_of(model)
    if args.text_file is not None:
        text = _read_text(args.text_file)
    elif carried is not None:
        text = carried.text
    else:
        raise CharmodelsError("cli_long_text", about=about)
    if Corpus("text", text, "").sha256 != record.get("sha256"):
        raise CharmodelsError("cli_text_mismatch", path=str(args.text_file), about=about)
    split = split_text(text, validation["fraction"])
    bpc = held_out_bpc(model, split.val)
    result = {"checkpoint": args.checkpoint, "corpus": record.get("name"), "val_bpc": bpc, "val_fraction": validation["fraction"]}
    result["val_chars"] = len(split.val)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"val_bpc {bpc:.4f} on the held-out last {validation['fraction']:.0%} ({len(split.val):,} characters)")
    return 0


def _own_corpus(model: CharModel) -> Corpus | None:
    """The text a checkpoint was trained on: carried in the file, or a built-in corpus with
    the same SHA-256 (a record naming "goethe" is not enough: the text must be the same)."""
    carried = corpus_of(model)
    if carried is not None:
        return carried
    record = model.info.get("corpus") or {}
    builtin = CORPORA.get(record.get("name", ""))
    return builtin if builtin is not None and builtin.sha256 == record.get("sha256") else None


def _eval(args: argparse.Namespace) -> int:
    model = load_checkpoint(args.checkpoint)
    if "validation" in model.info:
        return _eval_long(args, model)
    if args.text_file is not None:
        # any text, read the way the checkpoint was trained (as lines when its corpus was)
        lines = bool((model.info.get("corpus") or {}).get("lines"))
        corpus = Corpus(args.text_file.stem, _read_text(args.text_file), f"the file {args.text_file.name}", lines)
    else:
        corpus = _own_corpus(model)
        if corpus is None:
            raise CharmodelsError("cli_no_text")
    metrics = evaluate(model, corpus)
    result = {"checkpoint": args.checkpoint, "corpus": corpus.name, **metrics.to_dict(), "meets_bar": metrics.meets_bar}
    if args.text_file is not None:
        result["text_file"] = str(args.text_file)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key in ("tf_acc", "recon"):
            print(f"{key:7s} {result[key]:.1%}")
        print(f"bpc     {metrics.bpc:.4f}")
        print(f"min_p   {metrics.min_p:.3f}")
        print("meets the quality bar" if metrics.meets_bar else "BELOW the quality bar (tf_acc = recon = 100%, min_p >= 0.9)")
    return 0 if metrics.meets_bar else 1


NAMES = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}
# each gate's equation in the seeds' notation (torch's convention for the GRU, said in the card)
EQUATIONS = {
    "h": "h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)",
    "i": "i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)",
    "f": "f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)",
    "g": "g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)",
    "o": "o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)",
    "r": "r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)",
    "z": "z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)",
    "n": "n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))",
}


def _char(c: str) -> str:
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c, c)


def _dot_text(dot) -> str:
    """w×v + w×v + ... + k more (their sum) = total."""
    parts = [f"{t.weight:.4f}×{t.value:.4f}" for t in dot.terms]
    if dot.rest_count:
        parts.append(f"{dot.rest_count} more ({dot.rest:+.4f})")
    return f"{' + '.join(parts)} = {dot.total:.4f}"


def card_text(name: str, e) -> str:
    """A step explained (charmodels.explain.Explained) as the text of a terminal card."""
    x_name = "x_t" if e.layer == 0 else f"h_t of layer {e.layer}"
    lines = [
        f"{name}: {NAMES[e.cell]}, {e.layers} layer(s) x {e.hidden} units, "
        + (f"one-hot input over {len(e.input.vocab)} characters" if e.input.one_hot else f"embedding of {len(e.input.vector)} numbers"),
        f"prompt read: {e.prompt!r}" + (f" (its last {len(e.prompt):,} characters: {e.left_out:,} left out)" if e.left_out else ""),
        f"step t = {e.t} reads {_char(e.char)!r}, layer {e.layer + 1} of {e.layers}",
    ]
    if e.input.one_hot:
        cells = " ".join(f"[{_char(c)}]" if k == e.input.index else _char(c) for k, c in enumerate(e.input.vocab))
        lines.append(f"x_t = one-hot position {e.input.index} of {len(e.input.vocab)}: {cells}")
    else:
        lines.append(f"x_t = embedding row {e.input.index}: [{', '.join(f'{v:.4f}' for v in e.input.vector)}]")
    if e.cell == "gru":
        lines.append("GRU in torch's convention: h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1} (z keeps the old state; "
                     "colah's notes swap z and 1 - z), and r_t scales W_hn h_{t-1} + b_hn")
    if e.cell in ("lstm", "gru"):
        lines.append("torch keeps two biases, b_x + b_h: b is their sum" + (" (the GRU's n keeps them apart)" if e.cell == "gru" else ""))
    for unit in e.units:
        lines.append("")
        lines.append(f"unit {unit.unit}: h_{{t-1}} = {unit.h_prev:.4f}" + (f", c_{{t-1}} = {unit.c_prev:.4f}" if unit.c_prev is not None else ""))
        for g in unit.gates:
            lines.append(f"  {EQUATIONS[g.gate]}")
            lines.append(f"    W_x{g.gate if g.gate != 'h' else 'h'}[{g.row}]·{x_name}: {_dot_text(g.x_part)}")
            lines.append(f"    W_h{g.gate if g.gate != 'h' else 'h'}[{g.row}]·h_{{t-1}}: {_dot_text(g.h_part)}")
            if g.bias_h is None:
                lines.append(f"    b = {g.bias:.4f}   sum = {g.pre:.4f}   {g.gate}_t = {g.value:.4f}")
            else:
                lines.append(f"    b_xn = {g.bias:.4f}   b_hn = {g.bias_h:.4f}   sum = {g.pre:.4f}   n_t = {g.value:.4f}")
        if e.cell == "lstm":
            i, f, g, o = (x.value for x in unit.gates)
            lines.append(f"  c_t = f_t ⊙ c_{{t-1}} + i_t ⊙ g_t = {f:.4f}×{unit.c_prev:.4f} + {i:.4f}×{g:.4f} = {unit.c:.4f}")
            lines.append(f"  h_t = o_t ⊙ tanh(c_t) = {o:.4f}×{np.tanh(unit.c):.4f} = {unit.h:.4f}")
        elif e.cell == "gru":
            z, n = unit.gates[1].value, unit.gates[2].value
            lines.append(f"  h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{{t-1}} = {1 - z:.4f}×{n:.4f} + {z:.4f}×{unit.h_prev:.4f} = {unit.h:.4f}")
    s = e.softmax
    lines += ["", "head: logit_j = W_hy[j]·h_t + b_y[j]"]
    for c in e.head.candidates:
        lines.append(f"  {_char(c.char)!r}: {_dot_text(c.dot)}, + b_y ({c.bias:.4f}) = {c.logit:.4f}")
    lines.append("")
    if s.temperature == 0:
        lines.append("softmax: temperature 0 = greedy, all probability on the most likely character")
    else:
        cuts = (f", top-k {s.top_k}" if s.top_k else "") + (f", top-p {s.top_p:g}" if s.top_p else "")
        lines.append(f"softmax at T = {s.temperature:g}{cuts}: p_j = exp(z_j/T - m) / Σ exp(z_k/T - m), m = {s.shift:.4f}, Σ = {s.total:.4f}")
        lines.append(f"  {'char':6s} {'z':>9s} {'z/T':>9s} {'exp':>10s} {'p':>8s} {'final':>8s}")
        for c in e.head.candidates:
            j = c.index
            lines.append(f"  {_char(c.char)!r:6s} {c.logit:9.4f} {s.scaled[j]:9.4f} {s.exp[j]:10.6f} {s.tempered[j]:8.4f} {c.final:8.4f}"
                         + ("" if s.kept[j] else "  cut"))
    return "\n".join(lines)


def _explain(args: argparse.Namespace) -> int:
    from .explain import step

    model = load_checkpoint(args.checkpoint)
    explained = step(model, args.prompt, args.t, args.units, args.layer, args.temperature, args.top_k, args.top_p, args.top)
    print(card_text(args.checkpoint, explained))
    return 0


def _publish(args: argparse.Namespace) -> int:
    """Every shipped model (or --only MODEL) to its own Hub repo, OWNER/NAME-<model>: all folders
    are written first (under --out), then each is uploaded."""
    from .hub import publish

    for event, item in publish(args.repo, args.out, args.only, private=args.private or None):
        if event == "written":
            print(f"wrote {item.folder} for {item.repo_id}", flush=True)
        else:
            print(f"uploaded {item.repo_id}: {item.url}", flush=True)
    return 0


def _gradflow(args: argparse.Namespace) -> int:
    from .gradflow import compare_flow

    models = {name: load_checkpoint(name) for name in args.checkpoints}
    flows = compare_flow(models, args.prompt, args.position, args.target)
    if args.json:
        print(json.dumps({name: flow.to_dict() for name, flow in flows.items()}, ensure_ascii=False))
        return 0
    first = next(iter(flows.values()))
    print(f"the {first.norm.upper()} norm of the gradient of {first.of}, position {first.position}, "
          f"with respect to x_t (input) and h_t (hidden state); a norm near 0: that step barely moves the prediction")
    for name, flow in flows.items():
        print(f"{name}: target {_char(flow.target)!r}, p = {flow.target_prob:.3f}")
    print(f"{'dist':>4s} {'char':4s} " + " ".join(f"{name + ' x':>11s} {name + ' h':>11s}" for name in flows))
    for t in range(first.position - 1, -1, -1):  # the character just read first
        cells = " ".join(f"{flow.input_norms[t]:11.2e} {flow.hidden_norms[t]:11.2e}" for flow in flows.values())
        print(f"{first.distance[t]:4d} {_char(first.text[t]):4s} {cells}")
    return 0


def _surprise(args: argparse.Namespace) -> int:
    from .surprise import surprisal

    model = load_checkpoint(args.checkpoint)
    text = _read_text(args.text_file) if args.text_file is not None else args.text
    if text is None:
        raise CharmodelsError("empty_prompt")
    training = _read_text(args.training_file) if args.training_file is not None else _own_corpus(model)
    read = surprisal(model, text, training)
    if args.json:
        print(json.dumps(read.to_dict(), ensure_ascii=False))
        return 0
    print(f"surprisal in bits (rank among {len(read.vocab)} candidates); n-gram models of the training text, "
          f"{read.training_chars:,} characters, {read.smoothing} smoothing")
    print(f"{'char':4s} {'model':>7s} {'rank':>4s} {'bigram':>7s} {'unigram':>7s}")
    for i, char in enumerate(read.chars):
        print(f"{_char(char):4s} {read.model.bits[i]:7.2f} {read.model.ranks[i]:4d} "
              f"{read.bigram.bits[i]:7.2f} {read.unigram.bits[i]:7.2f}")
    print(f"bpc: model {read.model.bpc:.3f}, bigram {read.bigram.bpc:.3f}, unigram {read.unigram.bpc:.3f}")
    return 0


def _recital(args: argparse.Namespace) -> int:
    from .recital import RECITED, sample_and_mark

    model = load_checkpoint(args.checkpoint)
    training = _read_text(args.training_file) if args.training_file is not None else _own_corpus(model)
    seed = None if args.seed == -1 else args.seed
    marked = sample_and_mark(model, args.prompt, args.length, args.temperature, seed, args.min_length, training)
    if args.json:
        print(json.dumps(marked.to_dict(), ensure_ascii=False))
        return 0
    # invented runs in ⟨ ⟩: the rest is recited (or the prompt)
    print("".join(s.text if s.kind != "invented" else f"⟨{s.text}⟩" for s in marked.spans))
    print(f"recited {marked.recited_share:.0%}, invented {marked.invented_share:.0%} (recited: inside a stretch of "
          f">= {marked.min_length} characters found verbatim in the training text; {RECITED!r} spans shown plain)")
    return 0


def _course(args: argparse.Namespace) -> int:
    import torch

    from .course import compare, context_needed

    torch.set_num_threads(1)  # small models: one thread is fastest, two on a busy machine thrash
    if args.text_file is None:
        results = compare(seed=args.seed)
    else:
        corpus = Corpus(args.text_file.stem, _read_text(args.text_file), f"the file {args.text_file.name}")
        if args.context_only:
            need = context_needed(corpus, args.window)
            print(f"needs {need.needed} characters of context; a window of {need.window} "
                  + ("is not stopped by the text" if need.learnable else "can never learn it"))
            return 0
        results = compare(((corpus, args.cell),), seed=args.seed)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False))
        return 0
    for r in results:
        need = r.context
        print(f"{r.name}: needs {need.needed} characters of context; a window of {need.window} "
              + ("is not stopped by the text" if need.learnable else "can never learn it"))
        if need.example is not None:
            e = need.example
            print(f"  {e.context!r} is followed by {e.first_next!r} and by {e.second_next!r}: only "
                  f"{e.first_far!r} / {e.second_far!r}, {need.needed} characters back, tells them apart")
        for run in (r.course, r.whole):
            label = "seed 000's windows" if run.recipe == "course" else "charmodels' train()"
            verdict = "recites" if run.predicts else f"wrong at character {run.first_wrong}"
            print(f"  {label}: {run.cell}, {run.hidden_size} units x {run.layers}, {run.steps} steps, "
                  f"{run.seconds:.1f} s: {verdict}" + (" (stopped at its time limit)" if run.stopped else ""))
            print(f"    ...{run.prediction[-40:]!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m charmodels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the shipped checkpoints with their metrics")
    listing.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    listing.set_defaults(run=_list)

    sample = commands.add_parser("sample", help="continue a prompt (the prompt is printed, then what the model writes)")
    sample.add_argument("checkpoint", help="a shipped name (goethe-lstm), a .safetensors path, a folder from save_pretrained, hf://owner/repo or hf://owner/repo/file.safetensors")
    sample.add_argument("--prompt", required=True, help="text for the model to read first, every character in its vocabulary")
    sample.add_argument("--length", type=int, default=100, metavar="N", help=f"characters to write, 0 to {MAX_LENGTH:,} (default %(default)s)")
    sample.add_argument(
        "--temperature", type=float, default=0.0, metavar="T",
        help=f"0 = greedy, always the most likely character (the default); up to {MAX_TEMPERATURE:g}, drawn at random, higher = flatter",
    )
    sample.add_argument("--top-k", type=int, default=0, metavar="K", help="draw only from the K most likely characters; 0 = off (the default)")
    sample.add_argument(
        "--top-p", type=float, default=1.0, metavar="P",
        help="draw only from the most likely characters whose probabilities reach P; 1 = off (the default)",
    )
    sample.add_argument("--seed", type=int, default=-1, metavar="S", help="the same seed writes the same text; -1 = random (the default)")
    sample.add_argument("--json", action="store_true", help="the prompt, the text and each character's probability as JSON")
    sample.set_defaults(run=_sample)

    evaluation = commands.add_parser(
        "eval", help="tf_acc, recon, bpc and min_p on the checkpoint's own text, or validation bpc of a long-text checkpoint"
    )
    evaluation.add_argument("checkpoint", help="a shipped name, a .safetensors path, a folder from save_pretrained, hf://owner/repo or hf://owner/repo/file.safetensors")
    evaluation.add_argument(
        "--text-file", type=Path, metavar="PATH",
        help="a UTF-8 text to measure on: any text for a checkpoint of a short text (read as lines if it was trained "
        "so); for a long-text checkpoint, the text it was trained on, to measure its validation bpc",
    )
    evaluation.add_argument("--json", action="store_true", help="the measures as one JSON object")
    evaluation.set_defaults(run=_eval)

    explaining = commands.add_parser(
        "explain", help="one step of the model reading a prompt, with every number of its equations",
        description="The seeds' equations of one step, filled with the model's own numbers: the input (one-hot "
        "position or embedding row), each chosen unit's gates as dot products (the largest terms, the rest summed), "
        "the head's top candidates and the softmax that ends in the probabilities generate() draws from.",
    )
    explaining.add_argument("checkpoint", help="a shipped name (hihello-rnn-h2, goethe-lstm), a .safetensors path, a folder from save_pretrained or hf://...")
    explaining.add_argument("prompt", help="the text the model reads (its last 1,000 characters)")
    explaining.add_argument("--t", type=int, default=-1, metavar="N", help="which character of the prompt, from 0; negative counts from the end (default: the last)")
    explaining.add_argument("--units", type=int, nargs="+", metavar="U", help="units to explain (default: all of a tiny model, else the 4 largest |h_t|)")
    explaining.add_argument("--layer", type=int, default=-1, metavar="L", help="layer, from 0 (default: the top one)")
    explaining.add_argument("--top", type=int, metavar="K", help="terms listed per dot product (default: all of a tiny model, else 5)")
    explaining.add_argument("--temperature", type=float, default=1.0, metavar="T", help="the softmax's temperature; 0 = greedy (default 1)")
    explaining.add_argument("--top-k", type=int, default=0, metavar="K", help="keep the K most likely characters; 0 = off")
    explaining.add_argument("--top-p", type=float, default=1.0, metavar="P", help="keep the most likely characters whose probabilities reach P; 1 = off")
    explaining.set_defaults(run=_explain)

    publish = commands.add_parser(
        "publish", help="upload the shipped models to the Hugging Face Hub, one model repo each",
        description="Write each shipped model's Hub folder (model.safetensors, config.json, README.md model card, "
        "loss.png) under --out, then upload it to its own model repo OWNER/NAME-<model>: "
        "alice/charmodels -> alice/charmodels-goethe-lstm, alice/charmodels-goethe-rnn, ... "
        "Needs a login (hf auth login, or HF_TOKEN). Offline, the folders are written and the command says "
        "how to upload them later with `hf upload`.",
    )
    publish.add_argument("repo", metavar="OWNER/NAME", help="the repos' owner and name prefix, e.g. alice/charmodels")
    publish.add_argument("--only", action="append", metavar="MODEL", help="publish this shipped model only (repeatable), e.g. goethe-lstm")
    publish.add_argument("--out", type=Path, default=Path("hub"), metavar="FOLDER", help="where the folders are written (default: %(default)s)")
    publish.add_argument("--private", action="store_true", help="create the repos private (default: public)")
    publish.set_defaults(run=_publish)

    flow = commands.add_parser(
        "gradflow", help="how strongly one prediction depends on each earlier character (gradient flow through time)",
        description="For the prediction after reading PROMPT[:position], the L2 norm of the gradient of its "
        "log-probability with respect to each earlier input vector x_t and hidden state h_t, for one or more models "
        "side by side (goethe-rnn goethe-lstm goethe-gru).",
    )
    flow.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="one or more checkpoints; each must know every character of the prompt")
    flow.add_argument("--prompt", required=True, help="the text read (at most 2,000 characters)")
    flow.add_argument("--position", type=int, metavar="N", help="the prediction after reading PROMPT[:N], 1 to len(PROMPT) (default: the whole prompt)")
    flow.add_argument("--target", metavar="C", help="the character whose log-probability is differentiated (default: the prompt's own at N, or the most likely)")
    flow.add_argument("--json", action="store_true", help="every model's norms as JSON")
    flow.set_defaults(run=_gradflow)

    surprise = commands.add_parser(
        "surprise", help="each character's surprisal (bits) and rank under the model, a bigram and a unigram model",
    )
    surprise.add_argument("checkpoint", help="a shipped name, a .safetensors path, a folder from save_pretrained or hf://...")
    surprise.add_argument("text", nargs="?", help="the text to read (or --text-file)")
    surprise.add_argument("--text-file", type=Path, metavar="PATH", help="read the text from a UTF-8 file")
    surprise.add_argument("--training-file", type=Path, metavar="PATH", help="the text the n-gram models count (default: the checkpoint's own)")
    surprise.add_argument("--json", action="store_true", help="every character's bits, probability and rank as JSON")
    surprise.set_defaults(run=_surprise)

    recital = commands.add_parser("recital", help="generate, then mark what is recited from the training text and what is invented")
    recital.add_argument("checkpoint", help="a shipped name, a .safetensors path, a folder from save_pretrained or hf://...")
    recital.add_argument("--prompt", required=True, help="text for the model to read first")
    recital.add_argument("--length", type=int, default=300, metavar="N", help="characters to write (default %(default)s)")
    recital.add_argument("--temperature", type=float, default=0.0, metavar="T", help="0 = greedy (the default)")
    recital.add_argument("--seed", type=int, default=-1, metavar="S", help="-1 = random (the default)")
    recital.add_argument("--min-length", type=int, default=8, metavar="K", help="a recited stretch's length, at least (default %(default)s)")
    recital.add_argument("--training-file", type=Path, metavar="PATH", help="the training text (default: the checkpoint's own)")
    recital.add_argument("--json", action="store_true", help="the spans and shares as JSON")
    recital.set_defaults(run=_recital)

    course = commands.add_parser(
        "course", help="seed 000's windowed recipe against charmodels' whole-sequence train(), on goethe and anthem or your text",
    )
    course.add_argument("--text-file", type=Path, metavar="PATH", help="your own text (default: seed 000's goethe and anthem)")
    course.add_argument("--cell", default="lstm", choices=("rnn", "lstm", "gru"), help="the cell for your text (default %(default)s)")
    course.add_argument("--seed", type=int, default=0, metavar="S", help="seeds both recipes (default %(default)s)")
    course.add_argument("--window", type=int, default=10, metavar="W", help="with --context-only: the window asked about (default %(default)s)")
    course.add_argument("--context-only", action="store_true", help="only say how much context the text needs (no training)")
    course.add_argument("--json", action="store_true", help="the comparison as JSON")
    course.set_defaults(run=_course)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are one line on stderr (exit status 2), never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # CharmodelsError (CheckpointError, UnknownCharacterError) is one
        print(f"error: {error}", file=sys.stderr)
        return 2
