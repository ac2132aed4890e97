"""Strings people type, and strings that must be refused, for the web tests of every text field
(the rule itself is pufferd/text.py, tested over a longer table in tests/domain/test_text.py)."""
from __future__ import annotations

import unicodedata

# accepted in every text field; one-line fields store them in NFC
TYPED = [
    "👨\u200d👩\u200d👧",                 # family: ZWJ sequence
    "🏳\ufe0f\u200d🌈 Pride",             # flag: variation selector + ZWJ
    "👩🏽\u200d💻 Dev",                    # skin tone + ZWJ
    "🇩🇪 Berlin",                        # regional-indicator flag
    "1\ufe0f\u20e3 first",               # keycap
    "می\u200cخواهم",                     # Persian with ZWNJ
    "क्\u200dष",                          # Devanagari with ZWJ
    "Rene\u0301e",                       # e + combining acute (NFC: Renée)
    "Nguyễn Thị",                        # Vietnamese
    "שָׁלוֹם",                             # Hebrew niqqud
    "مَرْحَبًا",                            # Arabic harakat
    "张伟 東京 서울",                      # CJK
]

# (value, what the error names): refused in every text field
CONTROLS = [
    ("nul\x00inside", "U+0000"),
    ("bell\x07", "U+0007"),
    ("next\x85line", "U+0085"),
    ("trailing nel\x85", "U+0085"),
    ("non\uffffchar", "U+FFFF"),
]

# (value, what the error names): refused in one-line identity fields only
ONE_LINE_ONLY = [
    ("invoice\u202efdp.exe", "U+202E"),
    ("isolate \u2066admin\u2069", "U+2066"),
    ("two\nlines", "U+000A"),
    ("tab\there", "U+0009"),
    ("line\u2028separator", "U+2028"),
]

# shows nothing: refused as one-line identity fields
BLANK = ["\u200b\u200b", "\ufeff", "\u200d", "\u3164", "\u2800", " \u200b\u00a0"]


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def names_field(body: dict, field: str, named: str | None = None) -> bool:
    """BODY is a 422 detail naming FIELD alone (and, when given, the character NAMED)."""
    detail = body["detail"]
    return ([e["loc"] for e in detail] == [["body", field]]
            and (named is None or named in detail[0]["msg"]))
