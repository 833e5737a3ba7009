"""python -m charmodels list | sample | eval | publish: checkpoints from a terminal.

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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are one line on stderr (exit status 2), never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # CharmodelsError (CheckpointError, UnknownCharacterError) is one
        print(f"error: {error}", file=sys.stderr)
        return 2
