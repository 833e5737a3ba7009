"""demo/urlstate.py: a link's query read into the page's view and written back; anything
unknown or hostile is ignored with a note in the page's language, never an exception."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charmodels.sampling import MAX_SEED
from demo import service, urlstate
from demo.i18n import LANGUAGES, say
from demo.urlstate import FIELDS, View, build, notes_markdown, parse

FULL = View(text="goethe", cell="rnn", size=128, prompt="Knowing is", tab="inside", step=3, temperature=0.5,
            top_k=5, top_p=0.9, seed=7, lesson=2)


def keys(notes) -> list[tuple[str, str]]:
    return [(n.key, n.params.get("name")) for n in notes]


def test_every_field_round_trips():
    query = build(FULL)
    assert query == ("?text=goethe&cell=rnn&size=128&prompt=Knowing%20is&tab=inside&step=3&temperature=0.5"
                     "&top_k=5&top_p=0.9&seed=7&lesson=2")
    assert parse(query) == (FULL, [])
    assert set(FULL.set_fields()) == set(FIELDS)  # the test covers every parameter


@pytest.mark.parametrize("view", [
    View(),
    View(text="hihello", cell="gru", size=2, prompt="hihell", step=6),
    View(prompt="O say can you see,\nby the dawn’s early light & 100% <b>?=#", tab="predict"),
    View(prompt="나는 한국 사람이고, 중국 ", text="tsingtao"),
    View(temperature=0.0, top_k=0, top_p=1.0, seed=-1),
    View(temperature=2.0, seed=MAX_SEED, top_p=0.05),
])
def test_views_round_trip_through_a_whole_url(view):
    link = build(view, "https://example.org/space/?old=1")
    assert link.startswith("https://example.org/space/") and "old=1" not in link
    assert parse(link) == (view, [])


def test_the_passthrough_parameters_are_not_noted():
    assert parse("?projector&__theme=dark&cell=lstm") == (View(cell="lstm"), [])


def test_unknown_and_repeated_parameters_are_noted():
    view, notes = parse("?cell=rnn&colour=red&cell=gru&%3Cscript%3E=1")
    assert view == View(cell="rnn")
    assert keys(notes) == [("url_unknown", "colour"), ("url_repeated", "cell"), ("url_unknown", "<script>")]


@pytest.mark.parametrize("query, name", [
    ("text=nonsense", "text"),
    ("text=goethe-lstm", "text"),
    ("cell=transformer", "cell"),
    ("tab=admin", "tab"),
    ("size=3&text=hihello&cell=rnn", "size"),
    ("size=2", "size"),  # goethe-lstm (the page's default) has no tiny version
    ("size=-1", "size"),
    ("step=0", "step"),
    ("step=7&prompt=hihell", "step"),
    (f"step={service.MAX_INSIDE + 1}", "step"),
    ("temperature=nan", "temperature"),
    ("temperature=inf", "temperature"),
    ("temperature=2.5", "temperature"),
    ("temperature=1e-3", "temperature"),
    ("temperature=%EF%BC%91", "temperature"),  # a full-width digit: float() would take it
    ("temperature=1_0", "temperature"),
    ("temperature=", "temperature"),
    ("top_k=51", "top_k"),
    ("top_k=1.5", "top_k"),
    ("top_p=0", "top_p"),
    ("top_p=1.01", "top_p"),
    ("seed=-2", "seed"),
    (f"seed={MAX_SEED + 1}", "seed"),
    ("seed=" + "9" * 400, "seed"),
    ("lesson=0", "lesson"),
    ("lesson=999", "lesson"),
    ("prompt=" + "a" * (service.MAX_PROMPT_READ + 1), "prompt"),
    ("prompt=a%00b", "prompt"),
])
def test_a_bad_value_is_ignored_with_a_note_naming_it(query, name):
    view, notes = parse(query)
    assert getattr(view, name) is None
    assert [(n.key, n.params["name"]) for n in notes] == [("url_bad", name)]
    for lang in LANGUAGES:
        line = notes_markdown(lang, notes)
        assert line.startswith("- ") and name.replace("_", "\\_") in line


def test_a_bad_value_leaves_the_good_ones():
    view, notes = parse("?cell=gru&temperature=hot&seed=3&step=2&prompt=hi")
    assert view == View(cell="gru", seed=3, step=2, prompt="hi")
    assert keys(notes) == [("url_bad", "temperature")]
    assert notes[0].params["allowed"] == f"0 – {service.APP_MAX_TEMPERATURE:g}"


def test_size_follows_the_links_text_and_cell():
    assert parse("?text=hihello&cell=lstm&size=4")[0].size == 4
    assert urlstate.checkpoint_of(View(text="hihello", cell="lstm", size=4)) == "hihello-lstm-h4"
    assert urlstate.checkpoint_of(View(text="hihello", cell="lstm", size=128)) == "hihello-lstm"
    assert urlstate.checkpoint_of(View(cell="rnn")) == "goethe-rnn"
    assert urlstate.sizes("seoul", "gru") == [2, 4, 8, 128]
    assert parse("?size=4", default_text="seoul", default_cell="rnn")[0].size == 4


def test_a_hostile_value_is_escaped_in_the_note():
    _, notes = parse("?cell=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&%5Bclick%5D(http%3A%2F%2Fevil)=1")
    for lang in LANGUAGES:
        text = notes_markdown(lang, notes)
        assert "<img" not in text and "&lt;img" in text
        assert "[click](" not in text and "\\[click\\]\\(" in text


def test_a_long_value_is_quoted_short():
    _, notes = parse("?cell=" + "x" * 500)
    assert len(notes[0].params["value"]) == urlstate.MAX_SHOWN_VALUE + 1 and notes[0].params["value"].endswith("…")


def test_a_huge_query_is_refused_whole():
    view, notes = parse("?cell=rnn&junk=" + "x" * urlstate.MAX_QUERY)
    assert view == View() and keys(notes) == [("url_too_long", None)]
    assert "100,000" in notes_markdown("en", notes)


def test_gradio_style_query_params_are_read():
    """gr.Request.query_params is starlette's QueryParams: a mapping that keeps repeated names."""
    from starlette.datastructures import QueryParams

    view, notes = parse(QueryParams("cell=rnn&cell=gru&tab=lab&x=1"))
    assert view == View(cell="rnn", tab="lab")
    assert keys(notes) == [("url_repeated", "cell"), ("url_unknown", "x")]
    assert parse({"seed": "4", "tab": ["card", "lab"]}) == (View(seed=4, tab="card"), [repeated_note("tab")])


