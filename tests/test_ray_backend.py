"""The Ray backend on a real local cluster (ray.init(num_cpus=2)): batches split over workers give the local
values, actors unpickle their function once, explanations through it equal local ones, and data attribution's
retraining runs on Ray."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import sys  # noqa: E402

import cloudpickle  # noqa: E402

import interspect as isp  # noqa: E402
from interspect.query.ray_backend import distribute  # noqa: E402

N = 8
# Ray's workers cannot import this test module: its functions travel by value (docs/ray.md, "Your own code")
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    """One local 2-CPU cluster for the module, shut down afterwards.

    Start-up is retried once: on an overloaded machine Ray's raylet can give up waiting for its agents
    (ray-project/ray#65983).
    """
    options = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        ray.init(**options)
    except Exception as exc:  # Ray raises a bare Exception when a node times out during start-up
        if "timed out during startup" not in str(exc):
            raise
        ray.shutdown()
        ray.init(**options)
    yield
    ray.shutdown()


class PlantedGame:
    """A planted function with interactions; every unpickling appends to ``log`` (one line per copy)."""

    def __init__(self, log) -> None:
        self.log = log
        self.n_features = N
        self.feature_names = [f"x{i}" for i in range(N)]
        self.fingerprint = "planted-game-v1"

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        with open(self.log, "a") as handle:
            handle.write("loaded\n")

    def __call__(self, masks):
        x = np.asarray(masks, dtype=float)
        return 2 * x[:, 0] - x[:, 1] + 3 * x[:, 2] * x[:, 3] - 1.5 * x[:, 4] * x[:, 5] * x[:, 6] + 0.25 * x[:, 7]

    def describe(self):
        return {"model": "planted"}


@pytest.mark.parametrize("mode", ["tasks", "actors"])
def test_distributed_values_equal_the_local_call(cluster, tmp_path, mode):
    game = PlantedGame(tmp_path / "loads.txt")
    masks = np.random.default_rng(0).random((103, N)) < 0.5
    remote = distribute(game, mode=mode, num_workers=2, chunk_size=10)  # 11 chunks over 2 workers
    assert remote.mode == mode and remote.num_workers == 2
    np.testing.assert_array_equal(remote(masks), game(masks))
    np.testing.assert_array_equal(remote(masks[:3]), game(masks[:3]))
    assert remote(masks[:0]).shape == (0,)
    # attributes travel with the wrapper: the cache key and the report see the same function
    assert remote.n_features == N and remote.fingerprint == game.fingerprint
    assert remote.feature_names == game.feature_names and remote.describe() == {"model": "planted"}
    loads = (tmp_path / "loads.txt").read_text().count("loaded")
    if mode == "actors":
        assert loads == 2  # each actor unpickled the function once, for 12 chunks
    else:
        assert 1 <= loads <= 12  # once per worker process that took a chunk, not once per chunk... at most
    with pytest.raises(ValueError, match="2-D array"):
        remote(np.ones(N, dtype=bool))
    remote.close()
    with pytest.raises(RuntimeError, match="closed"):
        remote(masks)
    assert ray.is_initialized()  # Ray was running before distribute: close() leaves it running


def test_explain_through_ray_equals_local(cluster, tmp_path):
    game = PlantedGame(tmp_path / "loads.txt")
    with distribute(game, num_workers=2) as remote:
        assert remote.mode == "tasks"  # a small function: auto picks tasks
        distributed = isp.explain(remote, method="exact", random_state=0)
    local = isp.explain(game, method="exact", random_state=0)
    assert distributed.fourier.to_dict() == local.fourier.to_dict()
    options = {"mode": "actors", "num_workers": 2}
    through_api = isp.explain(game, method="spex", budget=200, random_state=3, backend="ray", backend_options=options)
    local_spex = isp.explain(game, method="spex", budget=200, random_state=3)
    assert through_api.fourier.to_dict() == local_spex.fourier.to_dict()
    assert through_api.n_queries == local_spex.n_queries <= 200
    np.testing.assert_array_equal(distributed.shapley_values(), local.shapley_values())
    assert distributed.metadata.get("model") == "planted" == local.metadata.get("model")


def test_worker_errors_reach_the_caller(cluster):
    def broken(masks):
        raise ValueError("model exploded")

    with distribute(broken, mode="tasks", num_workers=2) as remote, pytest.raises(ValueError, match="model exploded"):
        remote(np.ones((4, 3), dtype=bool))
    with pytest.raises(ValueError, match="mode must be one of"):
        distribute(broken, mode="threads")


def test_data_attribution_retrains_on_ray(cluster):
    from sklearn.linear_model import LogisticRegression

    from interspect.frontends import DataAttributionValueFunction

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    groups = np.arange(50) % 5
    common = {"groups": groups, "score": "log_prob"}
    local = DataAttributionValueFunction(LogisticRegression(), x[:50], y[:50], x[50:], y[50:], **common)
    on_ray = DataAttributionValueFunction(
        LogisticRegression(), x[:50], y[:50], x[50:], y[50:], n_jobs=2, parallel_backend="ray", **common
    )
    masks = rng.random((12, local.n_features)) < 0.6
    expected = local(masks)
    np.testing.assert_allclose(on_ray(masks), expected, rtol=0, atol=1e-12)
    with distribute(local, mode="tasks", num_workers=2) as remote:  # the whole value function on Ray
        np.testing.assert_allclose(remote(masks), expected, rtol=0, atol=1e-12)
    assert np.ptp(expected) > 0
