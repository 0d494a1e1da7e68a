"""Query engine: de-duplication, accounting, on-disk resume after a crash, and clear errors."""

import numpy as np
import pytest

from interspect.query.engine import QueryEngine, QueryError


class Counting:
    """A value function that records every mask it is asked about."""

    def __init__(self, fail_after: int | None = None, fingerprint: str = "counting-v1"):
        self.seen: list[np.ndarray] = []
        self.fail_after = fail_after
        self.fingerprint = fingerprint

    def __call__(self, masks):
        if self.fail_after is not None and sum(len(s) for s in self.seen) >= self.fail_after:
            raise RuntimeError("simulated crash")
        self.seen.append(masks.copy())
        weights = np.arange(1, masks.shape[1] + 1)
        return masks @ weights + 0.5 * masks[:, 0] * masks[:, 1]

    @property
    def n_masks(self) -> int:
        return sum(len(s) for s in self.seen)


def _masks(m, n, seed=0):
    return np.random.default_rng(seed).random((m, n)) < 0.5


def test_values_match_function_and_order_is_kept():
    f = Counting()
    engine = QueryEngine(f, 12, batch_size=7)
    x = _masks(50, 12)
    np.testing.assert_allclose(engine(x), Counting()(x))


def test_dedup_within_and_across_calls():
    f = Counting()
    engine = QueryEngine(f, 70, batch_size=16)  # n > 64: keys span several bytes
    x = _masks(40, 70)
    doubled = np.vstack([x, x[::-1], x[:5]])
    first = engine(doubled)
    assert f.n_masks == 40 and engine.n_queries == 40 and engine.n_evaluated == 40
    assert max(len(s) for s in f.seen) <= 16
    again = engine(x[:10])
    assert f.n_masks == 40 and engine.n_queries == 40
    np.testing.assert_allclose(again, first[:10])
    engine(_masks(3, 70, seed=5))
    assert engine.n_queries == 43 and f.n_masks == 43
    # every mask the model saw is distinct
    all_seen = np.vstack(f.seen)
    assert len(np.unique(all_seen, axis=0)) == len(all_seen)


def test_seen_reports_requested_masks_only():
    engine = QueryEngine(Counting(), 4)
    asked = np.array([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)
    engine(asked)
    probe = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(engine.seen(probe), [True, False, True])


def test_resume_after_crash_requeries_nothing(tmp_path):
    db = tmp_path / "answers.sqlite"
    x = _masks(100, 20, seed=1)
    crashing = Counting(fail_after=60)
    engine = QueryEngine(crashing, 20, batch_size=20, cache=db)
    with pytest.raises(QueryError, match="simulated crash"):
        engine(x)
    assert crashing.n_masks == 60 and engine.n_evaluated == 60
    engine.close()

    fresh = Counting()
    resumed = QueryEngine(fresh, 20, batch_size=20, cache=db)
    values = resumed(x)
    np.testing.assert_allclose(values, Counting()(x))
    completed = np.vstack(crashing.seen)
    asked_again = np.vstack(fresh.seen)
    # nothing completed before the crash is asked again, and only the rest is asked
    overlap = (asked_again[:, None, :] == completed[None, :, :]).all(-1).any()
    assert not overlap
    assert len(asked_again) == len(np.unique(x, axis=0)) - 60
    assert resumed.n_queries == len(np.unique(x, axis=0))


@pytest.mark.parametrize("repeats", [False, True])
def test_answers_before_a_failure_are_kept_in_memory(repeats):
    # distinct new rows (the first call's fast path) and rows with repeats (the general path)
    x = _masks(100, 20, seed=2)
    if repeats:
        x = np.vstack([x, x[:30]])
    model = Counting(fail_after=60)
    engine = QueryEngine(model, 20, batch_size=20)
    with pytest.raises(QueryError, match="simulated crash"):
        engine(x)
    model.fail_after = None
    np.testing.assert_allclose(engine(x), Counting()(x))
    assert model.n_masks == len(np.unique(x, axis=0)) == engine.n_evaluated  # nothing asked twice


def test_disk_cache_is_keyed_by_fingerprint(tmp_path):
    db = tmp_path / "answers.sqlite"
    x = _masks(10, 8)
    QueryEngine(Counting(fingerprint="a"), 8, cache=db)(x)
    other = Counting(fingerprint="b")
    QueryEngine(other, 8, cache=db)(x)
    assert other.n_masks == len(np.unique(x, axis=0))


def test_disk_cache_needs_a_fingerprint(tmp_path):
    with pytest.raises(ValueError, match="fingerprint"):
        QueryEngine(lambda m: m.sum(1), 4, cache=tmp_path / "c.sqlite")


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (lambda m: np.full(len(m), np.nan), "non-finite"),
        (lambda m: np.zeros(len(m) + 1), "expected"),
        (lambda m: np.zeros((len(m), 3)), "shape"),
        (lambda m: 1 / 0, "ZeroDivisionError"),
        (lambda m: ["a"] * len(m), "not numbers"),
    ],
)
def test_bad_outputs_give_clear_errors(function, message):
    engine = QueryEngine(function, 5)
    with pytest.raises(QueryError, match=message):
        engine(_masks(4, 5))


