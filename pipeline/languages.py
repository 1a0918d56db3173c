"""The languages a video can be in, and how each is analysed for search and summaries.

A video's language is an ISO 639-1 code that Whisper knows (the uploader's, or the one the
multilingual model detected). Search stems the words of the languages that have a Snowball
stemmer (the same algorithms in Tantivy, PostgreSQL's text search configurations and
OpenSearch's language analyzers); every other language is searched by its lower-cased words.
"""

from __future__ import annotations

# Every language faster-whisper's multilingual models transcribe (faster_whisper.tokenizer's codes).
WHISPER_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu hy "
    "id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru "
    "sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue".split()
)

# Languages with a Snowball stemmer, by the name Tantivy, PostgreSQL and OpenSearch give them.
STEMMED = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
# The languages the web app's upload form offers by name (any other code is accepted by the API).
NAMES = {
    "ar": "Arabic", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "hi": "Hindi", "hu": "Hungarian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sv": "Swedish", "ta": "Tamil", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip
# How a transcript's language was chosen: stated with the video, detected by a multilingual model, or
# assumed (an English-only model transcribes everything as English).
STATED, DETECTED, ASSUMED = "stated", "detected", "assumed"
# What a text of no known language (a video without speech) is analysed as: English, as before languages.
DEFAULT = "en"


class UnknownLanguage(ValueError):
    """Not a language code Whisper knows."""


def normalize(value: str | None) -> str | None:
    """The language code for `value` ("fr", "FR", "fr-CA" -> "fr"); None for none or an empty string.

    Raises UnknownLanguage, with what is accepted, for anything else.
    """
    if value is None or not value.strip():
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    if code not in WHISPER_LANGUAGES:
        raise UnknownLanguage(
            f"unknown language {value!r}: give an ISO 639-1 code such as en, fr, es or de "
            f"(one of the {len(WHISPER_LANGUAGES)} Whisper knows)"
        )
    return code


def analysis_language(language: str | None) -> str:
    """The language a text in `language` is analysed as: DEFAULT when it is not known."""
    return language or DEFAULT


def stemmer_name(language: str | None) -> str | None:
    """The Snowball stemmer's name for `language`, or None when it has none (its words are matched as they are)."""
    return STEMMED.get(analysis_language(language))


def describe(language: str) -> str:
    """The language's English name for people and prompts ("French"), or what its code is."""
    return NAMES.get(language) or f"the language whose ISO 639-1 code is {language!r}"
