"""The rule for text people type (pufferd/text.py), over a table of real strings."""
from __future__ import annotations

import re
import unicodedata

import pytest

from pufferd import text

# what people type: each is accepted as a one-line field and as a multi-line field
TYPED = [
    pytest.param("👨\u200d👩\u200d👧", id="family-zwj"),
    pytest.param("🏳\ufe0f\u200d🌈", id="rainbow-flag-zwj-vs16"),
    pytest.param("👩🏽\u200d💻", id="technologist-skin-tone-zwj"),
    pytest.param("🧑🏿\u200d🤝\u200d🧑🏻", id="people-holding-hands"),
    pytest.param("🇩🇪 🇯🇵 🇧🇷", id="flags"),
    pytest.param("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", id="scotland-tag-sequence"),
    pytest.param("1\ufe0f\u20e3 #\ufe0f\u20e3", id="keycaps"),
    pytest.param("❤\ufe0f ☺\ufe0e", id="variation-selectors"),
    pytest.param("\U0001fae8 \U0001fa77", id="emoji-newer-than-the-unicode-tables"),
    pytest.param("می\u200cخواهم", id="persian-zwnj"),
    pytest.param("क्\u200dष", id="devanagari-zwj"),
    pytest.param("ಕನ್ನಡ\u200c", id="kannada-trailing-zwnj"),
    pytest.param("Café (e\u0301) René", id="combining-acute"),
    pytest.param("Tiếng Việt: Nguyễn Thị Minh Khai", id="vietnamese"),
    pytest.param("שָׁלוֹם עֲלֵיכֶם", id="hebrew-niqqud"),
    pytest.param("مَرْحَبًا بِكُمْ", id="arabic-harakat"),
    pytest.param("مرحبا Ali 42", id="arabic-mixed-ltr"),
    pytest.param("\u200fسلام\u200e (RLM/LRM)", id="rtl-marks"),
    pytest.param("张伟 — 東京 — 서울 — かな・カナ", id="cjk"),
    pytest.param("Ελληνικά, Русский, Українська, ქართული, Հայերեն", id="greek-cyrillic-georgian-armenian"),
    pytest.param("ไทย ລາວ ភាសាខ្មែរ မြန်မာ", id="southeast-asian"),
    pytest.param("தமிழ் తెలుగు বাংলা ગુજરાતી ਪੰਜਾਬੀ", id="indic"),
    pytest.param("አማርኛ ᏣᎳᎩ ᠮᠣᠩᠭᠣᠯ ᚠᚢᚦ", id="ethiopic-cherokee-mongolian-runic"),
    pytest.param("Zoë's café & bar #1 (since '99) 50% off!", id="ascii-punctuation"),
    pytest.param("a\u00a0b\u202fc\u3000d", id="inner-no-break-and-ideographic-spaces"),
    pytest.param("soft\u00adhyphen and word\u2060joiner", id="soft-hyphen-word-joiner"),
    pytest.param("\uf8ff private use", id="private-use"),
    pytest.param("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝄞", id="astral-letters"),
]

# (value, the character named in the error): refused in every field
REFUSED_EVERYWHERE = [
    pytest.param("nul\x00inside", "U+0000", id="nul"),
    pytest.param("bell\x07", "U+0007", id="bel"),
    pytest.param("esc\x1b[31mred", "U+001B", id="ansi-escape"),
    pytest.param("\x1cat the start", "U+001C", id="file-separator-at-the-edge"),
    pytest.param("del\x7f", "U+007F", id="del"),
    pytest.param("next\x85line", "U+0085", id="nel"),
    pytest.param("ends with nel\x85", "U+0085", id="nel-at-the-edge"),
    pytest.param("csi\x9b", "U+009B", id="c1-csi"),
    pytest.param("lone \ud800 surrogate", "U+D800", id="lone-high-surrogate"),
    pytest.param("lone \udcff surrogate", "U+DCFF", id="lone-low-surrogate"),
    pytest.param("non\ufdd0char", "U+FDD0", id="noncharacter-fdd0"),
    pytest.param("non\uffffchar", "U+FFFF", id="noncharacter-ffff"),
    pytest.param("non\U0010fffechar", "U+10FFFE", id="noncharacter-plane-16"),
]

# refused in one-line fields only (names, titles, file names); a multi-line field keeps them
REFUSED_ON_ONE_LINE = [
    pytest.param("two\nlines", "U+000A", id="line-feed"),
    pytest.param("two\r\nlines", "U+000D", id="crlf"),
    pytest.param("tab\there", "U+0009", id="tab"),
    pytest.param("line\u2028separator", "U+2028", id="line-separator"),
    pytest.param("para\u2029separator", "U+2029", id="paragraph-separator"),
    pytest.param("invoice\u202efdp.exe", "U+202E", id="rlo"),
    pytest.param("\u202dforced ltr", "U+202D", id="lro"),
    pytest.param("embed\u202aed\u202c", "U+202A", id="lre"),
    pytest.param("embed\u202bed", "U+202B", id="rle"),
    pytest.param("pop\u202cped", "U+202C", id="pdf"),
    pytest.param("isolate \u2066admin\u2069", "U+2066", id="lri"),
    pytest.param("isolate \u2067admin", "U+2067", id="rli"),
    pytest.param("isolate \u2068admin", "U+2068", id="fsi"),
    pytest.param("admin\u2069", "U+2069", id="pdi"),
]

