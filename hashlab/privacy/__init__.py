"""How much do hash codes leak? An inversion attack, attribute inference and storage, measured (hashlab's analysis).

The thesis (§1.1, §1.2, conclusion) argues that binary codes make it "computationally infeasible to reverse-engineer
the original embeddings or raw images" but measures nothing. This module measures it under a simple, stated threat
model; the numbers are hashlab's, not the thesis's.

Threat model. The attacker sees the published codes of the test items and holds an auxiliary set of
(input, code) pairs: the validation split encoded by the same published hash head. They train a decoder
``codes -> inputs`` on the auxiliary pairs (:func:`inversion_attack`, a scikit-learn ``MLPRegressor``) and apply it
to the test codes. Measured on the test split:

* reconstruction error: ``mse = mean_{i,d} (x̂_id - x_id)^2`` and ``cosine = mean_i <x̂_i, x_i> / (|x̂_i| |x_i|)``
  (a zero vector has cosine 0);
* re-identification rate: the fraction of test items ``i`` whose reconstruction's nearest true test input
  (Euclidean, ties to the lowest index) is ``x_i`` itself. Chance is ``1/N``. Test items with identical codes get
  identical reconstructions, so at most one of them can be re-identified.

References, run through the same code: the attack from the raw inputs themselves (upper bound), from random ±1
codes independent of the inputs and from the auxiliary mean (lower bounds, chance), and from the auxiliary mean of
the item's true class (what knowing only the label gives). Attribute inference (:func:`attribute_inference`) is the
accuracy of a logistic regression predicting the class from the codes alone, trained on the auxiliary pairs: for
class-supervised hashing this leakage *is* the utility the codes are trained for. Storage
(:func:`storage_bits`) compares ``D x 32`` bits of float32 features with ``L`` bits of code.

Modules: ``metrics`` (reconstruction error, re-identification, storage, the majority-class reference) and
``attacks`` (the decoder, the chance references, attribute inference, pixels back from standardised features).
The sweep over code lengths behind notebook 08 is :mod:`hashlab.studies.privacy`; its figure
:func:`hashlab.viz.plot_leakage`.
"""

from hashlab.privacy.attacks import (
    AttackResult,
    attribute_inference,
    class_mean_attack,
    features_to_images,
    inversion_attack,
    mean_attack,
    random_codes,
    random_codes_attack,
)
from hashlab.privacy.metrics import (
    FLOAT_BITS,
    majority_accuracy,
    reconstruction_error,
    reidentification_rate,
    storage_bits,
)

__all__ = [
    "FLOAT_BITS",
    "AttackResult",
    "attribute_inference",
    "class_mean_attack",
    "features_to_images",
    "inversion_attack",
    "majority_accuracy",
    "mean_attack",
    "random_codes",
    "random_codes_attack",
    "reconstruction_error",
    "reidentification_rate",
    "storage_bits",
]
