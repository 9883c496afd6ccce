"""Markdown to HTML for guides, with the directory's links.

Raw HTML in a guide is never rendered (markdown-it's `html` option is off: it shows as text), and
links with a `javascript:`, `vbscript:`, `file:` or `data:` address are refused by markdown-it: the
HTML is safe to insert in a page whoever wrote the file. Two link schemes point into the directory:
`[texte](organisme:NDA-SIRET-ou-identifiant)` and `[texte](departement:33)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .links import find_mentions, mention_pattern

# (kind, key) → (path, title) of the page, or None when there is none
Resolver = Callable[[str, str], tuple[str, str] | None]


def _link(text: str, href: str, title: str, level: int) -> list[Token]:
    opening = Token("link_open", "a", 1, attrs={"href": href, "title": title}, level=level)
    return [
        opening,
        Token("text", "", 0, content=text, level=level + 1),
        Token("link_close", "a", -1, level=level),
    ]


def _linked_children(children: list[Token], pattern, names, resolve: Resolver) -> list[Token]:
    out: list[Token] = []
    depth = 0
    for token in children:
        if token.type == "link_open":
            depth += 1
            href = str(token.attrGet("href") or "")
            kind, _, key = href.partition(":")
            if kind in ("organisme", "departement") and key:
                target = resolve(kind, key)
                token.attrSet("href", target[0] if target else f"/recherche?q={key}")
                if target:
                    token.attrSet("title", target[1])
        elif token.type == "link_close":
            depth -= 1
        if token.type != "text" or depth > 0:
            out.append(token)
            continue
        text, last = token.content, 0
        for m in find_mentions(text, pattern, names):
            target = resolve(m.kind, m.key)
            if target is None:
                continue
            if m.start > last:
                out.append(Token("text", "", 0, content=text[last : m.start], level=token.level))
            out.extend(_link(text[m.start : m.end], target[0], target[1], token.level))
            last = m.end
        if last == 0:
            out.append(token)
        elif last < len(text):
            out.append(Token("text", "", 0, content=text[last:], level=token.level))
    return out


def render_markdown(body: str, names: dict[str, str], resolve: Resolver) -> str:
    """The guide's HTML; `names` maps département names to codes, `resolve` finds pages."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    pattern = mention_pattern(names)

    def directory_links(state: Any) -> None:
        for block in state.tokens:
            if block.type == "inline" and block.children:
                block.children = _linked_children(block.children, pattern, names, resolve)

    md.core.ruler.push("annuaire_links", directory_links)
    return md.render(body)
