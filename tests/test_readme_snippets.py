"""Every ```python block of README.md runs as it stands, on its own (fresh namespace, empty working directory).

Blocks that load a torch model are marked slow (CI still runs them); the rest take seconds.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
#: words that mark a block loading a torch model (seconds to minutes on a 2-core machine)
TORCH_MODELS = ("load_smollm2", "load_efficientnet_lite0", '"sentiment"', '"smollm2"')


def test_readme_has_the_python_snippets():
    assert len(BLOCKS) >= 5
    assert all("import interspect as isp" in block for block in BLOCKS if "isp." in block)


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(block, id=f"block{i}", marks=[pytest.mark.slow] if any(w in block for w in TORCH_MODELS) else [])
        for i, block in enumerate(BLOCKS)
    ],
)
def test_readme_snippet_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(block, str(README), "exec"), namespace)
    expl = namespace.get("expl")
    assert expl is not None, "every snippet explains something"
    assert expl.n_queries > 0 and len(expl.top(3)) > 0
    if "value_function" in namespace:  # the planted function of the first snippet: its terms are recovered
        assert expl.top(2, min_order=2)[0].features == (2, 3)
        assert {(4, 5, 6)} <= {t.features for t in expl.top(5, min_order=3)}
    if "write_html" in block:
        assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
