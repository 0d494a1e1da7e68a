"""Reports of an explanation: HTML page, text table, matplotlib plot."""

from .html import render_html, write_html
from .plot import plot_explanation, save_png
from .table import format_top_table

__all__ = ["format_top_table", "plot_explanation", "render_html", "save_png", "write_html"]