def repeated_note(name):
    return service.Note("url_repeated", {"name": name})


def test_a_view_over_another():
    card = View(text="hihello", cell="rnn", tab="inside")
    assert View(cell="gru", seed=3).over(card) == View(text="hihello", cell="gru", tab="inside", seed=3)


def test_every_note_is_said_in_both_languages():
    _, notes = parse("?a=1&cell=rnn&cell=gru&seed=x")
    for lang in LANGUAGES:
        lines = notes_markdown(lang, notes).splitlines()
        assert len(lines) == 3
    assert notes_markdown("ko", notes) != notes_markdown("en", notes)
    assert "무시했습니다" in notes_markdown("ko", notes)
    allowed = f"-1 – {MAX_SEED:,}"
    assert notes[2].params == {"name": "seed", "value": "x", "allowed": allowed}
    assert say("en", "url_bad", name="seed", value="x", allowed=allowed) in notes_markdown("en", notes).replace("\\", "")


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["", "nan", "-inf", "1e309", "0x10", "  1", "1.", ".5", "-0", "10**9", "٣", "²", "%", "&", "=", "#", "?", "+", "%00"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS + ("projector", "bogus", "", "<x>")), TEXT, max_size=8))
def test_any_string_in_any_parameter_never_raises(params):
    query = "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    for given_as in (query, params):
        view, notes = parse(given_as)
        assert isinstance(view, View)
        for lang in LANGUAGES:
            notes_markdown(lang, notes)
        # what was taken is valid: the link written from it reads back the same, with no note
        assert parse(build(view)) == (view, [])
        # each parameter is either taken or named in a note
        named = {n.params.get("name") for n in notes}
        for name, value in params.items():
            if name in FIELDS:
                assert (getattr(view, name) is not None) != (name in named), (name, value)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_query_string_never_raises(query):
    view, notes = parse(query)
    assert parse(build(view)) == (view, []) and all(isinstance(n, service.Note) for n in notes)
