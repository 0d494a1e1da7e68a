"""``interspect`` command line: argument errors, one-line input errors, and runs end to end on VADER (real model)."""

import contextlib
import io
import re
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from interspect import Explanation
from interspect.cli import main
from interspect.data import review_demo
from interspect.frontends.build import build_text_value_function
from interspect.report import render_html
from interspect.report.notes import NEGLIGIBLE_SHARE, crosses_zero
from interspect.report.table import strongest

REVIEW = "The food was not bad, but the service never fails to disappoint."
N_WORDS = 12


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory):
    """One exact explanation of VADER on a 12-word review, with every output written."""
    tmp = tmp_path_factory.mktemp("cli")
    paths = {ext: tmp / f"out.{ext}" for ext in ("json", "html", "png")}
    argv = "explain --model vader --unit word --method exact --max-order 12 --top 5 --no-progress".split()
    argv += ["--text", REVIEW, "--json", str(paths["json"]), "--html", str(paths["html"]), "--png", str(paths["png"])]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    return code, out.getvalue(), paths


def test_exact_run_matches_the_real_model_on_every_mask(exact_run):
    code, out, paths = exact_run
    assert code == 0
    expl = Explanation.from_json(paths["json"].read_text())
    assert expl.n_features == N_WORDS and expl.method == "exact"
    assert expl.metadata["units"][3] == "not" and expl.metadata["text"] == REVIEW
    assert expl.faithfulness.kind == "exact" and expl.faithfulness.r2 == pytest.approx(1.0)
    # the saved surrogate reproduces VADER's compound score on every one of the 2^12 masks
    vf = build_text_value_function(model="vader", text=REVIEW, unit="word")
    masks = ((np.arange(1 << N_WORDS)[:, None] >> np.arange(N_WORDS)) & 1).astype(bool)
    np.testing.assert_allclose(expl.predict(masks), vf(masks), atol=1e-9)
    assert expl.n_queries == 1 << N_WORDS


def listed_terms(terms):
    """The terms a report lists as strongest: sign established, above the noise floor, strongest first."""
    sure, unsure = strongest(terms, NEGLIGIBLE_SHARE * max(abs(t.value) for t in terms))
    return sure + unsure


def test_exact_run_prints_the_table_faithfulness_and_cost(exact_run):
    _, out, paths = exact_run
    expl = Explanation.from_json(paths["json"].read_text())
    top = listed_terms(expl.top(5))
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+[+-]", line)]
    assert len(rows) == len(top) >= 3
    for row, interaction in zip(rows, top, strict=True):
        rank, order, value = row.split()[:3]
        units = re.search(r"\[\d+\] .*", row).group(0)
        assert int(order) == len(interaction.features)
        assert float(value) == pytest.approx(interaction.value, rel=1e-3)
        assert units.startswith(f"[{interaction.features[0]}] {expl.metadata['units'][interaction.features[0]]}")
        word = {True: "synergy", False: "redundancy"}[interaction.value > 0] if len(interaction.features) > 1 else ""
        assert word in row
    assert "faithfulness: R² = 1.000 (exact, 4096 masks)" in out
    assert re.search(r"method: exact\s+queries: 4096", out)
    assert re.search(r"time: model \d+\.\d\d s, algorithm \d+\.\d\d s, total \d+\.\d\d s", out)
    for ext in ("json", "html", "png"):
        assert f"wrote {paths[ext]}" in out


def test_exact_run_writes_a_consistent_html_report_and_png(exact_run):
    _, _, paths = exact_run
    expl = Explanation.from_json(paths["json"].read_text())
    page = paths["html"].read_text()
    shown = [float(v) for v in re.findall(r'<span class="u" id="u\d+" data-value="([^"]+)"', page)]
    np.testing.assert_allclose(shown, expl.shapley_values(), rtol=1e-5, atol=1e-9)
    # the text is shown with its own punctuation (spans), and the drawn interactions are the top pairs+
    assert re.sub(r"<[^>]+>", "", re.search(r'<div class="text" id="text">(.*?)</div>', page).group(1)) == REVIEW
    drawn = re.findall(r'<g class="ix" data-units="([\d ]+)"', page)
    floor = NEGLIGIBLE_SHARE * max(max(abs(expl.shapley_values())), *(abs(t.value) for t in expl.top(15, min_order=2)))
    expected = [t for t in expl.top(15, min_order=2) if abs(t.value) > floor and not crosses_zero(t)][:5]
    assert drawn == [" ".join(map(str, t.features)) for t in expected] and drawn
    image = matplotlib.image.imread(paths["png"])
    assert image.shape[0] > 100 and image.shape[1] > 300


def test_report_subcommand_rerenders_the_saved_explanation(exact_run, tmp_path, capsys):
    _, out, paths = exact_run
    html = tmp_path / "again.html"
    code, again, _ = run_main(capsys, "report", str(paths["json"]), "--top", "5", "--html", str(html))
    assert code == 0
    table = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+[+-]", line)]
    assert table == [line for line in again.splitlines() if re.match(r"\s+\d+\s+\d+\s+[+-]", line)]
    expl = Explanation.from_json(paths["json"].read_text())
    assert html.read_text() == render_html(expl, k=5) == paths["html"].read_text()