# shows nothing: refused as one-line identity fields
BLANK = [
    pytest.param("", id="empty"),
    pytest.param("   \t  ", id="spaces-tab"),
    pytest.param("\u200b\u200b", id="zwsp-only"),
    pytest.param("\ufeff", id="bom-only"),
    pytest.param("\u200d", id="zwj-only"),
    pytest.param("\u200c\u2060", id="zwnj-word-joiner"),
    pytest.param("\ufe0f", id="variation-selector-only"),
    pytest.param("\u3164\u3164", id="hangul-filler"),
    pytest.param("\u2800", id="braille-blank"),
    pytest.param("\u3000\u00a0\u2003", id="unicode-spaces"),
    pytest.param("\u00ad", id="soft-hyphen-only"),
    pytest.param("\U000e0041\U000e0042", id="tags-only"),
]


@pytest.mark.parametrize("typed", TYPED)
def test_a_one_line_field_accepts_what_people_type_stored_in_nfc(typed):
    assert text.one_line(typed) == unicodedata.normalize("NFC", typed)
    assert text.one_line(f"  {typed}\n") == unicodedata.normalize("NFC", typed)


@pytest.mark.parametrize("typed", TYPED)
def test_a_multi_line_field_accepts_what_people_type_as_typed(typed):
    assert text.multi_line(typed) == typed
    assert text.multi_line(f"{typed}\n\t{typed}") == f"{typed}\n\t{typed}"


@pytest.mark.parametrize("value, named", REFUSED_EVERYWHERE)
def test_controls_surrogates_and_noncharacters_are_refused_naming_the_character(value, named):
    for clean in (text.one_line, text.multi_line):
        with pytest.raises(ValueError, match=re.escape(named)):
            clean(value)


@pytest.mark.parametrize("value, named", REFUSED_ON_ONE_LINE)
def test_line_breaks_tabs_and_bidi_controls_are_refused_on_one_line(value, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        text.one_line(value)


@pytest.mark.parametrize("value, named", REFUSED_ON_ONE_LINE)
def test_a_multi_line_field_keeps_line_breaks_tabs_and_bidi_controls(value, named):
    assert text.multi_line(value) == value.replace("\r\n", "\n")


def test_the_bidi_message_says_why():
    with pytest.raises(ValueError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE: bidirectional controls"):
        text.one_line("txt\u202eexe")


@pytest.mark.parametrize("value", BLANK)
def test_a_blank_one_line_field_is_refused(value):
    assert text.is_blank(value)
    with pytest.raises(ValueError, match="must not be empty or only whitespace and invisible characters"):
        text.one_line(value)


@pytest.mark.parametrize("typed", TYPED)
def test_what_people_type_is_not_blank(typed):
    assert not text.is_blank(typed)


@pytest.mark.parametrize("value", ["\U0001f469\u200d", "\u200bA", "a\u3164", "\u0301", "\u200d👍"])
def test_one_visible_character_is_enough(value):
    assert text.one_line(value) == unicodedata.normalize("NFC", value)


def test_one_line_normalises_to_nfc():
    assert text.one_line("Rene\u0301e") == "Ren\u00e9e"
    assert text.one_line("\u212b") == "\u00c5"  # ANGSTROM SIGN is A WITH RING ABOVE
    assert text.one_line("한") == "\ud55c" and text.one_line("\u1112\u1161\u11ab") == "\ud55c"


def test_multi_line_keeps_the_text_as_typed_apart_from_line_breaks():
    assert text.multi_line("Rene\u0301e") == "Rene\u0301e"
    assert text.multi_line("  one\r\ntwo\rthree\n\n four \t\n") == "one\ntwo\nthree\n\n four"
    assert text.multi_line("\u200b") == "\u200b" and text.multi_line(" \n ") == ""


def test_surrounding_whitespace_is_stripped_but_not_invisible_characters_that_belong_to_text():
    assert text.one_line("\u3000\u00a0 Alice \u2003\n") == "Alice"
    assert text.one_line("❤\ufe0f ") == "❤\ufe0f"
    assert text.one_line("ಕನ್ನಡ\u200c") == "ಕನ್ನಡ\u200c"


def test_describe_names_the_character():
    assert text.describe("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert text.describe("\x00") == "U+0000"
    assert text.describe("\U0010fffe") == "U+10FFFE"
