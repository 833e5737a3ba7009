"""Inside the model, step by step: inputs, hidden states, gates, cell state, saliency, and
one step explained in full (`step`): every number of the seeds' equations at that step.

`trace` reads a text through the stepping engine with recording on, so every number it
returns comes from the cell equations of charmodels.cells (tests hold those equal to torch's
nn.RNN / nn.LSTM / nn.GRU). The model may live on any device: the engine copies its
weights to the CPU, and saliency builds its inputs where the model is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import checks
from .cells import GATES, CellStep, LSTMStep, Weights, gate_rows
from .engine import Stepper
from .errors import CharmodelsError
from .model import CharModel
from .sampling import MAX_TEMPERATURE, MAX_TOP_K, check_prompt, reshape, top_chars

__all__ = [
    "GATES", "Candidate", "DotProduct", "Explained", "GateRow", "Head", "Input", "LayerTrace", "Saliency",
    "Softmax", "Term", "Trace", "UnitRows", "saliency", "step", "trace",
]


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (time, hidden) hidden state after each character
    c: np.ndarray | None  # (time, hidden) LSTM cell state, None for the other cells
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # name (cells.GATES) -> (time, hidden)


@dataclass(frozen=True)
class Trace:
    chars: list[str]  # the text read, one character per step
    inputs: np.ndarray  # (time, input_size): one-hot rows, or the embedding of each character
    layers: list[LayerTrace]
    probs: np.ndarray  # (time, vocab): the next-character distribution after each step
    vocab: list[str]


def trace(model: CharModel, text: str) -> Trace:
    """Read `text` from a fresh state and record everything each step computes."""
    ids = check_prompt(model, text)
    stepper = Stepper(model, record=True)
    probs = stepper.run(ids)  # (time, vocab)
    gates = GATES[model.config.cell]
    layers = []
    for n in range(model.config.layers):
        steps = [record.layers[n] for record in stepper.recorded]  # this layer's cells.*Step, one per character
        layers.append(
            LayerTrace(
                h=np.stack([s.h for s in steps]),
                c=np.stack([s.c for s in steps]) if model.is_lstm else None,
                gates={name: np.stack([getattr(s, name) for s in steps]) for name in gates},
            )
        )
    return Trace(list(text), stepper.inputs[ids], layers, probs, list(model.vocab.chars))


@dataclass(frozen=True)
class Saliency:
    method: str  # "occlusion" or "gradient x input"
    target: str  # the character whose probability is explained
    target_prob: float
    scores: np.ndarray  # (time,) each character's share, normalised so the largest |score| is 1


def saliency(model: CharModel, text: str, target: str | None = None, method: str = "occlusion") -> Saliency:
    """How much each character of `text` contributed to predicting `target` next.

    occlusion: the drop in log-probability of `target` when that one character is blanked
    (its input vector set to zero: "what if the model had not seen it?"). A positive score
    means the character made `target` more likely.
    gradient x input: the first-order estimate of the same, from one backward pass.
    `target` defaults to the model's most likely next character.
    """
    ids = check_prompt(model, text)
    checks.choice("method", method, ("occlusion", "gradient"))
    if target is not None:
        checks.choice("target", target, model.vocab.chars)
    vectors = model.inputs(torch.tensor([ids], device=model.device)).detach()  # (1, time, input_size)
    with torch.no_grad():
        logits, _ = model.read(vectors)
        logp = torch.log_softmax(logits[0, -1].double(), dim=-1)  # (vocab,)
    index = int(logp.argmax()) if target is None else model.vocab.encode(target)[0]
    base = float(logp[index])
    if method == "occlusion":
        time = vectors.shape[1]
        blanked = vectors.repeat(time, 1, 1)  # (time, time, input_size): row s has character s blanked
        steps = torch.arange(time, device=vectors.device)
        blanked[steps, steps] = 0.0
        with torch.no_grad():
            out, _ = model.read(blanked)
            occluded = torch.log_softmax(out[:, -1].double(), dim=-1)[:, index]  # (time,)
        scores = (base - occluded).cpu().numpy()
    else:  # "gradient"
        x = vectors.clone().requires_grad_(True)
        out, _ = model.read(x)
        (grad,) = torch.autograd.grad(torch.log_softmax(out[0, -1], dim=-1)[index], x)  # leaves the weights' .grad alone
        scores = (grad * x).sum(-1)[0].detach().double().cpu().numpy()  # (time,)
        method = "gradient x input"
    peak = np.abs(scores).max()
    return Saliency(method, model.vocab.chars[index], float(np.exp(base)), scores / peak if peak > 0 else scores)


# ---- one step explained ---------------------------------------------------------------------

MAX_STEP_PROMPT = 1_000  # characters `step` reads at most: a longer prompt is read from its last this-many
SHOW_ALL_UP_TO = 8  # a model this wide or narrower is tiny: every unit and every term is shown by default
DEFAULT_UNITS = 4  # units a larger model explains by default: those with the largest |h_t|
DEFAULT_TERMS = 5  # terms a dot product of a larger model lists: its largest |w * v|
DEFAULT_CANDIDATES = 5  # next characters the head and the softmax list


@dataclass(frozen=True)
class Term:
    """One term w * v of a dot product: the weight in column `index` times the vector's entry there."""

    index: int  # the column: a character's id for a one-hot x_t, else a unit or an input number
    weight: float  # W[row, index]
    value: float  # v[index]
    product: float  # weight * value


