"""demo/i18n.py: every string the app shows exists in English and Korean, every error code
of the library has a Korean sentence, and each one formats with the parameters it names.

No server needed: the tables are plain data. The page itself is checked in Korean by the
browser tests.
"""

from __future__ import annotations

import string

import pytest

from charmodels.errors import MESSAGES as LIBRARY_MESSAGES
from charmodels.errors import CharmodelsError, CheckpointError
from demo import i18n, service

FORMATTER = string.Formatter()
NUMERIC_SPECS = set(",dfg%eE")


def fields(template: str) -> dict[str, str]:
    """{field name: its format spec} of a str.format template."""
    return {name: spec or "" for _, name, spec, _ in FORMATTER.parse(template) if name}


def sample(template: str) -> dict[str, object]:
    """A value for every field: a number where the spec formats numbers, a word elsewhere."""
    return {name: 12345 if set(spec) & NUMERIC_SPECS else "x" for name, spec in fields(template).items()}


ALL_KEYS = sorted(set(i18n.TABLES["en"]) | set(i18n.TABLES["ko"]))


def test_every_library_error_code_has_english_and_korean():
    """Other modules add codes to charmodels.errors.MESSAGES: each needs its Korean sentence here."""
    missing = sorted(set(LIBRARY_MESSAGES) - set(i18n.ERRORS["ko"]))
    assert not missing, f"codes without Korean in demo/i18n.py: {missing}"
    assert not set(i18n.ERRORS["ko"]) - set(LIBRARY_MESSAGES), "Korean for codes the library no longer has"
    assert i18n.ERRORS["en"] == LIBRARY_MESSAGES  # English is the library's own sentence


def test_the_sections_share_no_key():
    for lang in i18n.LANGUAGES:
        sizes = sum(len(section[lang]) for section in (i18n.UI, i18n.MESSAGES, i18n.ERRORS))
        assert len(i18n.TABLES[lang]) == sizes


@pytest.mark.parametrize("key", ALL_KEYS)
def test_each_key_exists_in_both_languages_and_formats_with_its_parameters(key):
    en, ko = i18n.TABLES["en"].get(key), i18n.TABLES["ko"].get(key)
    assert en and ko, f"{key!r}: en={en!r} ko={ko!r}"
    assert fields(ko).keys() <= fields(en).keys(), f"{key!r}: Korean asks for parameters English never gets"
    params = sample(en)
    for lang in i18n.LANGUAGES:
        worded = i18n.say(lang, key, **params)
        assert worded.strip() and "{" not in worded.replace("{{", ""), (lang, key, worded)
    if key in i18n.UI["en"]:
        return
    if any(ord(c) > 0x3000 for c in en):  # English text is English
        pytest.fail(f"{key!r}: Hangul in the English sentence")
    assert any("\uac00" <= c <= "\ud7a3" for c in ko) or not any(c.isalpha() for c in ko.replace("{", "").replace("}", "")) \
        or key in {"job_scores", "error_checkpoint_named"}, f"{key!r}: the Korean sentence has no Hangul: {ko!r}"


@pytest.mark.parametrize("code", sorted(LIBRARY_MESSAGES))
def test_each_error_code_is_said_through_error_text(code):
    params = sample(LIBRARY_MESSAGES[code])
    error = CharmodelsError(code, **params)
    assert i18n.error_text("en", error) == str(error)
    korean = i18n.error_text("ko-KR", error)
    assert korean == i18n.say("ko", code, **params) and korean != str(error)


def test_field_and_character_names_are_translated():
    error = CharmodelsError("not_whole", name="hidden size", low="8", high="256", got="7")
    assert i18n.error_text("ko", error) == "은닉 크기은(는) 8부터 256까지의 정수여야 합니다. 받은 값: 7"
    assert i18n.error_text("en", error) == "hidden size must be a whole number from 8 to 256, got 7"
    one = CharmodelsError("text_one_char", char="space")
    assert "(공백)" in i18n.error_text("ko", one) and "(space)" in i18n.error_text("en", one)


def test_a_checkpoint_error_never_shows_a_server_path():
    upload = CheckpointError("/tmp/gradio/abc123/notes.safetensors", "file_empty")
    for lang in i18n.LANGUAGES:
        said = i18n.error_text(lang, upload)
        assert "/tmp" not in said and "notes" not in said
    assert i18n.error_text("en", upload) == "the file is empty"
    # a name the visitor typed is theirs to see
    typed = CheckpointError("hf://someone/repo/x.safetensors", "hub_offline")
    assert i18n.error_text("en", typed).startswith("hf://someone/repo/x.safetensors: offline mode")


def test_page_errors_and_unexpected_errors():
    assert i18n.error_text("ko", service.PageError("error_no_file")) == "올린 파일이 없습니다"
    said = i18n.error_text("ko", RuntimeError("/srv/secret/path exploded"))
    assert said == "서버에서 문제가 생겼습니다 (RuntimeError). 다시 해 보세요" and "/srv" not in said


def test_language_follows_the_browser():
    assert [i18n.language(code) for code in ("ko", "ko-KR", "KO", "en-US", "de", "", None, 5)] == [
        "ko", "ko", "ko", "en", "en", "en", "en", "en"]
