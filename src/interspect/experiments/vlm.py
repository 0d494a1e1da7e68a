"""Vision-language: image regions + a question -> the answer (blocked here, see :data:`BLOCKED`).

The experiment needs an image–text model whose weights ship inside a registry package (these machines
cannot download weights from a model hub at run time). The packages checked so far carry loading code
only (CLIP wrappers fetch their weights from a hub on first use), so there is no offline model to run it on.
The image path itself exists (:class:`~interspect.frontends.ImageValueFunction` over regions); with an
image–text scorer the value would be the caption's score for the masked image.
"""

from __future__ import annotations

from .common import ExperimentResult

BLOCKED = (
    "the vlm experiment needs an offline image-text model (a CLIP-like scorer whose weights ship in a PyPI "
    "package); none was found among the installable packages: the CLIP packages there download their weights "
    "from a model hub, which these machines cannot reach"
)


def run(quick: bool = True, **options: object) -> ExperimentResult:
    """Raises ImportError naming what is missing (the CLI prints it as one line)."""
    raise ImportError(BLOCKED)