@dataclass(frozen=True)
class DotProduct:
    """W[row] . v = sum_j W[row, j] v[j]: every term in order, or its largest terms and the rest summed exactly.

    ``sum(t.product for t in terms) + rest == total`` (float64 sums of the float32 products);
    `total` is the model's own number (the cell's W_xh x_t or W_hh h_{t-1} at that row, or a logit
    less its bias) to float32 precision.
    """

    row: int
    terms: tuple[Term, ...]  # every term in index order, or the largest |product| first
    rest: float  # the sum of the terms not listed
    rest_count: int  # how many terms are not listed ("+ k more"); terms that are 0 are never listed when summarised
    total: float

    @property
    def length(self) -> int:
        return len(self.terms) + self.rest_count


@dataclass(frozen=True)
class GateRow:
    """One unit of one gate: its pre-activation as the sum of its parts, and the value after the
    nonlinearity. `gate` is "h" for the tanh RNN's one equation, else a name of cells.GATES."""

    gate: str
    unit: int
    row: int  # the row of the stacked W_xh / W_hh / b (cells.gate_rows)
    x_part: DotProduct  # W_x?[unit] . x_t
    h_part: DotProduct  # W_h?[unit] . h_{t-1}
    bias: float  # b = b_xh + b_hh at the row; the GRU's candidate n: b_xn alone
    bias_h: float | None  # the GRU's candidate n only: b_hn, added to W_hn h_{t-1} inside r ⊙ (...)
    pre: float  # the sum the nonlinearity reads (the GRU's n: W_xn x + b_xn + r (W_hn h + b_hn))
    value: float  # sigmoid(pre) for a gate, tanh(pre) for g, n and the RNN's h_t


@dataclass(frozen=True)
class UnitRows:
    """Everything one unit of the explained layer computes at the step."""

    unit: int
    gates: tuple[GateRow, ...]  # the RNN: (h,); the LSTM: i, f, g, o; the GRU: r, z, n
    h_prev: float  # h_{t-1}[unit]
    h: float  # h_t[unit]
    c_prev: float | None  # the LSTM's c_{t-1}[unit], else None
    c: float | None  # the LSTM's c_t[unit], else None


@dataclass(frozen=True)
class Input:
    """The input x_t of the step's first layer: the character's one-hot vector, as seed 001 draws
    it (position `index` of the vocabulary is 1), or its embedding row."""

    char: str
    index: int  # its id: the lit position of the one-hot vector, or the embedding's row
    one_hot: bool  # False for a model with a learned embedding
    vector: np.ndarray  # (input_size,) x_t: the one-hot vector, or the embedding row E[index]
    vocab: tuple[str, ...]  # the vocabulary in id order: one-hot position k is vocab[k]


@dataclass(frozen=True)
class Candidate:
    """A next character as the head scores it: logit = W_hy[index] . h_t + b_y[index]."""

    char: str
    index: int
    logit: float
    dot: DotProduct  # W_hy[index] . h_t
    bias: float  # b_y[index]
    prob: float  # the model's own probability, softmax(logits)[index]
    final: float  # the probability it is drawn with: after temperature, top-k and top-p (the bars)


@dataclass(frozen=True)
class Head:
    """The linear head on the top layer's h_t: logits = W_hy h_t + b_y, its top candidates."""

    W_hy: np.ndarray  # (vocab, hidden)
    b_y: np.ndarray  # (vocab,)
    h: np.ndarray  # (hidden,) the top layer's h_t
    logits: np.ndarray  # (vocab,) float64
    candidates: tuple[Candidate, ...]  # the most likely first


