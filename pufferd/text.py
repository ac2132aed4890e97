"""The rule for text that people type: names, chat titles, bios, descriptions, file names.

Everything a person can type is accepted: every script (CJK, RTL, Indic...), combining marks,
emoji with skin tones, ZWJ sequences, flags, keycaps and variation selectors, ZWNJ/ZWJ inside
words (Persian, Indic), LRM/RLM marks, private-use characters and code points newer than this
Python's Unicode tables (new emoji). What is refused can only hurt:

- control characters (C0 U+0000-U+001F, DEL and C1 U+007F-U+009F); a multi-line field keeps
  line feeds and tabs (CR LF and a lone CR become LF), a one-line field has neither;
- lone surrogates (U+D800-U+DFFF) and noncharacters (U+FDD0-U+FDEF, U+xxFFFE, U+xxFFFF);
- in one-line fields, which name someone or something, also the line and paragraph separators
  (U+2028, U+2029) and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069), which let a name look like another ("invoice" U+202E "gpj.exe" shows
  as "invoiceexe.jpg").

Both kinds lose surrounding whitespace. A one-line field is normalised to NFC (an "é" typed as
e + U+0301 and one typed as U+00E9 are stored alike) and must show something: not empty, not
only whitespace and invisible characters (see is_blank). A multi-line field keeps its text as
typed apart from line breaks; whether it may be blank is its owner's call.

The functions raise ValueError with a message naming the character as U+XXXX (pydantic turns it
into a 422 naming the field); they do not know the field's name.
"""
from __future__ import annotations

import re
import unicodedata

# bidirectional embedding/override (U+202A-U+202E) and isolate (U+2066-U+2069) controls
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SEPARATORS = frozenset("\u2028\u2029")
# whitespace stripped at both ends: Unicode White_Space minus the C0/C1 controls other than
# TAB, LF and CR (Python's str.isspace() also counts U+001C-U+001F and U+0085 as space; those
# are refused, never silently dropped)
_EDGE_SPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace()
                      and (unicodedata.category(ch) != "Cc" or ch in "\t\n\r"))
# shows nothing besides whitespace, controls and format characters (categories Cc, Cf, Z*):
# the Default_Ignorable_Code_Point characters of Unicode's DerivedCoreProperties.txt (zero-width
# space and joiners, variation selectors, Hangul fillers, tags...) and the blank Braille pattern
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
                        "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")


def is_blank(value: str) -> bool:
    """True when VALUE shows nothing: empty, or only whitespace and invisible characters."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")
               or _INVISIBLE.match(ch) for ch in value)


def one_line(value: str) -> str:
    """VALUE as a one-line identity field (a person's name, a chat title, a file name) stores
    it: stripped and NFC-normalised; ValueError when it is blank or has a refused character."""
    value = unicodedata.normalize("NFC", value.strip(_EDGE_SPACE))
    for ch in value:
        problem = _problem(ch, multi_line=False)
        if problem:
            raise ValueError(problem)
    if is_blank(value):
        raise ValueError("must not be empty or only whitespace and invisible characters")
    return value


def multi_line(value: str) -> str:
    """VALUE as a multi-line field (a bio, a chat description) stores it: line breaks as LF,
    stripped; ValueError when it has a refused character. A blank value is returned as it
    is: the caller decides what a blank one means."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip(_EDGE_SPACE)
    for ch in value:
        problem = _problem(ch, multi_line=True)
        if problem:
            raise ValueError(problem)
    return value


def describe(ch: str) -> str:
    """U+XXXX and the character's Unicode name where it has one: 'U+202E RIGHT-TO-LEFT OVERRIDE'."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}" if name else f"U+{ord(ch):04X}"


def _problem(ch: str, *, multi_line: bool) -> str | None:
    """Why CH may not appear in the field, or None."""
    category = unicodedata.category(ch)
    if category == "Cc":
        if multi_line and ch in "\n\t":
            return None
        if ch in "\n\r":
            return f"must be one line (found {describe(ch)})"
        return f"must not contain the control character {describe(ch)}"
    if category == "Cs":
        return f"must not contain {describe(ch)} (a lone surrogate, not a character)"
    if _is_noncharacter(ch):
        return f"must not contain {describe(ch)} (a noncharacter)"
    if multi_line:
        return None
    if ch in _SEPARATORS:
        return f"must be one line (found {describe(ch)})"
    if ch in BIDI_CONTROLS:
        return (f"must not contain {describe(ch)}: bidirectional controls can make a name look like "
                "another")
    return None


def _is_noncharacter(ch: str) -> bool:
    cp = ord(ch)
    return 0xFDD0 <= cp <= 0xFDEF or cp & 0xFFFE == 0xFFFE
