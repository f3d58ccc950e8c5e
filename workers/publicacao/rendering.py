"""The publication as a standalone HTML document."""

from __future__ import annotations

from html import escape

from common.text import slugify
from document import Publication

__all__ = ["render_html"]


def render_html(publication: Publication) -> str:
    """Escaped, self-contained HTML; sections get stable anchors from their headings."""
    parts = [
        "<!doctype html>",
        '<html lang="pt"><head><meta charset="utf-8">',
        f"<title>{escape(publication.title)}</title>",
        f'<meta name="author" content="{escape(publication.author)}">',
    ]
    if publication.tags:
        parts.append(f'<meta name="keywords" content="{escape(", ".join(publication.tags))}">')
    parts += ["</head><body><article>", f"<h1>{escape(publication.title)}</h1>"]
    byline = f"por {escape(publication.author)}"
    if publication.published_on:
        byline += f", {publication.published_on.isoformat()}"
    parts.append(f'<p class="byline">{byline}</p>')
    for number, section in enumerate(publication.sections, start=1):
        anchor = slugify(section.heading) or f"secao-{number}"
        if section.heading:
            parts.append(f'<h2 id="{anchor}">{escape(section.heading)}</h2>')
        parts += [f"<p>{escape(paragraph)}</p>" for paragraph in section.paragraphs]
    parts.append("</article></body></html>")
    return "\n".join(parts) + "\n"