@dataclass(frozen=True)
class Softmax:
    """The walk from logits to the probabilities a character is drawn with.

    p_j = exp(z_j / T - m) / sum_k exp(z_k / T - m), m = max_k z_k / T (subtracting m changes nothing
    but keeps exp finite), then top-k and top-p keep the most likely and renormalise. `final` is
    sampling.reshape of the model's probabilities: what generate() draws from, the bars. With
    T = 0 (greedy) `scaled`, `exp` and `tempered` are None: all mass goes to the top character.
    """

    temperature: float
    top_k: int | None
    top_p: float | None
    logits: np.ndarray  # (vocab,) z
    probs: np.ndarray  # (vocab,) softmax(z): the model's own distribution (T = 1, no cut)
    scaled: np.ndarray | None  # z / T
    shift: float | None  # m = max(z / T)
    exp: np.ndarray | None  # exp(z / T - m)
    total: float | None  # sum of exp
    tempered: np.ndarray | None  # exp / total, before any cut
    kept: np.ndarray  # (vocab,) bool: survived top-k and top-p
    final: np.ndarray  # (vocab,) the distribution drawn from


@dataclass(frozen=True)
class Explained:
    """One step of a model reading a prompt: the quantities of the seeds' equations, named like
    them (cells.RNNStep x, W_xh x, W_hh h_prev, b, pre, h; LSTMStep i f g o c h; GRUStep r z n h in
    torch's convention), for layer `layer` and the chosen `units`, then the head and the softmax.

    The prompt read is the given one's last MAX_STEP_PROMPT characters (`left_out` said how many
    were dropped), from a fresh state; `t` counts from 0 within it, `char` is the character read
    at the step, and everything after it is what the model computes having read it.
    """

    prompt: str  # the text read
    left_out: int  # characters dropped from the front of the given prompt
    t: int  # 0-based, within `prompt`
    char: str
    cell: str  # "rnn", "lstm" or "gru"
    layer: int  # 0-based
    layers: int
    hidden: int
    input: Input
    x: np.ndarray  # (input,) what the layer reads: x_t for layer 0, the layer below's h_t above it
    weights: Weights  # the layer's full matrices (W_xh, W_hh, b_xh, b_hh, b): a tiny model shows them whole
    step: CellStep  # the layer's cells.*Step: every vector of the step
    units: tuple[UnitRows, ...]
    head: Head
    softmax: Softmax


def _dot(W: np.ndarray, v: np.ndarray, row: int, top: int | None) -> DotProduct:
    weights = W[row].astype(np.float64)
    values = v.astype(np.float64)
    products = weights * values
    order = np.argsort(-np.abs(products), kind="stable")
    if top is None:  # every term, in the order of the sum: W[row, 0] v[0] + W[row, 1] v[1] + ...
        shown, rest = np.arange(len(products)), order[:0]
    else:  # the largest terms; a term that is exactly 0 (a one-hot x_t's other positions) is never one of them
        shown = [j for j in order[:top] if products[j] != 0]
        rest = order[len(shown):]
    terms = tuple(Term(int(j), float(weights[j]), float(values[j]), float(products[j])) for j in shown)
    return DotProduct(row, terms, float(products[rest].sum()), len(rest), float(products.sum()))


def _gate_rows(s: CellStep, cell: str, w: Weights, x: np.ndarray, unit: int, hidden: int, top: int | None):
    if cell == "rnn":
        return (GateRow("h", unit, unit, _dot(w.W_xh, x, unit, top), _dot(w.W_hh, s.h_prev, unit, top),
                        float(w.b[unit]), None, float(s.pre[unit]), float(s.h[unit])),)
    rows = []
    for gate in GATES[cell]:
        row = gate_rows(cell, gate, hidden).start + unit
        x_part, h_part = _dot(w.W_xh, x, row, top), _dot(w.W_hh, s.h_prev, row, top)
        if cell == "gru" and gate == "n":
            bias, bias_h, pre = float(w.b_xh[row]), float(w.b_hh[row]), float(s.pre_n[unit])
        else:
            bias, bias_h = float(w.b[row]), None
            pre = float(getattr(s, f"pre_{gate}")[unit])
        rows.append(GateRow(gate, unit, row, x_part, h_part, bias, bias_h, pre, float(getattr(s, gate)[unit])))
    return tuple(rows)


