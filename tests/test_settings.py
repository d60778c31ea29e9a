"""The configuration tree: one default per setting, presets, flat and sectioned access, the generated CLI."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import hashlab
from hashlab.settings import (
    FLAT_FIELDS,
    PRESETS,
    SECTIONS,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainingConfig,
    defaults,
    preset,
)

# Parameters that share a setting's name but mean something else where they appear (documented here, so a new one
# is a decision, not an accident).
OTHER_MEANING = {
    ("hashlab.index", "bits"),  # the width of the codes an index holds, not a model setting
    ("hashlab.features", "batch_size"),  # inference batch of the extractor
    ("hashlab.features", "size"),
    ("hashlab.extraction", "batch_size"),
    ("hashlab.module", "batch_size"),  # HashingModule.encode's inference batch
    ("hashlab.autoencoder.model", "batch_size"),  # inference batch
    ("hashlab.continual.versioned_index", "batch_size"),  # re-encoding batch
    ("hashlab.losses.dshgan", "hidden"),  # width of DSH-GAN's generator and discriminator, not the hash head
    ("hashlab.margins.adaptive", "lr"),  # step size of the anchor corrections, not the optimiser's
    ("hashlab.viz.reproduction", "precision"),  # decimal places of a table
}


def _modules():
    for info in pkgutil.walk_packages(hashlab.__path__, "hashlab."):
        if info.name in ("hashlab.settings",) or info.name.startswith("hashlab.studies"):
            continue
        try:
            yield info.name, importlib.import_module(info.name)
        except ImportError:
            continue


def test_no_module_defines_its_own_default_for_a_setting():
    """A function or dataclass field named like a setting either has no default or the settings' value (or a
    preset's value): one place decides each default."""
    allowed = {name: [defaults()[name]] for name in FLAT_FIELDS}
    for overrides in PRESETS.values():
        for name, value in overrides.items():
            allowed[name].append(value)
    offenders = []
    for modname, module in _modules():
        for _, obj in inspect.getmembers(module):
            if getattr(obj, "__module__", None) != modname:
                continue
            candidates = [obj]
            if inspect.isclass(obj):
                candidates += [m for _, m in inspect.getmembers(obj, inspect.isfunction)]
            for fn in candidates:
                try:
                    params = inspect.signature(fn).parameters.values()
                except (TypeError, ValueError):
                    continue
                for p in params:
                    if p.name not in FLAT_FIELDS or p.default is inspect.Parameter.empty or p.default is None:
                        continue
                    if repr(p.default) == "<factory>" or p.default == "default":  # "the setting's default"
                        continue
                    if (modname, p.name) in OTHER_MEANING or p.name in ("seed", "bits", "method", "size"):
                        continue
                    default = tuple(p.default) if isinstance(p.default, list) else p.default
                    if default not in allowed[p.name]:
                        offenders.append(
                            f"{modname}.{getattr(fn, '__qualname__', fn)}({p.name}={p.default!r})"
                        )
    assert not offenders, "defaults decided outside hashlab.settings:\n" + "\n".join(sorted(set(offenders)))


def test_presets_resolve_and_differ_only_where_they_say():
    base = defaults()
    for name, overrides in PRESETS.items():
        resolved = preset(name).to_dict()
        changed = {k for k in base if resolved[k] != base[k]}
        assert changed == {k for k, v in overrides.items() if v != base[k]}, name
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset("nope")


def test_flat_and_sectioned_access_agree():
    config = ExperimentConfig(method="dsh", bits=24, epochs=3, map_k=None)
    assert config.model.method == config.method == "dsh"
    assert config.training.epochs == 3 and config.evaluation.map_k is None
    changed = config.replace(bits=48, training=TrainingConfig(epochs=7))
    assert (changed.bits, changed.epochs, config.bits) == (48, 7, 24)
    config.lr = 0.01
    assert config.training.lr == 0.01
    assert set(config.to_dict()) == set(FLAT_FIELDS)
    assert set(config.to_tree()) == set(SECTIONS)
    assert "model.bits" in config.describe()
    with pytest.raises(TypeError, match="unknown setting"):
        ExperimentConfig(bitz=3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"hidden": (0,)}, "hidden width must be an integer >= 1"),
        ({"hidden": (-5,)}, "hidden width must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer"),
        ({"lr": float("inf")}, "lr"),
        ({"precision": "8-bit"}, "unknown precision"),
        ({"accelerator": "abacus"}, "unknown accelerator"),
        ({"map_k": -3}, "map_k must be an integer >= 1"),
        ({"subsample": (10, 10)}, "three sizes"),
        ({"method": "nope"}, "unknown method"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(changes, message):
    with pytest.raises((ValueError, KeyError), match=message):
        ExperimentConfig(**changes)


def test_dataset_name_is_normalised():
    assert DataConfig(dataset=" DIGITS ").dataset == "digits"
    assert ModelConfig(method="DSH").method == "dsh"


def test_sections_are_dataclasses_with_defaults():
    for cls in SECTIONS.values():
        assert dataclasses.is_dataclass(cls)
        cls()  # every section has a complete default


def test_cli_options_are_generated_from_the_settings():
    from hashlab.cli import build_parser

    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    options = {a.dest for a in train._actions}
    assert set(FLAT_FIELDS) <= options
    source = inspect.getsource(importlib.import_module("hashlab.cli"))
    tree = ast.parse(source)
    literal_defaults = [
        kw
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
        for kw in node.keywords
        if kw.arg == "default"
        and isinstance(kw.value, ast.Constant)
        and kw.value.value not in (None, False)
        and any(
            isinstance(a, ast.Constant) and str(a.value).lstrip("-").replace("-", "_") in FLAT_FIELDS
            for a in node.args
        )
    ]
    assert not literal_defaults, "the CLI restates a setting's default"
