"""The app's glue between its page and charmodels: what each view asks the library, with
the bounds a public page needs.

Everything returned is data (characters, numbers, `Note`s with a key and parameters);
demo/app.py words it through demo/i18n.py in the reader's language. Problems are
`CharmodelsError`s from the library, or a `PageError` for what only the page can get
wrong; both carry a key and parameters, never a sentence.

Generation keeps no per-user state: every call gets its own recurrent state and its own
random generator, so concurrent users cannot see each other's results. The models come
from charmodels.serving's registry, shared read-only. Trainings wait in charmodels.jobs'
one fair line, each found only with its session (`owner`); the one thing kept here per
session is which own models (trained, uploaded) it registered, dropped when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from charmodels import serving
from charmodels.checkpoint import corpus_of
from charmodels.checks import text as checked_text
from charmodels.checks import whole
from charmodels.corpora import CORPORA, Corpus
from charmodels.fairqueue import Ticket
from charmodels.model import CELLS, CharModel
from charmodels.sampling import (
    SamplingRequest,
    Step,
    check_sampling,
    generate,
    next_char_probs,
)

TOP = 10  # characters shown as bars
APP_MAX_LENGTH = 2000  # characters one request may generate
APP_MAX_TEMPERATURE = 2.0
MAX_PROMPT_READ = 20_000  # a longer prompt is read from its last this-many characters
MAX_INSIDE = 160  # characters shown in the inside views; a longer prompt shows its end
MAX_COMPARE = 300  # characters the comparison writes per cell

# A prompt per text that keeps the page alive on load: each stops where the next
# character is the lesson (apply vs do, the third word of pets, ...).
DEFAULT_PROMPTS = {
    "goethe": "Knowing is not enough; we must ",
    "goethe_lines": "Willing is not enough; we must ",
    "anthem": "O say can you see, by the ",
    "seoul": " seoul is the capital of ",
    "hihello": "hihell",
    "pets": "you love ",
    "avengers": "We are going to ",
    "boat": "The boat is on the ",
    "tsingtao": "나는 한국 사람이고, 중국 ",
    "shakespeare": "KING RICHARD III:\nNow is the winter of our ",
    "lecture_ko": "LSTM은 ",
}
# The one-click lesson: the last "we must " needs 28 characters of context to say "do".
LONG_CONTEXT_EXAMPLE = ("goethe", "Knowing is not enough; we must apply. Willing is not enough; we must ")

# ---- the texts the pickers offer ----

# The classroom models (scripts/train_classroom.py), each text with an RNN, an LSTM and a GRU:
# goethe one sentence a line (counting sentences cannot tell `apply` from `do`), and two texts
# learned to generalise, whose models are unsure (the natural choice for temperature).
VARIANTS = {"goethe": ["goethe_lines"]}  # shown right after the text they vary
UNSURE = ("shakespeare", "lecture_ko")
LENGTHS = (20, 200)  # the default length of a generation: the text's length, within these bounds


def checkpoint_name(text: str, cell: str) -> str:
    """The shipped checkpoint of a text and a cell: `goethe-lstm`."""
    return f"{text}-{cell}"


def texts() -> list[str]:
    """The texts the pickers offer, in order: the eight built-in ones (each followed by its
    variants), then the unsure ones; a text is offered when its three checkpoints are shipped."""
    ordered = []
    for name in CORPORA:
        ordered += [name, *VARIANTS.get(name, [])]
    ordered += list(UNSURE)
    shipped = set(serving.shipped())
    return [key for key in ordered if all(checkpoint_name(key, cell) in shipped for cell in CELLS)]


def text_of(checkpoint: str) -> str | None:
    """The offered text whose three standard models a checkpoint belongs with: its own for a
    shipped name, and for an upload the text with the same SHA-256 (None for a text of its own)."""
    offered = texts()
    key, _, cell = (checkpoint or "").rpartition("-")
    if key in offered and cell in CELLS:
        return key
    record = serving.get_model(checkpoint).info.get("corpus", {})
    for key in offered:
        if serving.get_model(checkpoint_name(key, "lstm")).info.get("corpus", {}).get("sha256") == record.get("sha256"):
            return key
    return None


def default_length(model: CharModel) -> int:
    """How much to generate by default: about the text's length (7-character hihello does not
    need 200 greedy characters), at least LENGTHS[0], at most LENGTHS[1]."""
    chars = model.info.get("corpus", {}).get("chars") or LENGTHS[1]
    return min(max(int(chars), LENGTHS[0]), LENGTHS[1])


class PageError(Exception):
    """A request only the page can get wrong (no file chosen, no text picked): an i18n key and its parameters."""

    def __init__(self, key: str, **params):
        super().__init__(key)
        self.key, self.params = key, params


@dataclass(frozen=True)
class Note:
    """What was changed in a prompt and why, for the page to say: an i18n key and its parameters."""

    key: str  # "note_unknown" (chars), "note_empty" / "note_nothing_left" (char), "note_trimmed" (n)
    params: dict = field(default_factory=dict)


# ---- prompts and generation ----


def start_char(model: CharModel) -> str:
    """Where an empty prompt starts: the corpus's first character, as training did."""
    corpus = corpus_of(model) or CORPORA.get(model.info.get("corpus", {}).get("name", ""))
    return corpus.text[0] if corpus is not None else model.vocab.chars[0]


