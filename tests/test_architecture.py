"""The layers hold for the database too: a model refers only to models of its own layer or below.

import-linter (``make lint``) checks the imports against the layers contract in ``pyproject.toml``,
but a relation named by a string (``"syncrules.SyncRule"``) imports nothing, so it cannot see one.
This test reads the same contract and checks every relation of every model of ours.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.apps import apps

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _rank_of_each_app() -> dict[str, int]:
    """Each of our apps' position in the layers contract (0 = the lowest layer)."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    ranks: dict[str, int] = {}
    for rank, layer in enumerate(reversed(layers)):
        for module in layer.replace("|", ":").split(":"):
            ranks.setdefault(module.strip().split(".")[0], rank)
    return ranks


def _relations() -> list[tuple[str, str, str]]:
    """(model, field, related model's app) for every forward relation of our models."""
    ranks = _rank_of_each_app()
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in ranks:
            continue
        for field in model._meta.get_fields():
            related = field.related_model
            if field.is_relation and not field.auto_created and isinstance(related, type):
                found.append((model._meta.label, field.name, related._meta.app_label))
    return found


def test_the_contract_names_every_app_of_ours():
    ranks = _rank_of_each_app()
    ours = {config.label for config in apps.get_app_configs() if config.name in ranks}

    assert ours == {
        "multical", "integrations", "accounts", "calendars",
        "syncrules", "booking", "portfolio", "lifecycle", "webhooks", "api",
        "orgs", "console",
    }  # fmt: skip


def test_no_model_refers_to_a_model_of_a_higher_layer():
    ranks = _rank_of_each_app()
    relations = _relations()

    upward = [
        f"{model}.{field} -> {app}"
        for model, field, app in relations
        if ranks.get(app, -1) > ranks[model.split(".")[0]]
    ]

    assert len(relations) > 20  # the check sees the models' relations at all
    assert upward == []
