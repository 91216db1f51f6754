"""Registry models of kind embeddings: what they accept, and where they may not be used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config.references import embeddings_model_problem
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]

EMBEDDINGS_REGISTRY = """
models:
  chat: {provider: mock, model: echo}
  hashed: {kind: embeddings, provider: mock, model: hashed, params: {dimensions: 384}}
  bge:
    kind: embeddings
    provider: openai
    model: BAAI/bge-m3
    base_url: http://127.0.0.1:8001/v1
    api_key: sk-embed-secret
    params: {dimensions: 768, timeout: 2}
"""


def _embeddings_entry(write: Write, body: str) -> Path:
    """A registry whose one model `e` is `{kind: embeddings, <body>}`."""
    return write("models/m.yaml", f"models:\n  e: {{kind: embeddings, {body}}}\n")


def test_models_are_chat_models_unless_said_otherwise(write: Write, load: Load) -> None:
    write("models/m.yaml", EMBEDDINGS_REGISTRY)
    models = load().models
    assert models["chat"].kind == "chat"
    assert (models["hashed"].kind, models["hashed"].params) == ("embeddings", {"dimensions": 384})
    bge = models["bge"]
    assert (bge.kind, bge.provider, bge.base_url) == (
        "embeddings",
        "openai",
        "http://127.0.0.1:8001/v1",
    )
    assert [i.instance_id for i in bge.instances()] == ["bge#0"]


def test_unknown_kind_lists_the_kinds(write: Write, issue: Issue) -> None:
    path = write("models/m.yaml", "models:\n  e: {kind: vectors, provider: mock, model: x}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "models.e.kind")
    assert found.message == "unknown value 'vectors'; expected one of 'chat' or 'embeddings'"


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (
            "provider: anthropic, model: x",
            "models.e.provider",
            "an embeddings model needs provider 'openai' (an OpenAI-compatible /v1/embeddings, "
            "as vLLM serves) or 'mock', not 'anthropic'",
        ),
        (
            "provider: openai, model: x",
            "models.e.base_url",
            "provider 'openai' needs a base_url, such as http://127.0.0.1:8000/v1",
        ),
        (
            "provider: openai, model: x, base_url: 'http://h/v1', async_transport: httpx",
            "models.e.async_transport",
            "async_transport applies to chat models only; remove it from this embeddings model",
        ),
        (
            "provider: openai, model: x, endpoints: [{base_url: 'http://h/v1'}]",
            "models.e.endpoints",
            "an embeddings model is one server: set base_url and api_key on the model itself "
            "(endpoints are the instances of chat models)",
        ),
        (
            "provider: openai, model: x, base_url: 'http://h/v1', "
            "params: {check_embedding_ctx_length: true}",
            "models.e.params.check_embedding_ctx_length",
            "'check_embedding_ctx_length' is set by the package (texts are sent as plain "
            "strings, so no tokenizer is downloaded); remove it",
        ),
        (
            "provider: mock, model: x, params: {reply_prefix: hi}",
            "models.e.params.reply_prefix",
            "unknown param 'reply_prefix'; a mock embeddings model takes only 'dimensions'",
        ),
        (
            "provider: mock, model: x, params: {dimensions: 0}",
            "models.e.params.dimensions",
            "expected a whole number of dimensions >= 1, got 0",
        ),
        (
            "provider: openai, model: x, base_url: 'http://h/v1', params: {dimensions: yes}",
            "models.e.params.dimensions",
            "expected a whole number of dimensions >= 1, got True",
        ),
        (
            "provider: mock, model: x, params: {base_url: 'http://h/v1'}",
            "models.e.params.base_url",
            "'base_url' is a field of the model itself; set it outside params",
        ),
    ],
)
def test_embeddings_settings_that_make_no_sense_name_file_and_field(
    write: Write, issues: Issues, body: str, path: str, message: str
) -> None:
    registry = _embeddings_entry(write, body)
    found = [(issue.file, issue.path, issue.message) for issue in issues()]
    assert (str(registry), path, message) in found


def test_an_embeddings_model_in_an_echelon_is_a_config_error(
    write: Write, issues: Issues, config_dir: Path
) -> None:
    """Reported once, in the group: a pool over that group reaches it only through it."""
    (config_dir / "polling_pools").mkdir()
    registry = write("models/m.yaml", EMBEDDINGS_REGISTRY)
    group = write(
        "groups/g.yaml", "name: g\nechelon1: {models: [chat]}\nechelon2: {models: [chat, bge]}\n"
    )
    write("polling_pools/p.yaml", "name: p\ntask_groups: [g]\n")
    assert [(i.file, i.path, i.message) for i in issues()] == [
        (
            str(group),
            "echelon2.models[1]",
            f"model 'bge' ({registry}) is an embeddings model; echelons need chat models "
            "(kind: chat, the default)",
        )
    ]


def test_embeddings_models_beside_chat_groups_change_nothing(write: Write, load: Load) -> None:
    write("models/m.yaml", EMBEDDINGS_REGISTRY)
    write("groups/g.yaml", "name: g\nechelon1: {models: [chat]}\n")
    config = load()
    assert list(config.groups) == ["g"]
    assert sorted(config.models) == ["bge", "chat", "hashed"]


def test_embeddings_model_problem_names_the_embeddings_models(write: Write, load: Load) -> None:
    write("models/m.yaml", EMBEDDINGS_REGISTRY)
    models = load().models
    assert embeddings_model_problem("bge", models) is None
    assert embeddings_model_problem("hashed", models) is None
    assert embeddings_model_problem("chat", models) == (
        "model 'chat' is a chat model; name a registry model with kind: embeddings"
    )
    assert embeddings_model_problem("bg", models) == (
        "unknown model 'bg'; did you mean 'bge'? known embeddings models: bge, hashed"
    )


def test_an_embeddings_key_is_never_shown(write: Write, issues: Issues) -> None:
    write(
        "models/m.yaml",
        "models:\n  e: {kind: embeddings, provider: openai, model: x, api_key: sk-hidden-1}\n",
    )
    assert all("sk-hidden-1" not in str(issue) for issue in issues())
