"""Unsupervised semantic hashing with a convolutional autoencoder (Alsoufi) and its code-bottleneck variant.

Alsoufi, "Deep Feature Embedding for Content-Based Image Retrieval Using Autoencoders and Semantic Hashing":
encoder ``z = E(x)``, decoder ``x̂ = D(z)``, hash layer ``y = tanh(W z + b)``, code ``h = sign(y)``, loss
``L = L_rec + λ L_quant`` (Eqs. 1–7, Algorithm 2). Because the decoder reads ``z``, reconstruction never trains
W and b: the only signal on the hash layer is ``||sign(y) - y||²``, which saturation alone minimises.
:class:`ConvAutoencoderHasher` implements that model (``decoder_input="latent"``) and the variant whose decoder
reads the relaxed code (``decoder_input="code"``, ``x̂ = D(y)``), closer to Salakhutdinov & Hinton's semantic
hashing (2009): the code then has to carry the image.

Modules: ``images`` (image arrays to tensors / flat pixels), ``model`` (:class:`ConvAutoencoderHasher`),
``training`` (:func:`train_autoencoder`, Lightning ``Trainer``), ``comparison`` (:func:`compare_methods`: the
variants + LSH / PCA-sign / ITQ + exact float KNN under one protocol, :func:`code_statistics`). Everything
public is re-exported here. Figures are in :mod:`hashlab.viz.autoencoder`, the bits/λ widget is
:class:`hashlab.widgets.AutoencoderExplorer`; the paper's printed tables beside our measurements, and notebook 02's
MedMNIST helpers (``find_medmnist``, ``subsample_bundle``), are in :mod:`hashlab.studies.autoencoder`.
"""

from hashlab.autoencoder.comparison import (
    AE_METHODS,
    METHOD_LABELS,
    ComparisonResult,
    code_statistics,
    compare_methods,
)
from hashlab.autoencoder.images import flatten_images, images_to_tensor
from hashlab.autoencoder.model import DECODER_INPUTS, ConvAutoencoderHasher
from hashlab.autoencoder.training import train_autoencoder
from hashlab.config import torch_threads

__all__ = [
    "AE_METHODS",
    "METHOD_LABELS",
    "ComparisonResult",
    "ConvAutoencoderHasher",
    "DECODER_INPUTS",
    "code_statistics",
    "compare_methods",
    "flatten_images",
    "images_to_tensor",
    "torch_threads",
    "train_autoencoder",
]