def test_error_names_the_failing_masks():
    def f(m):
        out = m.sum(1).astype(float)
        out[m[:, 2]] = np.inf
        return out

    x = np.zeros((3, 4), dtype=bool)
    x[1, 2] = True
    with pytest.raises(QueryError, match=r"row 1 keeps \[2\]"):
        QueryEngine(f, 4)(x)


@pytest.mark.parametrize("masks", [np.zeros((3, 4)), np.full((2, 5), 2), np.zeros(5)])
def test_bad_masks_are_rejected(masks):
    with pytest.raises(ValueError):
        QueryEngine(lambda m: m.sum(1), 5)(masks)


def test_column_outputs_are_accepted_and_model_time_counted():
    engine = QueryEngine(lambda m: m.sum(1, keepdims=True).astype(float), 6)
    values = engine(_masks(5, 6))
    assert values.shape == (5,) and engine.model_time > 0


def test_a_model_that_writes_into_its_input_never_touches_the_callers_masks():
    def scribble(masks):
        out = masks.sum(axis=1).astype(float)
        masks[:] = True  # a careless model
        return out

    masks = np.random.default_rng(0).random((50, 6)) < 0.5
    before = masks.copy()
    engine = QueryEngine(scribble, 6, batch_size=7)
    np.testing.assert_array_equal(engine(masks), before.sum(axis=1))
    np.testing.assert_array_equal(masks, before)  # batches were copies of the caller's rows
    # with scratch=True the caller gives its array away: slices of it are sent as they are
    fresh = np.unique(np.random.default_rng(1).random((40, 6)) < 0.5, axis=0)
    expected = fresh.sum(axis=1)
    np.testing.assert_array_equal(QueryEngine(scribble, 6, batch_size=7)(fresh, scratch=True), expected)
    assert fresh.all()


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar_only_when_asked(progress, capsys):
    engine = QueryEngine(lambda m: m.sum(axis=1), 6, batch_size=4, progress=progress)
    engine(np.eye(6, dtype=bool))
    shown = capsys.readouterr().err
    assert ("model queries" in shown) == progress
    if progress:
        assert "0/6 [" in shown and "mask" in shown  # sized by the masks to evaluate, counted in masks


class FakeClock:
    """A stand-in for time.monotonic that moves only when a test moves it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("cache", [False, True])
def test_time_limit_stops_between_batches_and_keeps_the_answers(monkeypatch, tmp_path, cache):
    import interspect.query.engine as engine_module

    clock = FakeClock()
    monkeypatch.setattr(engine_module.time, "monotonic", clock)
    model = Counting()

    def slow(masks):
        clock.now += 1.0
        return model(masks)

    db = tmp_path / "c.sqlite" if cache else None
    engine = QueryEngine(slow, 10, batch_size=10, time_limit=2.5, cache=db, cache_key="slow")
    x = np.unique(_masks(100, 10, seed=3), axis=0)
    with pytest.raises(QueryError, match=r"time_limit=2.5s reached after 3.0s: 30 of \d+ new masks"):
        engine(x)
    assert engine.n_evaluated == model.n_masks == 30
    engine.close()
    if cache:  # a rerun resumes where the limit stopped the first one
        again = QueryEngine(model, 10, batch_size=10, cache=db, cache_key="slow")
        np.testing.assert_allclose(again(x), Counting()(x))
        assert model.n_masks == len(x) and again.n_evaluated == len(x) - 30


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_time_limit_must_be_positive(bad):
    with pytest.raises(ValueError, match="time_limit"):
        QueryEngine(lambda m: m.sum(1), 4, time_limit=bad)


def test_the_qary_engine_takes_the_same_time_limit(monkeypatch):
    import interspect.query.engine as engine_module
    from interspect.query import QaryQueryEngine

    clock = FakeClock()
    monkeypatch.setattr(engine_module.time, "monotonic", clock)
    engine = QaryQueryEngine(lambda x: x.sum(axis=1) * 1.0, 4, 3, time_limit=5.0)
    clock.now = 6.0
    with pytest.raises(QueryError, match="time_limit=5s"):  # already past it: no batch is sent
        engine(np.zeros((2, 4), dtype=np.uint8))
    assert engine.n_evaluated == 0
