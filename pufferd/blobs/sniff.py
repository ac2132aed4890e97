"""Content sniffing by magic bytes: does the head of a file match its declared MIME type?

Only the first HEAD_BYTES bytes are needed. Images are never re-encoded; a file whose bytes do
not carry the declared type's signature is refused before anything is stored.
"""
from __future__ import annotations

from collections.abc import Callable

HEAD_BYTES = 512


def _riff(kind: bytes) -> Callable[[bytes], bool]:
    return lambda h: h[:4] == b"RIFF" and h[8:12] == kind


def _mpeg_audio(h: bytes) -> bool:
    if h[:3] == b"ID3":
        return True
    # an MPEG audio frame header: 11 sync bits, then a version and a layer that are not reserved
    return len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0 and h[1] & 0x18 != 0x08 and h[1] & 0x06 != 0


def _webm(h: bytes) -> bool:
    return h[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in h[:64]


def _text(h: bytes) -> bool:
    return b"\x00" not in h


MAGIC: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda h: h[:3] == b"\xff\xd8\xff",
    "image/png": lambda h: h[:8] == b"\x89PNG\r\n\x1a\n",
    "image/webp": _riff(b"WEBP"),
    "video/mp4": lambda h: h[4:8] == b"ftyp",
    "video/webm": _webm,
    "audio/webm": _webm,
    "audio/mpeg": _mpeg_audio,
    "audio/ogg": lambda h: h[:4] == b"OggS",
    "audio/wav": _riff(b"WAVE"),
    "application/pdf": lambda h: h[:5] == b"%PDF-",
    "application/zip": lambda h: h[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"),
    "text/plain": _text,
}

# the order `detect` tries, most specific first (text/plain last: it matches nearly anything)
_DETECT_ORDER = [m for m in MAGIC if m not in ("text/plain", "audio/webm", "audio/mpeg")] + ["audio/mpeg"]


def matches(mime: str, head: bytes) -> bool:
    """True when HEAD (the file's first bytes) carries MIME's signature."""
    check = MAGIC.get(mime)
    return check is not None and check(head)


def detect(head: bytes) -> str | None:
    """The allowed type HEAD looks like, for error messages; None when none fits."""
    for mime in _DETECT_ORDER:
        if MAGIC[mime](head):
            return mime
    return "text/plain" if head and _text(head) else None