def prepare_prompt(model: CharModel, prompt: str | None, limit: int = MAX_PROMPT_READ) -> tuple[str, list[Note]]:
    """The prompt the model can read (its last `limit` characters), and notes saying what was changed."""
    text = checked_text("prompt", "" if prompt is None else prompt)  # the API is JSON: a number can arrive
    notes = []
    unknown = model.vocab.unknown(text)
    if unknown:
        text = "".join(c for c in text if c in model.vocab)
        notes.append(Note("note_unknown", {"chars": tuple(unknown[:20])}))
    if not text:
        text = start_char(model)
        notes.append(Note("note_nothing_left" if unknown else "note_empty", {"char": text}))
    if len(text) > limit:
        text = text[-limit:]
        notes.append(Note("note_trimmed", {"n": limit}))
    return text, notes


def next_chars(checkpoint: str, prompt: str | None) -> tuple[list[tuple[str, float]], list[Note]]:
    """The top next characters after the prompt, and notes on how the prompt was read."""
    model = serving.get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt)
    return next_char_probs(model, text)[:TOP], notes


def check_request(length, temperature, top_k, top_p, seed) -> SamplingRequest:
    """The library's one sampling contract under the page's bounds (APP_MAX_LENGTH,
    APP_MAX_TEMPERATURE): 0 / 1 / -1 (or None) mean top-k off, top-p off, a random seed;
    a CharmodelsError names the first bad argument."""
    return check_sampling(length, temperature, top_k, top_p, seed,
                          max_length=APP_MAX_LENGTH, max_temperature=APP_MAX_TEMPERATURE)


def stream(checkpoint: str, prompt: str | None, request: SamplingRequest) -> tuple[str, list[Note], Iterator[Step]]:
    """The prompt as read, notes, and the steps of its continuation (lazily generated)."""
    model = serving.get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt)
    steps = generate(model, text, request.length, request.temperature, request.top_k, request.top_p, request.seed)
    return text, notes, steps


def step_record(step: Step) -> dict:
    """One generated step as JSON: what was written, and both distributions' top characters."""
    return {
        "char": step.char,
        "prob": step.prob,  # the model's probability of it
        "drawn_prob": float(step.dist[step.index]),  # its probability in the distribution sampled from
        # always TOP entries, zeros included: Gradio 6.31 streams each yield as a diff of the last,
        # and its diff garbles a nested list that shrinks by two or more items
        "top": [[c, p] for c, p in step.top(TOP)],
        "model_top": [[c, p] for c, p in step.top(TOP, model=True)],
    }


def compare(checkpoint: str, prompt: str | None, length) -> tuple[str, list[dict]]:
    """The same prompt through the RNN, LSTM and GRU of the model's text, greedy: (text, results).

    An uploaded or trained model is compared through the standard models of its text when
    it is one of the offered texts; a text of its own has none (PageError).
    """
    text = text_of(checkpoint)
    if text is None:
        raise PageError("error_compare_needs_corpus")
    length = whole("length", length, 1, MAX_COMPARE)
    request = check_request(length, 0.0, None, None, None)
    results = []
    for cell in CELLS:
        name = checkpoint_name(text, cell)
        read, notes, steps = stream(name, prompt, request)
        pairs, _ = next_chars(name, read)
        results.append({"cell": cell, "next": pairs, "text": "".join(s.char for s in steps), "notes": notes})
    return text, results


# The far-word probe: each text's prompt, and the same prompt with the far word swapped.
# A model that reads the far word changes its answer; one that counts sentences does not.
PROBES = {
    "goethe": ("Knowing is not enough; we must apply. Willing is not enough; we must ",
               "Knowing is not enough; we must apply. Knowing is not enough; we must "),
    "goethe_lines": ("Willing is not enough; we must ", "Knowing is not enough; we must "),
}


SURE = 0.6  # a probe's answer counts when the model gives it at least this probability


def probe_verdict(first: tuple[str, float], second: tuple[str, float]) -> str:
    """What a model's two answers (top character, probability) say: "reads" the far word (the
    answer changes), "ignores" it (the same answer), or "unsure" (a coin toss on either prompt)."""
    if first[1] < SURE or second[1] < SURE:
        return "unsure"
    return "reads" if first[0] != second[0] else "ignores"


