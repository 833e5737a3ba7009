"""python -m charmodels list | sample | eval: the shipped models from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint, read_metadata, shipped_names
from .corpora import CORPORA, Corpus
from .metrics import evaluate
from .checkpoint import corpus_of
from .sampling import generate


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
    model = load_checkpoint(args.checkpoint)
    steps = generate(model, args.prompt, args.length, args.temperature, args.top_k, args.top_p, args.seed)
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


def _eval_long(args: argparse.Namespace, model) -> int:
    """Validation bpc of a long-text checkpoint on the held-out end of its text, given again."""
    from .data import split_text
    from .metrics import held_out_bpc

    record, validation = model.info.get("corpus", {}), model.info["validation"]
    about = f"{record.get('name')!r} ({record.get('chars', 0):,} characters, sha256 {str(record.get('sha256'))[:12]}…)"
    if args.text_file is None:
        raise ValueError(
            f"this checkpoint was trained on the long text {about}, which it does not carry: "
            "pass that file with --text-file PATH to measure its validation bpc"
        )
    try:
        text = args.text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {args.text_file}: {error}") from error
    if Corpus("text", text, "").sha256 != record.get("sha256"):
        raise ValueError(f"{args.text_file} is not the text this checkpoint was trained on, {about}")
    split = split_text(text, validation["fraction"])
    bpc = held_out_bpc(model, split.val)
    result = {"checkpoint": args.checkpoint, "corpus": record.get("name"), "val_bpc": bpc, "val_fraction": validation["fraction"]}
    result["val_chars"] = len(split.val)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"val_bpc {bpc:.4f} on the held-out last {validation['fraction']:.0%} ({len(split.val):,} characters)")
    return 0


def _eval(args: argparse.Namespace) -> int:
    model = load_checkpoint(args.checkpoint)
    if "validation" in model.info:
        return _eval_long(args, model)
    if args.text_file is not None:
        raise ValueError("--text-file is for checkpoints trained on a long text; this one is measured on its own corpus")
    corpus = corpus_of(model) or CORPORA.get(model.info.get("corpus", {}).get("name", ""))
    if corpus is None:
        raise ValueError("this checkpoint does not carry its training text, so there is nothing to measure against")
    metrics = evaluate(model, corpus)
    result = {"checkpoint": args.checkpoint, "corpus": corpus.name, **metrics.to_dict(), "meets_bar": metrics.meets_bar}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key in ("tf_acc", "recon"):
            print(f"{key:7s} {result[key]:.1%}")
        print(f"bpc     {metrics.bpc:.4f}")
        print(f"min_p   {metrics.min_p:.3f}")
        print("meets the quality bar" if metrics.meets_bar else "BELOW the quality bar (tf_acc = recon = 100%, min_p >= 0.9)")
    return 0 if metrics.meets_bar else 1


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "off", "0") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "off") else float(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m charmodels", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the shipped checkpoints with their metrics")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list)
    sample = commands.add_parser("sample", help="continue a prompt")
    sample.add_argument("checkpoint", help="a shipped name (goethe-lstm), a .safetensors path or hf://owner/repo/file")
    sample.add_argument("--prompt", required=True)
    sample.add_argument("--length", type=int, default=100)
    sample.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    sample.add_argument("--top-k", type=_optional_int, default=None)
    sample.add_argument("--top-p", type=_optional_float, default=None)
    sample.add_argument("--seed", type=int, default=None)
    sample.add_argument("--json", action="store_true")
    sample.set_defaults(run=_sample)
    evaluation = commands.add_parser("eval", help="tf_acc, recon, bpc and min_p on the checkpoint's own corpus")
    evaluation.add_argument("checkpoint")
    evaluation.add_argument("--text-file", type=Path, help="a long-text checkpoint's training text: measures its validation bpc")
    evaluation.add_argument("--json", action="store_true")
    evaluation.set_defaults(run=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
