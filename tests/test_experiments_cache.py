"""Experiments' answer cache and size options, end to end: the command line, the JSON it writes, real model calls.

The data experiment is the cheap real one (a k-nearest-neighbour refit per mask), so its value function's calls
are counted here: a rerun with the same ``--cache`` must ask it nothing, and a run stopped part-way must, when
rerun, ask only what the first run had not stored.
"""

import json

import numpy as np
import pytest

from interspect.cli import main
from interspect.experiments import run, size_options
from interspect.frontends import DataAttributionValueFunction

DATA = ["experiment", "data", "--quick", "--budget", "120"]


@pytest.fixture
def model_calls(monkeypatch):
    """Masks answered by the data experiment's real value function; ``calls["stop_after"]``: interrupt after N."""
    calls = {"masks": 0, "stop_after": None}
    answer = DataAttributionValueFunction.__call__

    def counted(self, masks):
        if calls["stop_after"] is not None and calls["masks"] >= calls["stop_after"]:
            raise KeyboardInterrupt  # as a user's Ctrl-C or a killed job would stop the run
        calls["masks"] += len(masks)
        return answer(self, masks)

    monkeypatch.setattr(DataAttributionValueFunction, "__call__", counted)
    return calls


def _rows(path):
    return json.loads(path.read_text())["rows"]


def test_rerun_with_the_same_cache_asks_the_model_nothing(tmp_path, model_calls, capsys):
    cache = tmp_path / "answers.sqlite"
    assert main([*DATA, "--cache", str(cache), "--json", str(tmp_path / "first.json")]) == 0
    first_calls = model_calls["masks"]
    assert first_calls > 0 and cache.stat().st_size > 0
    model_calls["masks"] = 0
    assert main([*DATA, "--cache", str(cache), "--json", str(tmp_path / "second.json")]) == 0
    assert model_calls["masks"] == 0  # every answer came from the cache
    assert _rows(tmp_path / "second.json") == _rows(tmp_path / "first.json")
    assert "| method |" in capsys.readouterr().out


def test_interrupted_run_resumes_asking_only_what_is_missing(tmp_path, model_calls, capsys):
    assert main([*DATA, "--json", str(tmp_path / "clean.json")]) == 0  # no cache: the reference run
    distinct = model_calls["masks"]
    cache = tmp_path / "answers.sqlite"
    model_calls.update(masks=0, stop_after=distinct // 2)
    assert main([*DATA, "--cache", str(cache)]) == 130
    assert "rerun with the same --cache to resume" in capsys.readouterr().err
    stored = model_calls["masks"]
    assert 0 < stored < distinct
    model_calls.update(masks=0, stop_after=None)
    assert main([*DATA, "--cache", str(cache), "--json", str(tmp_path / "resumed.json")]) == 0
    assert model_calls["masks"] == distinct - stored  # nothing asked twice, nothing missing
    assert _rows(tmp_path / "resumed.json") == _rows(tmp_path / "clean.json")


def test_budget_option_sets_the_queries_in_the_json(tmp_path, model_calls):
    for budget in (80, 160):
        out = tmp_path / f"b{budget}.json"
        assert main(["experiment", "data", "--quick", "--budget", str(budget), "--json", str(out)]) == 0
        written = json.loads(out.read_text())
        assert written["config"]["budget"] == budget
        assert {row["method"] for row in written["rows"]} == {"auto", "lasso", "kernelshap"}
        assert all(0 < row["queries"] <= budget for row in written["rows"])
        assert max(row["queries"] for row in written["rows"]) == budget


def test_seeds_permutations_and_models_set_the_recall_sizes(tmp_path):
    from interspect.data import review_demo

    sizes = size_options("recall", seeds=2, permutations=4, models="vader,vader")
    assert sizes == {"seeds": (0, 1), "permutations": 4, "models": ("vader",)}  # a repeated model runs once
    run("recall", True, alphas=(0.5,), methods=("lasso",), text=review_demo(), json=tmp_path / "r.json", **sizes)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["config"]["seeds"] == [0, 1] and written["config"]["permutations"] == 4
    assert [row["seeds"] for row in written["rows"]] == [2]  # the one row averages both seeds
    assert {row["seed"] for row in written["extra"]["rows"]} == {0, 1}
    assert [row["model"] for row in written["rows"]] == ["vader"]
    assert "reference 4 permutations" in written["notes"][0]


def test_budget_and_models_set_the_removal_sizes(tmp_path):
    from interspect.data import review_demo

    sizes = size_options("removal", budget=48, models="vader")
    run("removal", True, ks=(1,), methods=("lasso",), text=review_demo(), json=tmp_path / "r.json", **sizes)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["config"]["budget"] == 48 and written["config"]["models"] == ["vader"]
    assert [(row["model"], row["queries"]) for row in written["rows"]] == [("vader", 48)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["rag", "--items", "0"], "--items must be at least 1"),
        (["rag", "--items", "-2"], "--items must be at least 1"),
        (["multires", "--items", "999"], "--items 999: experiment 'multires' has"),
        (["heads", "--items", "999"], "--items 999: experiment 'heads' has"),
        (["recall", "--seeds", "0"], "--seeds must be at least 1"),
        (["recall", "--permutations", "1"], "--permutations must be at least 2"),
        (["recall", "--models", " , "], "--models needs at least one model name"),
        (["data", "--budget", "0"], "--budget must be at least 1"),
        (["data", "--seeds", "2"], "--seeds does not apply to experiment 'data'"),
        (["data", "--cache", "."], "is a directory"),
    ],
)
def test_bad_sizes_fail_before_anything_runs_with_a_clear_message(arguments, message, model_calls, capsys):
    assert main(["experiment", *arguments, "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("interspect: error: ") and message in err and "Traceback" not in err
    assert model_calls["masks"] == 0


def test_the_command_line_refuses_a_size_that_is_not_a_number(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["experiment", "data", "--budget", "many"])
    assert stop.value.code == 2 and "invalid int value: 'many'" in capsys.readouterr().err


@pytest.mark.slow
def test_heads_rerun_with_the_cache_asks_no_prompt_again(tmp_path, monkeypatch):
    """The pruning evaluation goes through the cache too, not only the explained masks."""
    from interspect.frontends import AttentionHeadValueFunction

    calls = []
    answer = AttentionHeadValueFunction.__call__
    monkeypatch.setattr(AttentionHeadValueFunction, "__call__", lambda self, m: calls.append(len(m)) or answer(self, m))
    options = {"settings": {"layer 4": (4,)}, "pruned": {"layer 4": (2,)}, "n_explain": 1, "n_eval": 2,
               "budget": 16, "methods": ("lasso",), "cache": tmp_path / "heads.sqlite"}
    first = run("heads", True, **options)
    assert sum(calls) > 0
    calls.clear()
    second = run("heads", True, **options)
    assert calls == []
    np.testing.assert_allclose([r["mean_logp"] for r in second.rows], [r["mean_logp"] for r in first.rows])
