"""Remote content is untrusted text: HTML reduced to plain text (links kept), never rendered."""
from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

MAX_TEXT = 65536


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a":
            text = "".join(self.link_text)
            self.parts.append(text)
            if self.href and self.href not in (text, "") and not text.startswith(("@", "#")):
                self.parts.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.href is not None:
            self.link_text.append(data)
        else:
            self.parts.append(data)


def plain_text(content: str) -> str:
    """CONTENT (HTML from another server) as plain text: tags dropped, paragraphs and line breaks
    kept as newlines, a link's address after its text when they differ."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()[:MAX_TEXT]


def note_html(text: str, mention_url: str, mention_name: str) -> str:
    """Our plain text as a Note's HTML content, opening with the mention fediverse servers expect."""
    body = "<br>".join(html.escape(line) for line in text.split("\n"))
    return (f'<p><span class="h-card"><a href="{html.escape(mention_url)}" class="u-url mention">'
            f'@{html.escape(mention_name)}</a></span> {body}</p>')


# reactions ---------------------------------------------------------------------------------------
# A reaction travels as a Like: without `content` for LIKE_EMOJI (what Mastodon shows as a
# favourite, and Misskey and Pleroma as their default like), with the emoji as `content` and
# `_misskey_reaction` otherwise (Misskey's own form; Pleroma turns it into its EmojiReact).
LIKE_EMOJI = "\u2764\ufe0f"  # ❤️
_HEARTS = ("\u2764", "\u2764\ufe0f")


def reaction_fields(emoji: str) -> dict[str, str]:
    """What a Like carries besides its addressing for a reaction with EMOJI."""
    return {} if emoji == LIKE_EMOJI else {"content": emoji, "_misskey_reaction": emoji}


def reaction_emoji(activity: dict[str, object]) -> str | None:
    """The emoji of an incoming Like or EmojiReact: `content` (or `_misskey_reaction`), LIKE_EMOJI
    for a Like without one; None for an EmojiReact without content. Not yet validated."""
    for key in ("content", "_misskey_reaction"):
        value = activity.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            return LIKE_EMOJI if value in _HEARTS else value
    return LIKE_EMOJI if activity.get("type") == "Like" else None


# attachments -------------------------------------------------------------------------------------
MAX_ATTACHMENTS = 10
MAX_URL = 2048
MAX_NAME = 200


def _attachment_url(value: object) -> str | None:
    if isinstance(value, list):
        return next((u for u in map(_attachment_url, value) if u), None)
    if isinstance(value, dict):
        value = value.get("href")
    if not isinstance(value, str):
        return None
    value = value.strip()
    ok = (value.startswith(("https://", "http://")) and len(value) <= MAX_URL
          and not any(c.isspace() or ord(c) < 32 for c in value))
    return value if ok else None


@dataclass(frozen=True)
class RemoteAttachment:
    """One attachment of an incoming Note: where it is, its name, the type it claims (a hint
    only: what is stored is what the bytes are, pufferd/blobs/sniff.py), its line of text."""

    url: str
    name: str
    media_type: str
    line: str


def attachment_items(note: dict[str, object]) -> list[RemoteAttachment]:
    """The attachments of an incoming NOTE (Document, Image, ... objects with a `url` string or
    Link object): only http(s) URLs; at most MAX_ATTACHMENTS."""
    items = note.get("attachment")
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    out: list[RemoteAttachment] = []
    for item in items:
        if len(out) >= MAX_ATTACHMENTS:
            break
        if not isinstance(item, dict):
            continue
        url = _attachment_url(item.get("url")) or _attachment_url(item.get("href"))
        if url is None:
            continue
        raw = item.get("name")
        name = " ".join(plain_text(raw).split())[:MAX_NAME] if isinstance(raw, str) else ""
        kind = item.get("mediaType")
        media_type = kind.split(";", 1)[0].strip().lower()[:100] if isinstance(kind, str) else ""
        line = f"{name} ({url})" if name and name != url else url
        out.append(RemoteAttachment(url=url, name=name if name != url else "", media_type=media_type, line=line))
    return out


def attachment_lines(note: dict[str, object]) -> list[str]:
    """The attachments of an incoming NOTE as lines of plain text: `name (url)`, or the URL alone."""
    return [a.line for a in attachment_items(note)]