def probe() -> list[dict]:
    """For each model of the texts with a probe: the top next character after the prompt and
    after the prompt with its far word swapped, whether the answer changed, and how its
    training went (steps, attempts, whether it reached the quality bar)."""
    offered = texts()
    rows = []
    for key, (original, swapped) in PROBES.items():
        if key not in offered:
            continue
        for cell in CELLS:
            name = checkpoint_name(key, cell)
            model = serving.get_model(name)
            first = next_char_probs(model, original)[0]
            second = next_char_probs(model, swapped)[0]
            history = model.info.get("history", {})
            rows.append({"checkpoint": name, "prompt": original, "swapped_prompt": swapped, "original": first,
                         "swapped": second, "verdict": probe_verdict(first, second), "parameters": model.info.get("parameters"),
                         "steps": history.get("steps"), "attempts": history.get("attempts"),
                         "reached": history.get("reached")})
    return rows


def training_text(checkpoint: str) -> str | None:
    """The text exactly as training read it (each line ending in a newline for a corpus of lines)."""
    model = serving.get_model(checkpoint)
    corpus: Corpus | None = corpus_of(model) or CORPORA.get(model.info.get("corpus", {}).get("name", ""))
    return "".join(corpus.sequences()) if corpus is not None else None


def history(checkpoint: str) -> dict:
    """The recorded training history: loss curve and prediction strings."""
    return serving.get_model(checkpoint).info.get("history", {})


def warm_up(checkpoint: str = "goethe-lstm") -> None:
    """Load torch, one model and the training queue so the first visitor does not wait for them.

    The app serves tiny models to many users at once: one intra-op thread per call beats
    several threads fighting over two cores (measured up to 100x slower in the lab).
    """
    import torch

    torch.set_num_threads(1)
    next_chars(checkpoint, DEFAULT_PROMPTS["goethe"])
    _training_queue()  # its worker processes start now: the first training waits for no import


# ---- inside the model (charmodels.explain) ----


def inside(checkpoint: str, prompt: str | None):
    """(trace, cell, notes): everything the model computes while reading the prompt's end."""
    from charmodels.explain import trace

    model = serving.get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt, limit=MAX_INSIDE)
    return trace(model, text), model.config.cell, notes


def saliencies(checkpoints: list[str], prompt: str | None) -> list[dict]:
    """For each model: its next-character prediction and how much each prompt character drove it (occlusion)."""
    from charmodels.explain import saliency

    results = []
    for checkpoint in checkpoints:
        model = serving.get_model(checkpoint)
        text, _ = prepare_prompt(model, prompt, limit=MAX_INSIDE)
        found = saliency(model, text)
        results.append(
            {"checkpoint": checkpoint, "chars": list(text), "target": found.target, "prob": found.target_prob,
             "scores": found.scores.tolist(), "method": found.method}
        )
    return results


# ---- trainings (a user's own text, a live lab point): one fair line (charmodels.jobs) ----
#
# Every training waits in the process's one FairQueue, never refused. A visitor is known by
# `owner`, the page's (or API client's) Gradio session: a ticket is found only with its owner,
# and the session's end takes its tickets, private work and files with it (end_session).

_one_thread = threading.Event()


def _training_queue():
    """The queue, with torch on one intra-op thread first: two threads per worker thrash two
    cores (and the app's request threads with them)."""
    from charmodels.jobs import training_queue

    if not _one_thread.is_set():
        import torch

        torch.set_num_threads(1)
        _one_thread.set()
    return training_queue()


def start_training(owner: str, text, name, cell, hidden_size, steps, lines: bool = False) -> tuple[Ticket, str]:
    """A user's text in line: checked at once (a CharmodelsError naming the problem), then
    waiting its turn, never refused. The same request again is the same ticket; another
    replaces the owner's earlier one (its files go). Returns the ticket and the text exactly
    as training reads it (each line ending in a newline for a text of lines)."""
    from charmodels.jobs import TextTraining

    work = TextTraining.checked(text, cell, hidden_size, steps, name=name or "mytext", lines=bool(lines))
    return _training_queue().submit(owner, work), "".join(work.corpus.sequences())


def start_lab_point(owner: str, cell, gap, steps, seed, forget_bias: bool, curriculum: bool) -> Ticket:
    """One lab point in line (a class clicking the same point and seed shares one run)."""
    from charmodels.jobs import LabPoint

    return _training_queue().submit(owner, LabPoint.checked(cell, gap, steps, seed, bool(forget_bias), bool(curriculum)))


def ticket(owner: str, ticket_id: str) -> Ticket:
    """The owner's ticket with this id; CharmodelsError "request_unknown" for anyone else's."""
    return _training_queue().ticket(owner, ticket_id)


