"""Unsupervised semantic hashing with a convolutional autoencoder (seed 002) and its code-bottleneck variant.

Seed 002 (alsoufi, "Deep Feature Embedding for Content-Based Image Retrieval Using Autoencoders and Semantic
Hashing"): encoder ``z = E(x)``, decoder ``x̂ = D(z)``, hash layer ``y = tanh(W z + b)``, code ``h = sign(y)``,
loss ``L = L_rec + λ L_quant`` (Eqs. 1–7, Algorithm 2). Because the decoder reads ``z``, reconstruction never
trains W and b: the only signal on the hash layer is ``||sign(y) - y||²``, which saturation alone minimises
(seeds-digest §3.4). :class:`ConvAutoencoderHasher` implements that model (``decoder_input="latent"``) and the
workbench variant whose decoder reads the relaxed code (``decoder_input="code"``, ``x̂ = D(y)``), closer to
Salakhutdinov & Hinton's semantic hashing (2009): the code then has to carry the image.

Modules: ``images`` (image arrays to tensors / flat pixels), ``model`` (:class:`ConvAutoencoderHasher`),
``training`` (:func:`train_autoencoder`, Lightning ``Trainer``), ``comparison`` (:func:`compare_methods`: the
variants + LSH / PCA-sign / ITQ + exact float KNN under one protocol, :func:`code_statistics`), ``bundles``
(:func:`find_medmnist`, :func:`subsample_bundle`), ``claims`` (:func:`load_seed002_claims`,
:func:`claims_vs_measured`), ``plots`` and ``widgets`` (:class:`AutoencoderExplorer`, the bits/λ widget).
Everything public is re-exported here, so ``from hashlab.autoencoder import X`` keeps working.
"""

from hashlab.autoencoder.bundles import find_medmnist, subsample_bundle
from hashlab.autoencoder.claims import CLAIMS_PATH, claims_vs_measured, load_seed002_claims
from hashlab.autoencoder.comparison import (
    AE_METHODS,
    METHOD_LABELS,
    ComparisonResult,
    code_statistics,
    compare_methods,
)
from hashlab.autoencoder.images import flatten_images, images_to_tensor
from hashlab.autoencoder.model import DECODER_INPUTS, ConvAutoencoderHasher
from hashlab.autoencoder.plots import plot_comparison, plot_reconstructions
from hashlab.autoencoder.training import train_autoencoder
from hashlab.autoencoder.widgets import AutoencoderExplorer, build_explorer
from hashlab.config import torch_threads

__all__ = [
    "AE_METHODS",
    "CLAIMS_PATH",
    "METHOD_LABELS",
    "AutoencoderExplorer",
    "ComparisonResult",
    "ConvAutoencoderHasher",
    "DECODER_INPUTS",
    "build_explorer",
    "claims_vs_measured",
    "code_statistics",
    "compare_methods",
    "find_medmnist",
    "flatten_images",
    "images_to_tensor",
    "load_seed002_claims",
    "plot_comparison",
    "plot_reconstructions",
    "subsample_bundle",
    "torch_threads",
    "train_autoencoder",
]
