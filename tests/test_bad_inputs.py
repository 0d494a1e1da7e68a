"""Inputs a hostile or careless user gives: each ends in a clear error or a correct result, in bounded time.

Value functions that return garbage or raise (the query engine's QueryError names what and where; no answer
already computed is lost, in memory or in the cache), and command lines with empty, binary, missing, huge,
right-to-left or emoji input, bad flags and files that are not explanations (exit status != 0, one line on
stderr, no traceback).
"""

import signal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect import cli
from interspect.frontends.base import TextValueFunction
from interspect.frontends.build import check_options, request_units
from interspect.frontends.registry import MODEL_KINDS, ModelKind
from interspect.query import QueryEngine, QueryError

N = 6
WEIGHTS = np.arange(1.0, N + 1)
SECONDS_PER_CASE = 240  # a guard against hangs, far above what any case needs


@pytest.fixture(autouse=True)
def bounded_time():
    """Fail (instead of hanging the suite) if a case runs longer than SECONDS_PER_CASE."""

    def expire(signum, frame):
        raise TimeoutError(f"a bad input took more than {SECONDS_PER_CASE} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(SECONDS_PER_CASE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _masks(m=20, n=N, seed=0):
    return np.random.default_rng(seed).random((m, n)) < 0.5


# ---------------------------------------------------------------------------------------------- value functions
BAD_OUTPUTS = [
    (lambda m: np.full(len(m), np.nan), r"non-finite value\(s\) \(e\.g\. nan\) for: row 0 keeps"),
    (lambda m: np.where(m[:, 0], np.inf, 1.0), r"non-finite value\(s\) \(e\.g\. inf\)"),
    (lambda m: -np.full(len(m), np.inf), "non-finite"),
    (lambda m: np.zeros(len(m) + 1), r"shape \(\d+,\) for a batch of \d+ inputs"),
    (lambda m: np.zeros(len(m) - 1), "one number per input"),
    (lambda m: np.zeros((len(m), 3)), r"shape \(\d+, 3\)"),
    (lambda m: 1.0, r"shape \(\)"),
    (lambda m: ["positive"] * len(m), "returned list, not numbers"),
    (lambda m: np.array(["1.0"] * len(m)), "returned ndarray, not numbers"),
    (lambda m: None, "returned NoneType, not numbers"),
    (lambda m: {"value": 1.0}, "returned dict, not numbers"),
    (lambda m: (x for x in m.sum(1)), "returned generator, not numbers"),
    (lambda m: np.zeros(len(m), dtype=complex), "not numbers"),
    (lambda m: [1.0, None] * (len(m) // 2), "not numbers"),
]


@pytest.mark.parametrize(("function", "message"), BAD_OUTPUTS)
def test_a_value_function_returning_garbage_is_a_query_error(function, message):
    engine = QueryEngine(function, N, batch_size=8)
    with pytest.raises(QueryError, match=message):
        engine(_masks())
    assert engine.n_queries == 0  # nothing unusable was stored as an answer


def test_a_value_function_that_always_raises_is_named_with_its_error():
    def broken(masks):
        raise KeyError("no such column")

    with pytest.raises(QueryError, match=r"value function raised KeyError: 'no such column' on a batch of 8 masks"):
        QueryEngine(broken, N, batch_size=8)(_masks())


def test_explain_reports_a_bad_value_function_as_a_query_error():
    from interspect import explain

    with pytest.raises(QueryError, match="non-finite"):
        explain(lambda m: np.full(len(m), np.nan), N, method="exact")


class Flaky:
    """A model that raises on the calls listed in ``failures`` (counting every call) and is otherwise exact."""

    def __init__(self, failures):
        self.failures, self.calls, self.answered = set(failures), 0, []

    def __call__(self, masks):
        self.calls += 1
        if self.calls in self.failures:
            raise ConnectionError("server went away")
        self.answered.append(masks.copy())
        return masks @ WEIGHTS


@settings(max_examples=25, deadline=None)
@given(
    failures=st.sets(st.integers(1, 12), max_size=6),
    batch_size=st.integers(1, 9),
    cache=st.booleans(),
    reopen=st.booleans(),
)
def test_intermittent_failures_lose_no_answer(tmp_path_factory, failures, batch_size, cache, reopen):
    """Retry after each failure (reopening the cache or not): every mask is evaluated exactly once overall."""
    path = tmp_path_factory.mktemp("flaky") / "c.sqlite" if cache else None
    model = Flaky(failures)
    masks = np.vstack([_masks(40, seed=1), _masks(10, seed=1)])  # with repeats
    engine = QueryEngine(model, N, batch_size=batch_size, cache=path, cache_key="flaky")
    for _ in range(len(failures) + 1):
        try:
            values = engine(masks)
            break
        except QueryError as exc:
            assert "ConnectionError: server went away" in str(exc)
            if cache and reopen:
                engine.close()
                engine = QueryEngine(model, N, batch_size=batch_size, cache=path, cache_key="flaky")
    else:
        pytest.fail("the engine never finished")
    np.testing.assert_allclose(values, masks @ WEIGHTS)
    asked = np.vstack(model.answered)
    assert len(asked) == len(np.unique(asked, axis=0)) == len(np.unique(masks, axis=0))
    engine.close()


# ---------------------------------------------------------------------------------------------- command line
def _lexicon_scorer(texts):
    """+1 per "good", -1 per "bad", +0.5 per "😀": a cheap, exact sentiment model for command-line tests."""
    return np.array([t.count("good") - t.count("bad") + 0.5 * t.count("😀") for t in texts], dtype=float)


def build_lexicon(name, request):
    """Builder of the test-only ``lexicon`` model kind."""
    check_options(request, "lexicon", ())
    return TextValueFunction(request_units(request), _lexicon_scorer, model="lexicon", masking=request.masking)


@pytest.fixture
def lexicon(monkeypatch):
    monkeypatch.setitem(
        MODEL_KINDS, "lexicon", ModelKind("test_bad_inputs:build_lexicon", "test lexicon", generative=False)
    )
    return "lexicon"


def run(argv, capsys):
    """``interspect argv`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def assert_clear_error(status, err, *fragments):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interspect: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(("text", "fragment"), [("", "empty"), ("   \n\t  ", "empty"), ("... !!! ---", "no word")])
def test_text_without_units_is_refused(lexicon, capsys, text, fragment):
    status, _, err = run(["explain", "--text", text, "--model", lexicon], capsys)
    assert_clear_error(status, err, fragment)


def test_one_word_is_explained_exactly(lexicon, capsys):
    status, out, _ = run(["explain", "--text", "good", "--model", lexicon, "--method", "exact"], capsys)
    assert status == 0 and "units    : 1 word" in out and "R² = 1.000" in out


@pytest.mark.parametrize(
    "text",
    [
        "שלום good עולם bad",  # right to left
        "مرحبا good بالعالم",
        "good 😀 bad 👨‍👩‍👧 🇫🇷",
        "\u202egood\u202c bad \u200fgood",  # bidi controls
        "good\x00bad \x1b[31mgood",  # NUL and a terminal escape inside the text
    ],
)
def test_unicode_rtl_and_emoji_text_is_explained(lexicon, capsys, tmp_path, text):
    out_json = tmp_path / "e.json"
    status, out, err = run(
        ["explain", "--text", text, "--model", lexicon, "--method", "exact", "--json", str(out_json)], capsys
    )
    assert status == 0, err
    from interspect.explanation import load

    expl = load(out_json)
    assert expl.metadata["text"] == text  # the text survives the round trip exactly
    total = _lexicon_scorer([text])[0] - _lexicon_scorer([""])[0]
    assert np.isclose(sum(expl.shapley_values()), total)  # efficiency: an exact, correct result
    assert "\x1b" not in out  # no terminal escape reaches the terminal


def test_a_binary_file_is_refused(lexicon, capsys, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 4)
    status, _, err = run(["explain", "--file", str(path), "--model", lexicon], capsys)
    assert_clear_error(status, err, "cannot read input file", "data.bin")


def test_a_missing_file_is_refused(lexicon, capsys, tmp_path):
    status, _, err = run(["explain", "--file", str(tmp_path / "nope.txt"), "--model", lexicon], capsys)
    assert_clear_error(status, err, "input file not found", "nope.txt")


@pytest.mark.parametrize("method", ["kernelshap", "spex"])  # auto (ProxySPEX) takes about a minute here
def test_a_5000_word_text_with_a_small_budget_ends(lexicon, capsys, tmp_path, method):
    words = np.random.default_rng(0).choice(["good", "bad", "the", "film", "was", "not"], size=5000)
    path = tmp_path / "long.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    argv = ["explain", "--file", str(path), "--model", lexicon, "--budget", "300", "--method", method]
    status, out, err = run(argv, capsys)
    assert "units    : 5000 word" in out
    if status == 0:  # a result, and one that says how far to trust it
        assert "faithfulness:" in out and "queries:" in out
    else:  # or a refusal that says why
        assert_clear_error(status, err, "budget")


@pytest.mark.parametrize(
    "flags",
    [
        ["--budget", "-5"],
        ["--budget", "many"],
        ["--budget", "1e9999"],
        ["--unit", "letters"],
        ["--method", "magic"],
        ["--masking", "blur"],
        ["--seed", "x"],
        ["--holdout", "-1"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_are_usage_errors(lexicon, capsys, flags):
    status, _, err = run(["explain", "--text", "good film", "--model", lexicon, *flags], capsys)
    assert status == 2 and "error:" in err.splitlines()[-1]


def test_an_unknown_model_is_refused(capsys):
    status, _, err = run(["explain", "--text", "good film", "--model", "gpt-17"], capsys)
    assert_clear_error(status, err, "unknown model 'gpt-17'")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[1, 2, 3]", "JSON object, got list"),
        ("null", "JSON object"),
        ('"explanation"', "JSON object"),
        ("{not json", "not an explanation JSON file"),
        ('{"format": "something.else"}', "e.json"),
        ("", "e.json"),
    ],
)
def test_report_on_a_file_that_is_not_an_explanation(capsys, tmp_path, content, fragment):
    path = tmp_path / "e.json"
    path.write_text(content, encoding="utf-8")
    status, _, err = run(["report", str(path)], capsys)
    assert_clear_error(status, err, fragment)


def test_report_on_a_missing_file(capsys, tmp_path):
    status, _, err = run(["report", str(tmp_path / "gone.json")], capsys)
    assert_clear_error(status, err, "gone.json")


@pytest.mark.parametrize("kind", ["directory", "below a file", "junk file", "foreign database"])
def test_a_bad_cache_path_is_refused(lexicon, capsys, tmp_path, kind):
    import sqlite3

    path = {"directory": tmp_path, "below a file": tmp_path / "f" / "c.sqlite"}.get(kind, tmp_path / "c.sqlite")
    if kind == "below a file":
        (tmp_path / "f").write_text("x")
    elif kind == "junk file":
        path.write_bytes(b"\x00\x01junk" * 500)
    elif kind == "foreign database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x)")
        db.commit()
        db.close()
    argv = ["explain", "--text", "good film", "--model", lexicon, "--method", "exact", "--cache", str(path)]
    status, _, err = run(argv, capsys)
    assert_clear_error(status, err, "cache", str(path))