def step(
    model: CharModel,
    prompt: str,
    t: int = -1,
    units: list[int] | tuple[int, ...] | None = None,
    layer: int = -1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    top: int | None = None,
    candidates: int = DEFAULT_CANDIDATES,
) -> Explained:
    """Step `t` of `model` reading `prompt`, explained: every number of the equations at that step.

    prompt: checked as for generate(); a prompt longer than MAX_STEP_PROMPT is read from its
        last MAX_STEP_PROMPT characters (`Explained.left_out` says how many were dropped).
    t: which character of the prompt read, 0-based; negative counts from the end (-1, the default:
        the last, whose next character the bars predict).
    units: the units of the layer to explain; None = every unit of a tiny model (hidden at most
        SHOW_ALL_UP_TO), else the DEFAULT_UNITS with the largest |h_t|.
    layer: which layer, 0-based; negative counts from the top (-1, the default: the top layer,
        the one the head reads).
    temperature, top_k, top_p: the sampling arguments the softmax walk applies, with sampling's
        meaning (0 = greedy; top_k 0 or None = off; top_p 1 or None = off).
    top: terms listed per dot product; None = all for a tiny model, else DEFAULT_TERMS.
    candidates: next characters the head lists, the most likely first (at most the vocabulary).

    Raises CharmodelsError (not_whole, not_number, not_number_above, empty_prompt, ...) for a bad
    argument, UnknownCharacterError for characters the model does not know.
    """
    checks.text("prompt", prompt)
    left_out = max(0, len(prompt) - MAX_STEP_PROMPT)
    text = prompt[left_out:]
    ids = check_prompt(model, text)
    t = checks.whole("t", t, -len(ids), len(ids) - 1) % len(ids)
    layers, hidden = model.config.layers, model.config.hidden_size
    layer = checks.whole("layer", layer, -layers, layers - 1) % layers
    temperature = checks.number("temperature", temperature, 0.0, MAX_TEMPERATURE)
    if top_k is not None:
        top_k = checks.whole("top_k", top_k, 0, MAX_TOP_K) or None
    if top_p is not None:
        top_p = checks.number("top_p", top_p, 0.0, 1.0, above_low=True)
        top_p = None if top_p == 1 else top_p
    tiny = hidden <= SHOW_ALL_UP_TO
    if top is not None:
        top = checks.whole("top", top, 1, 1 << 20)
    elif not tiny:
        top = DEFAULT_TERMS
    candidates = min(checks.whole("candidates", candidates, 1, MAX_TOP_K), len(model.vocab))

    state = None
    if t:  # the characters before step t, read by torch in one call: its state is where the step starts
        with torch.inference_mode():
            _, state = model(torch.tensor([ids[:t]], device=model.device))
    stepper = Stepper(model, state, record=True)
    stepper.step(ids[t])  # step t through charmodels.cells, every quantity recorded
    record = stepper.recorded[0]
    s = record.layers[layer]
    w = stepper.weights[layer]
    x = stepper.inputs[ids[t]] if layer == 0 else record.layers[layer - 1].h
    if units is None:
        chosen = list(range(hidden)) if tiny else sorted(np.argsort(-np.abs(s.h), kind="stable")[:DEFAULT_UNITS].tolist())
    else:
        if isinstance(units, (str, bytes)) or not hasattr(units, "__iter__"):
            raise CharmodelsError("not_units", high=hidden - 1, got=checks.shown(units))
        chosen = [checks.whole("unit", u, 0, hidden - 1) for u in units]
        if not chosen:
            raise CharmodelsError("not_units", high=hidden - 1, got=checks.shown(units))
        chosen = list(dict.fromkeys(chosen))  # each unit once, in the order asked
    rows = tuple(
        UnitRows(
            u, _gate_rows(s, model.config.cell, w, x, u, hidden, top), float(s.h_prev[u]), float(s.h[u]),
            float(s.c_prev[u]) if isinstance(s, LSTMStep) else None, float(s.c[u]) if isinstance(s, LSTMStep) else None,
        )
        for u in chosen
    )

    chars = tuple(model.vocab.chars)
    probs = record.probs
    walk = _softmax(record.logits, probs, temperature, top_k, top_p)
    h_top = record.layers[-1].h
    order = [chars.index(c) for c, _ in top_chars(probs, chars, candidates)]
    head = Head(
        stepper.head_w, stepper.head_b, h_top, record.logits,
        tuple(
            Candidate(chars[j], j, float(record.logits[j]), _dot(stepper.head_w, h_top, j, top), float(stepper.head_b[j]),
                      float(probs[j]), float(walk.final[j]))
            for j in order
        ),
    )
    one_hot = model.embed is None
    item = Input(text[t], ids[t], one_hot, stepper.inputs[ids[t]], chars)
    return Explained(text, left_out, t, text[t], model.config.cell, layer, layers, hidden, item, x, w, s, rows, head, walk)


def _softmax(logits: np.ndarray, probs: np.ndarray, temperature: float, top_k: int | None, top_p: float | None) -> Softmax:
    final = reshape(probs, temperature, top_k, top_p)  # sampling's own: what generate() draws from
    kept = final > 0
    if temperature == 0:
        return Softmax(temperature, top_k, top_p, logits, probs, None, None, None, None, None, kept, final)
    with np.errstate(over="ignore", divide="ignore"):
        scaled = logits / temperature
    shift = float(scaled.max())
    exp = np.exp(scaled - shift)
    total = float(exp.sum())
    return Softmax(temperature, top_k, top_p, logits, probs, scaled, shift, exp, total, exp / total, kept, final)
