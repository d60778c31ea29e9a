"""The trainable model classes in one place: supervised hash heads and the autoencoder hasher."""

from hashlab.autoencoder import ConvAutoencoderHasher
from hashlab.module import HashingModule

__all__ = ["ConvAutoencoderHasher", "HashingModule"]