def test_subprocess_run_with_budget_holdout_and_resumable_cache(tmp_path):
    out_json, cache = tmp_path / "e.json", tmp_path / "cache.sqlite"
    argv = [sys.executable, "-m", "interspect.cli"]
    argv += "explain --model vader --method proxyspex --budget 300 --holdout 50 --seed 3".split()
    argv += ["--cache", str(cache), "--json", str(out_json)]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    expl = Explanation.from_json(out_json.read_text())
    assert expl.metadata["text"] == review_demo()  # no --text: the bundled review, split into words
    assert expl.n_features == len(review_demo().replace(",", " ").replace(".", " ").split())
    assert expl.n_queries <= 300 and expl.n_heldout_queries == 50
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.n_masks == 50
    assert expl.faithfulness.r2 > 0.5
    assert f"queries: {expl.n_queries} ({expl.n_fit_queries} fitted + 50 held out)" in first.stdout
    # the rerun finds every answer in the on-disk cache: no model call, same explanation
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    again = Explanation.from_json(out_json.read_text())
    assert again.info["n_evaluated"] == 0 and expl.info["n_evaluated"] > 0
    assert again.fourier.to_dict() == pytest.approx(expl.fourier.to_dict())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--file", "/nonexistent/review.txt"], "input file not found: /nonexistent/review.txt"),
        (["--text", "   \n "], "the input text is empty"),
        (["--text", "!!! ...", "--unit", "word"], "no word units"),
        (["--text", REVIEW, "--model", "no-such-model-xyz"], "no-such-model-xyz"),
        (["--text", REVIEW, "--method", "proxyspex", "--budget", "1"], "needs a budget of at least 2 queries, got 1"),
    ],
)
def test_bad_input_gives_one_line_error(argv, message, capsys):
    code, out, err = run_main(capsys, "explain", "--model", "vader", *argv)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("interspect: error: ") and message in err
    assert "Traceback" not in err


def test_empty_file_is_rejected(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    code, _, err = run_main(capsys, "explain", "--model", "vader", "--file", str(empty))
    assert code == 1 and err == "interspect: error: the input text is empty\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "--method", "magic"], "invalid choice: 'magic'"),
        (["explain", "--budget", "0"], "must be at least 1, got 0"),
        (["explain", "--budget", "many"], "expected a whole number"),
        (["explain", "--text", "a", "--file", "b"], "not allowed with argument"),
        (["explain", "--unit", "letter"], "invalid choice: 'letter'"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_subprocess_error_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "interspect.cli", "explain", "--model", "vader", "--file", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == f"interspect: error: input file not found: {tmp_path / 'missing'}\n"


def test_bundled_demo_inputs_are_the_defaults():
    from interspect.cli import _read_input, build_parser
    from interspect.data import context_of, rag_demo

    demo, default = rag_demo(), build_parser().parse_args(["explain"])
    context = context_of(demo)[0]
    assert _read_input(default) == (context, demo["question"]) and default.target == demo["target"]
    own_question = build_parser().parse_args(["explain", "--question", "Where does Ilse work?"])
    assert _read_input(own_question) == (context, "Where does Ilse work?") and own_question.target is None
    assert _read_input(build_parser().parse_args(["explain", "--model", "sentiment"])) == (review_demo(), None)
    assert context.count("\n\n") == 4 and "never fails to impress" in review_demo()


def test_interrupted_run_resumes_from_the_cache(tmp_path, monkeypatch, capsys):
    import interspect.frontends.build as build

    class InterruptAfterOneBatch:
        """The real VADER value function, interrupted (Ctrl-C) on its second batch."""

        def __init__(self, inner) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __call__(self, masks):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return self.inner(masks)

    real = build.build_text_value_function
    cache, out_json = tmp_path / "c.sqlite", tmp_path / "e.json"
    argv = "explain --model vader --method exact --max-order 3 --batch-size 100 --no-progress".split()
    argv += ["--text", REVIEW, "--cache", str(cache), "--json", str(out_json)]
    monkeypatch.setattr(build, "build_text_value_function", lambda **kw: InterruptAfterOneBatch(real(**kw)))
    code, _, err = run_main(capsys, *argv)
    assert code == 130 and err == "interspect: interrupted (rerun with the same --cache to resume)\n"
    assert not out_json.exists()

    monkeypatch.setattr(build, "build_text_value_function", real)
    code, _, _ = run_main(capsys, *argv)
    assert code == 0
    expl = Explanation.from_json(out_json.read_text())
    # the first batch of 100 answers came from the cache written before the interruption
    assert expl.n_queries == 1 << N_WORDS and expl.info["n_evaluated"] == (1 << N_WORDS) - 100


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "explanation file not found"),
        ('{"format_version": 1}', "malformed explanation"),
        ("not json", "not an explanation JSON file"),
        ('{"format": "interspect.explanation", "version": 7}', "unsupported explanation version 7"),
    ],
)
def test_report_subcommand_rejects_bad_files(content, message, tmp_path, capsys):
    path = tmp_path / "e.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run_main(capsys, "report", str(path))
    assert code == 1 and err.startswith("interspect: error: ") and message in err and err.count("\n") == 1


