"""The privacy study of notebook 08: every attack on heads trained at several code lengths, as one table.

Threat model and measures: :mod:`hashlab.privacy`. The numbers are hashlab's; the thesis (Mao, 2024) argues that
binary codes cannot be reversed but measures nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from hashlab.checks import check_codes
from hashlab.privacy import (
    AttackResult,
    attribute_inference,
    class_mean_attack,
    inversion_attack,
    majority_accuracy,
    mean_attack,
    random_codes,
    random_codes_attack,
)

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.experiment import ExperimentResult

__all__ = ["attack_frame", "attack_sweep"]


def attack_sweep(
    results: Mapping[int, ExperimentResult], seed: int = 0, **decoder: Any
) -> dict[tuple[str, int | None], AttackResult]:
    """Every attack for trained heads keyed by code length: auxiliary set = validation split, targets = test split.

    Keys are ``(attack, bits)``: ``("codes", L)`` and ``("random codes", L)`` for every L, plus ``("raw", None)``,
    ``("class mean", None)`` and ``("mean", None)``. The heads must share one embedding set (the inputs attacked);
    labels must be single-label (attribute inference and the class mean need one class per item).
    """
    if not results:
        raise ValueError("attack_sweep needs at least one trained head")
    embeddings = next(iter(results.values())).embeddings
    aux, test = embeddings.val, embeddings.test
    out: dict[tuple[str, int | None], AttackResult] = {}
    for bits, result in sorted(results.items()):
        if result.embeddings is not embeddings:
            raise ValueError("every head in attack_sweep must be trained on the same EmbeddingSet object")
        if int(result.config.bits) != int(bits):
            raise ValueError(f"result keyed {bits} bits was trained with {result.config.bits} bits")
        aux_codes = check_codes(result.codes["val"], "validation codes", bits=bits)
        test_codes = check_codes(result.codes["test"], "test codes", bits=bits)
        attack = inversion_attack(
            aux_codes, aux.features, test_codes, test.features, seed=seed, bits=bits, **decoder
        )
        attack.label_accuracy = attribute_inference(aux_codes, aux.labels, test_codes, test.labels)
        out[("codes", bits)] = attack
        rand = random_codes_attack(aux.features, test.features, bits, seed=seed, **decoder)
        aux_random, test_random = random_codes(len(aux), len(test), bits, seed)  # the attack's codes
        rand.label_accuracy = attribute_inference(aux_random, aux.labels, test_random, test.labels)
        out[("random codes", bits)] = rand
    raw = inversion_attack(
        aux.features, aux.features, test.features, test.features, seed=seed, name="raw", **decoder
    )
    raw.label_accuracy = attribute_inference(aux.features, aux.labels, test.features, test.labels)
    out[("raw", None)] = raw
    out[("class mean", None)] = class_mean_attack(aux.features, aux.labels, test.features, test.labels)
    mean = mean_attack(aux.features, test.features)
    mean.label_accuracy = majority_accuracy(aux.labels, test.labels)
    out[("mean", None)] = mean
    return out


def attack_frame(attacks: Mapping[tuple[str, int | None], AttackResult]) -> pd.DataFrame:
    """One row per attack (``AttackResult.row``), in the order given."""
    return pd.DataFrame([a.row() for a in attacks.values()])
