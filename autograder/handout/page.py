"""The document as one self-contained HTML page: :func:`render_html`."""
from __future__ import annotations

import html
from importlib import resources
from typing import Any, Callable

import jinja2

from .prose import HandoutError


def _math_renderer() -> Callable[[str, dict[str, Any]], str]:
    from latex2mathml.converter import convert

    def render(content: str, options: dict[str, Any]) -> str:
        display = "block" if options.get("display_mode") else "inline"
        try:
            return convert(content.strip(), display=display)
        except Exception as exc:  # noqa: BLE001 - a formula latex2mathml cannot read
            raise HandoutError(f"cannot render the formula ${content}$ as MathML: {exc}") from None
    return render


def render_html(markdown: str, title: str) -> str:
    """One self-contained HTML page of ``markdown``: MathML maths, the kit's stylesheet
    inline, no script and nothing loaded from elsewhere."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")
    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True,
                      renderer=_math_renderer())
    body = md.render(markdown)
    page = resources.files("autograder").joinpath("handout_assets", "page.html.j2").read_text("utf-8")
    css = resources.files("autograder").joinpath("handout_assets", "page.css").read_text("utf-8")
    return jinja2.Environment(autoescape=False).from_string(page).render(
        title=html.escape(title), body=body, css=css)