def owned(owner: str, kind: str) -> Ticket | None:
    """The owner's live ticket of a kind ("text", "lab"), if any."""
    return next((t for t in _training_queue().owned(owner) if t.kind == kind), None)


# The page's own models (a trained one, an upload) by session, dropped from the registry when
# the last session that holds them ends (the key is the file's SHA-256 prefix: two sessions
# with the same file share one entry).
_own_models: dict[str, set[str]] = {}
_own_lock = threading.Lock()


def register_own(owner: str | None, path) -> str:
    """Keep a checkpoint file's model for this session; returns its key for the pickers."""
    key = serving.register_upload(path)
    if owner:
        with _own_lock:
            _own_models.setdefault(owner, set()).add(key)
    return key


def end_session(owner: str | None) -> None:
    """The page went away: its tickets leave (their private work and files go), and its own
    models leave the registry unless another session holds them too."""
    if not owner:
        return
    from charmodels.jobs import training_queue

    training_queue().end_session(owner)
    with _own_lock:
        keys = _own_models.pop(owner, set())
        held = set().union(*_own_models.values()) if _own_models else set()
    for key in keys - held:
        serving.forget(key)


# ---- the long-term-dependency lab (charmodels.lab): the shipped results ----


def lab_results() -> dict:
    """The shipped grids: name -> {"config", "means"}; "main" is the plain recipe."""
    from charmodels.lab import load_results

    data = load_results()
    grids = {"main": data["main"], **data.get("variants", {})}
    return {name: {"config": grid["config"], "means": grid["means"]} for name, grid in grids.items()}


# ---- through time (issue 13): surprise, recital, gradient flow, the course's recipe ----
# Append to demo/service.py (after `saliencies`). Needs nothing new at the top of the file.


def surprise(checkpoint: str, text: str | None):
    """(charmodels.surprise.Surprise, notes): the text read by the model, a bigram and a unigram of its
    training text. A text longer than gradflow.MAX_FLOW_TEXT is read from its end (noted); a character
    the model does not know is refused by name (UnknownCharacterError), never dropped: it has no
    probability to measure."""
    from charmodels.gradflow import MAX_FLOW_TEXT
    from charmodels.surprise import surprisal

    model = serving.get_model(checkpoint)
    text = checked_text("text", "" if text is None else text)
    notes = []
    if len(text) > MAX_FLOW_TEXT:
        text, notes = text[-MAX_FLOW_TEXT:], [Note("note_trimmed", {"n": MAX_FLOW_TEXT})]
    return surprisal(model, text, training_text(checkpoint)), notes


def recital(checkpoint: str, prompt: str | None, request: SamplingRequest):
    """(charmodels.recital.Recital, notes): a continuation at the page's temperature and seed, marked
    recited / invented against the model's training text."""
    from charmodels.errors import CharmodelsError
    from charmodels.recital import sample_and_mark

    model = serving.get_model(checkpoint)
    truth = training_text(checkpoint)
    if truth is None:
        raise CharmodelsError("recital_no_training_text")
    text, notes = prepare_prompt(model, prompt)
    return sample_and_mark(model, text, request.length, request.temperature, request.seed, training_text=truth), notes


def flow_models(checkpoint: str) -> dict[str, CharModel]:
    """The models whose gradient flow is drawn side by side: the text's RNN, LSTM and GRU (at the size in
    use, where the text has tiny versions of it), or the one model of a text of its own."""
    model = serving.get_model(checkpoint)
    key = text_of(checkpoint)
    if key is None:
        return {checkpoint: model}
    names = []
    for cell in CELLS:
        standard = checkpoint_name(key, cell)
        names.append(serving.tiny_sizes(standard).get(model.config.hidden_size, standard))
    return {name: serving.get_model(name) for name in names}


def flow(checkpoint: str, prompt: str | None, step):
    """(name -> charmodels.gradflow.GradientFlow, notes): the prediction after step `step` (1-based, the
    Inside tab's step control; None = the last character) of the prompt as the Inside tab reads it."""
    from charmodels.gradflow import compare_flow

    text, notes = prepare_prompt(serving.get_model(checkpoint), prompt, limit=MAX_INSIDE)
    position = len(text) if step is None else min(whole("step", step, 1, MAX_INSIDE), len(text))
    return compare_flow(flow_models(checkpoint), text, position), notes


def start_course(owner: str, text, cell) -> Ticket:
    """The course's recipe against ours in the fair line: seed 000's goethe and anthem (empty text), or a
    visitor's own text with `cell` (private work). A class clicking the same button shares one run."""
    from charmodels.course import CourseComparison

    return _training_queue().submit(owner, CourseComparison.checked(text or None, cell))
