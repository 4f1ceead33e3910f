"""The Jinja2 environment behind the rendered views: the leaderboard's README.md and index.html, the matrix report.

Templates live in ``instahide_bench/benchmark/templates/`` (package data). Python prepares the
data (rows, ranks, formatted numbers, sort orders); the templates hold the layout. HTML templates
(``*.html.j2``) are autoescaped, Markdown ones (``*.md.j2``) are not; an undefined name is an
error rather than an empty string.

Autoescaping spells entities the way :func:`html.escape` does (``&#x27;``, ``&quot;``), not the
way MarkupSafe does (``&#39;``, ``&#34;``), so the rendered pages keep the bytes they had before
they were templates: a re-render changes a committed page only where an entry changed.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup

TEMPLATES_PACKAGE = "instahide_bench.benchmark"
TEMPLATES_DIR = "templates"


def escape_html(value: object) -> Markup:
    """``value`` as HTML text: already-safe markup as it is, anything else escaped with :func:`html.escape`."""
    if hasattr(value, "__html__"):
        return Markup(value)
    return Markup(html.escape(str(value)))


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    # Jinja calls this on every ``{{ ... }}`` before autoescaping; returning Markup here makes the
    # autoescape step a no-op, so html.escape is the one escaper of HTML templates.
    return escape_html(value) if eval_ctx.autoescape else value


def code_spans(text: str) -> Markup:
    """HTML for prose shared with the Markdown views: escaped, with `backticked` words as ``<code>``."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text)))


#: What an entry's text may not carry into a Markdown view: raw HTML (a renderer passes it
#: through), a table's pipe, line breaks; link and image syntax is broken up below.
_MD_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " ", "\r": " "})


def md_cell(text: str) -> str:
    """``text`` fit for one cell of a Markdown table: one line, shown as the text it is, never as markup.

    ``](`` (a link's or image's target; an image loads a remote address) loses its meaning;
    other brackets stay as they are, so intervals such as ``[0.48, 0.53]`` read as written.
    """
    return str(text).translate(_MD_ESCAPES).replace("](", "\\](")


def csv_cell(value: Any) -> Any:
    """A CSV view's cell: text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) gets a
    leading apostrophe; numbers and other values pass unchanged."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@functools.cache
def environment() -> Environment:
    """The shared environment (built on first use)."""
    env = Environment(
        loader=PackageLoader(TEMPLATES_PACKAGE, TEMPLATES_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "html"),
            disabled_extensions=("md.j2", "md"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["code_spans"] = code_spans
    env.filters["md_cell"] = md_cell
    return env


def render(template: str, **context: Any) -> str:
    """Render the template named ``template`` (a file in ``templates/``) with ``context``."""
    return environment().get_template(template).render(**context)


__all__ = ["code_spans", "csv_cell", "environment", "escape_html", "md_cell", "render"]