HEAVY_MODULES = ("numpy", "scipy", "sklearn", "torch", "transformers", "interspect.query", "interspect.algorithms")


def imported_modules(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from interspect.cli import main; sys.exit(main())",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return result, names


def test_help_imports_nothing_heavy():
    result, names = imported_modules("--help")
    assert result.returncode == 0 and "explain" in result.stdout and "report" in result.stdout
    assert "interspect.cli" in names
    assert not [name for name in names if name.split(".")[0] in HEAVY_MODULES or name.startswith(HEAVY_MODULES)]
    # a subcommand's help builds only that subcommand (and still lists the index choice)
    result, names = imported_modules("report", "--help")
    assert result.returncode == 0 and "--index" in result.stdout and "fsii" in result.stdout
    assert "interspect.experiments" not in names and "interspect.frontends.text" not in names


def test_report_index_choice_sets_the_table_and_the_page(exact_run, tmp_path, capsys):
    _, _, paths = exact_run
    html = tmp_path / "banzhaf.html"
    code, out, _ = run_main(capsys, "report", str(paths["json"]), "--index", "banzhaf", "--html", str(html))
    assert code == 0 and "value (bii)" in out
    page = html.read_text()
    expl = Explanation.from_json(paths["json"].read_text())
    shown = [float(v) for v in re.findall(r'<span class="u" id="u\d+" data-value="([^"]+)"', page)]
    np.testing.assert_allclose(shown, expl.banzhaf_values(), rtol=1e-5, atol=1e-9)
    assert "Banzhaf value of each unit" in page and "bii values" in page
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(paths["json"]), "--index", "lime"])
    assert exit_info.value.code == 2 and "invalid choice: 'lime'" in capsys.readouterr().err


def test_low_or_unknown_faithfulness_is_a_warning_on_stderr(exact_run, tmp_path, capsys):
    _, _, paths = exact_run
    expl = Explanation.from_json(paths["json"].read_text())
    code, _, err = run_main(capsys, "report", str(paths["json"]))
    assert code == 0 and err == ""  # exact, R² 1: nothing to warn about
    from interspect import Faithfulness

    for faithfulness, words in ((Faithfulness(0.3, "heldout", 50), "R² = 0.30"), (Faithfulness(), "not be measured")):
        expl.faithfulness = faithfulness
        low = tmp_path / "low.json"
        low.write_text(expl.to_json())
        code, _, err = run_main(capsys, "report", str(low))
        lines = err.splitlines()
        assert code == 0 and lines and all(line.startswith("interspect: warning: ") for line in lines)
        assert words in err and "budget=" in err and "unreliable" in err


def test_llm_without_question_says_it_explains_a_free_continuation(monkeypatch, capsys):
    import interspect.frontends.build as build

    def stop(**kwargs):
        raise ValueError("stopped before loading the model")

    monkeypatch.setattr(build, "build_text_value_function", stop)
    code, _, err = run_main(capsys, "explain", "--model", "smollm2", "--text", "Anna was born in Paris.")
    assert code == 1 and "stopped before loading the model" in err
    assert "note: no --question given, so smollm2 explains its free continuation of the text" in err
    code, _, err = run_main(capsys, "explain", "--model", "smollm2", "--text", "Anna.", "--question", "Who?")
    assert code == 1 and "note:" not in err


@pytest.mark.slow
def test_llm_run_prints_no_transformers_deprecation_warning(tmp_path):
    argv = [sys.executable, "-m", "interspect.cli", "explain", "--model", "smollm2", "--no-progress"]
    argv += ["--text", "Anna was born in Paris. She works in Rome.", "--question", "Where was Anna born?"]
    argv += ["--method", "exact", "--json", str(tmp_path / "e.json")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert Explanation.from_json(tmp_path / "e.json").n_queries == 4
    assert "deprecated" not in result.stderr and "FutureWarning" not in result.stderr


def test_report_subcommand_renders_qary_explanations(tmp_path, capsys):
    from test_report import qary_explanation

    path, html, png = tmp_path / "q.json", tmp_path / "q.html", tmp_path / "q.png"
    path.write_text(qary_explanation().to_json())
    code, out, err = run_main(capsys, "report", str(path), "--html", str(html), "--png", str(png))
    assert code == 0 and err == ""
    assert "features = frequency digit" in out and "[0] colour=1" in out
    assert "Importance of each feature" in html.read_text() and matplotlib.image.imread(png).shape[0] > 100
