"""Remote content is untrusted text: HTML reduced to plain text (links kept), never rendered."""
from __future__ import annotations

import html
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
