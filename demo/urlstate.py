"""The page's view as URL query parameters: a link opens exactly the view on the slide.

    ?text=goethe&cell=rnn&prompt=Knowing%20is&tab=inside&step=3&lesson=2

`parse(query)` reads a link's query into a `View` and a list of `Note`s: every parameter
this page does not know, and every value it cannot use (a bad number, a text not offered,
a step past the prompt), is ignored and named in a note the page shows in its language
(`notes_markdown`), never an exception. `build(view)` writes the "copy link" query, and
``parse(build(view))`` gives the view back with no notes.

The bounds are the app's own (demo/service.py: texts(), APP_MAX_TEMPERATURE, MAX_INSIDE,
MAX_PROMPT_READ; charmodels.sampling: MAX_SEED; charmodels.serving: the tiny sizes), checked
with charmodels.checks as every request is. Which model a prompt's characters belong to is
left to the page: it reads a prompt as it reads one typed (service.prepare_prompt notes
characters the model does not know).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from charmodels import checks, serving
from charmodels.checkpoint import read_metadata
from charmodels.errors import CharmodelsError
from charmodels.model import CELLS
from charmodels.sampling import MAX_SEED
from demo import service
from demo.i18n import say
from demo.service import Note

# The page's tabs, by their ids in demo/app.py (gr.Tab(..., id=...));
TABS = ("predict", "compare", "inside", "train", "lab", "card", "time")  # "time": added by /work/plan/app_through_time.md
TOP_K_SHOWN = 50  # the end of the page's top-k slider: a link asks for no more than the page can show
MAX_SHOWN_VALUE = 40  # characters of a refused value a note quotes
MAX_QUERY = 100_000  # characters of a query read at all: a longer one is refused whole, in one note
# Parameters the page reads elsewhere (page.js: ?projector) or Gradio itself (?__theme=dark):
# known, so never noted, and not part of a View.
PASSTHROUGH = ("projector", "__theme")
# A number as a link writes it: ASCII digits only (Python's float() also takes "nan", "1_0",
# full-width digits and "  1 ", none of which a link of ours contains).
WHOLE = re.compile(r"-?[0-9]{1,25}")
DECIMAL = re.compile(r"-?[0-9]{1,25}(\.[0-9]{1,25})?")


@dataclass(frozen=True)
class View:
    """What a link sets; None = not set (the page keeps what it has).

    Fields (the URL's parameter names):
        text: an offered text (service.texts(): goethe, anthem, ..., shakespeare).
        cell: "rnn", "lstm" or "gru".
        size: hidden units: the standard model's (128) or a tiny version's (2, 4, 8); with text and cell.
        prompt: the prompt of the Predict and Inside tabs (at most service.MAX_PROMPT_READ characters).
        tab: one of TABS.
        step: the character of the prompt the Inside tab explains, from 1 (at most service.MAX_INSIDE,
            and within the prompt when the link has one).
        temperature: 0 (greedy) to service.APP_MAX_TEMPERATURE.
        top_k: 0 (off) to TOP_K_SHOWN.
        top_p: above 0 up to 1 (1 = off).
        seed: -1 (random) to charmodels.sampling.MAX_SEED.
        lesson: the guided lesson's card, from 1 (demo/lessons.py).
    """

    text: str | None = None
    cell: str | None = None
    size: int | None = None
    prompt: str | None = None
    tab: str | None = None
    step: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    lesson: int | None = None

    def set_fields(self) -> dict[str, Any]:
        """The fields this view sets, in the order of the class."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def over(self, base: View) -> View:
        """This view's set fields over `base` (a lesson card's view under a link's own fields)."""
        return replace(base, **self.set_fields())


FIELDS = tuple(f.name for f in fields(View))


def checkpoint_of(view: View, default_text: str = "goethe", default_cell: str = "lstm") -> str:
    """The checkpoint a view asks for: `goethe-lstm`, or a tiny one `hihello-rnn-h2` when its size is one."""
    standard = service.checkpoint_name(view.text or default_text, view.cell or default_cell)
    return serving.tiny_sizes(standard).get(view.size, standard) if view.size is not None else standard


@functools.lru_cache(maxsize=256)
def _standard_size(checkpoint: str) -> int:
    return int(read_metadata(checkpoint)["model_config"]["hidden_size"])


def sizes(text: str, cell: str) -> list[int]:
    """The hidden sizes offered for a text and a cell: the standard model's and its tiny versions'."""
    standard = service.checkpoint_name(text, cell)
    return sorted({_standard_size(standard), *serving.tiny_sizes(standard)})


@functools.lru_cache(maxsize=1)
def _lesson_count() -> int:
    # lessons are built from Views: imported when first asked
    from demo.lessons import LESSONS

    return len(LESSONS)


def _shown(value: str) -> str:
    """A refused value as a note may quote it: printable, at most MAX_SHOWN_VALUE characters."""
    clean = "".join(c if c.isprintable() else "�" for c in value)
    return clean if len(clean) <= MAX_SHOWN_VALUE else clean[:MAX_SHOWN_VALUE] + "…"


def _pairs(query: str | Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The (name, value) pairs of a query string, a whole URL or a mapping (gr.Request.query_params,
    a dict of str or of lists of str), in order."""
    if query is None:
        return []
    if isinstance(query, Mapping):
        multi = getattr(query, "multi_items", None)  # starlette's QueryParams keeps repeated names
        items = multi() if callable(multi) else query.items()
        pairs = []
        for name, value in items:
            for one in value if isinstance(value, (list, tuple)) else [value]:
                pairs.append((str(name), one if isinstance(one, str) else str(one)))
        return pairs
    if not isinstance(query, str):
        return []
    if "?" in query or query.startswith(("http://", "https://")):
        query = urlsplit(query).query
    return parse_qsl(query, keep_blank_values=True, errors="replace", max_num_fields=None)


def _number(name: str, raw: str, low: float, high: float, *, above_low: bool = False) -> float:
    if not DECIMAL.fullmatch(raw):
        raise CharmodelsError("not_number", name=name, low=f"{low:g}", high=f"{high:g}", got=_shown(raw))
    return checks.number(name, float(raw), low, high, above_low=above_low)


def _whole(name: str, raw: str, low: int, high: int) -> int:
    if not WHOLE.fullmatch(raw):
        raise CharmodelsError("not_whole", name=name, low=f"{low:,}", high=f"{high:,}", got=_shown(raw))
    return checks.whole(name, int(raw), low, high)


def _allowed(name: str, view: View, defaults: tuple[str, str]) -> str:
    """What a parameter may be, said with symbols and numbers only (the same in every language)."""
    if name == "text":
        return ", ".join(service.texts())
    if name == "cell":
        return ", ".join(CELLS)
    if name == "tab":
        return ", ".join(TABS)
    if name == "size":
        return ", ".join(str(s) for s in sizes(view.text or defaults[0], view.cell or defaults[1]))
    if name == "step":
        return f"1 – {_step_limit(view):,}"
    if name == "temperature":
        return f"0 – {service.APP_MAX_TEMPERATURE:g}"
    if name == "top_k":
        return f"0 – {TOP_K_SHOWN}"
    if name == "top_p":
        return "0 < top_p ≤ 1"
    if name == "seed":
        return f"-1 – {MAX_SEED:,}"
    if name == "lesson":
        return f"1 – {_lesson_count()}"
    return ""


def _utf8(text: str) -> bool:
    """False for a lone surrogate (no browser sends one; no link could carry it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _step_limit(view: View) -> int:
    return min(len(view.prompt), service.MAX_INSIDE) if view.prompt else service.MAX_INSIDE


def _value(name: str, raw: str, view: View, defaults: tuple[str, str]) -> Any:
    """One parameter's value checked against the view read so far; CharmodelsError when it cannot be used."""
    if name == "text":
        return checks.choice("text", raw, service.texts())
    if name == "cell":
        return checks.choice("cell", raw, CELLS)
    if name == "tab":
        return checks.choice("tab", raw, TABS)
    if name == "prompt":
        if len(raw) > service.MAX_PROMPT_READ or "\x00" in raw or not _utf8(raw):
            raise CharmodelsError("not_text", name="prompt", got="str")
        return raw
    if name == "size":
        size, offered = _whole("size", raw, 1, 1_000_000), sizes(view.text or defaults[0], view.cell or defaults[1])
        if size not in offered:
            raise CharmodelsError("not_choice", name="size", choices=", ".join(map(str, offered)), got=str(size))
        return size
    if name == "step":
        return _whole("step", raw, 1, _step_limit(view))
    if name == "temperature":
        return _number("temperature", raw, 0.0, service.APP_MAX_TEMPERATURE)
    if name == "top_k":
        return _whole("top_k", raw, 0, TOP_K_SHOWN)
    if name == "top_p":
        return _number("top_p", raw, 0.0, 1.0, above_low=True)
    if name == "seed":
        return _whole("seed", raw, -1, MAX_SEED)
    if name == "lesson":
        return _whole("lesson", raw, 1, _lesson_count())
    raise KeyError(name)


# checked in this order: size needs text and cell, step needs the prompt
ORDER = ("text", "cell", "size", "prompt", "step", "tab", "temperature", "top_k", "top_p", "seed", "lesson")


def parse(query: str | Mapping[str, Any] | None, default_text: str = "goethe",
          default_cell: str = "lstm") -> tuple[View, list[Note]]:
    """A link's query (a string, a whole URL, or gr.Request.query_params) -> the View it sets and
    notes on what was ignored. Never raises: whatever cannot be used is left unset and noted.

    default_text, default_cell: the page's text and cell, for a size given without them.
    Notes (demo/i18n.py keys): url_unknown (name), url_repeated (name), url_bad (name, value,
    allowed), url_too_long (n, limit).
    """
    defaults = (default_text, default_cell)
    if isinstance(query, str) and len(query) > MAX_QUERY:
        return View(), [Note("url_too_long", {"n": len(query), "limit": MAX_QUERY})]
    try:
        pairs = _pairs(query)
    except (TypeError, ValueError):  # a mapping that is not one of names to strings
        return View(), [Note("url_unknown", {"name": "?"})]
    notes: list[Note] = []
    raw: dict[str, str] = {}
    for name, value in pairs:
        if name in PASSTHROUGH:
            continue
        if name not in FIELDS:
            notes.append(Note("url_unknown", {"name": _shown(name)}))
        elif name in raw:
            notes.append(Note("url_repeated", {"name": name}))
        else:
            raw[name] = value
    view = View()
    for name in ORDER:
        if name not in raw:
            continue
        try:
            view = replace(view, **{name: _value(name, raw[name], view, defaults)})
        except CharmodelsError:
            shown = _shown(raw[name]) if name != "prompt" else _shown(raw[name][:MAX_SHOWN_VALUE])
            notes.append(Note("url_bad", {"name": name, "value": shown, "allowed": _allowed(name, view, defaults)}))
    return view, notes


def _written(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    return str(value)


def build(view: View, base: str = "") -> str:
    """The link of a view: `base` (the page's address, "" for the query alone) and
    ``?name=value&...`` for every field the view sets, in the order of View."""
    pairs = [(name, _written(value)) for name, value in view.set_fields().items()]
    query = urlencode(pairs, quote_via=quote, safe="", errors="replace")
    return f"{base.split('?')[0]}?{query}" if query else base.split("?")[0]


def _escaped(value: Any) -> str:
    """A value from a link, safe inside the page's Markdown: no HTML, no Markdown syntax."""
    text = html.escape(str(value), quote=True)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", text)


def notes_markdown(lang: str | None, notes: list[Note]) -> str:
    """The notes in the page's language, one line each, every value from the link escaped."""
    lines = []
    for note in notes:
        params = {k: _escaped(v) if isinstance(v, str) else v for k, v in note.params.items()}
        lines.append(f"- {say(lang, note.key, **params)}")
    return "\n".join(lines)
