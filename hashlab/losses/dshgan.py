"""DSH-GAN: Deep Semantic Hashing with GANs (Qiu, Pan, Yao, Mei, SIGIR 2017), adapted to embedding inputs."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from .base import HashLoss, LossOutput, register_loss


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None


def grad_reverse(x: Tensor, scale: float = 1.0) -> Tensor:
    """Identity in the forward pass, multiplies the gradient by ``-scale`` in the backward pass (Ganin & Lempitsky)."""
    return _GradReverse.apply(x, scale)


class _LazyOutputLinear(LazyModuleMixin, nn.Linear):
    """``nn.Linear`` whose *output* size is fixed by the first call ``forward(x, out_features)``."""

    cls_to_become = nn.Linear

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, 0)
        self.weight = UninitializedParameter()
        self.bias = UninitializedParameter()

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.out_features:
            super().reset_parameters()

    def initialize_parameters(self, x: Tensor, out_features: int) -> None:  # type: ignore[override]
        if self.has_uninitialized_params():
            with torch.no_grad():
                self.out_features = int(out_features)
                self.weight.materialize((self.out_features, self.in_features))
                self.bias.materialize((self.out_features,))
                self.reset_parameters()

    def forward(self, x: Tensor, out_features: int | None = None) -> Tensor:  # type: ignore[override]
        return F.linear(x, self.weight, self.bias)


class ConditionalGenerator(nn.Module):
    """``G(noise, label) -> synthetic embedding``: MLP on ``[noise, E y]`` (``E``: linear label embedding)."""

    def __init__(self, n_classes: int, noise_dim: int, hidden: int, feature_dim: int | None) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.label_embed = nn.Linear(n_classes, noise_dim, bias=False)
        self.body = nn.Sequential(nn.Linear(2 * noise_dim, hidden), nn.LeakyReLU(0.2))
        self.out: nn.Module = nn.Linear(hidden, feature_dim) if feature_dim else _LazyOutputLinear(hidden)

    def forward(self, noise: Tensor, y_onehot: Tensor, feature_dim: int) -> Tensor:
        hid = self.body(torch.cat([noise, self.label_embed(y_onehot)], 1))
        return self.out(hid, feature_dim) if isinstance(self.out, _LazyOutputLinear) else self.out(hid)


@register_loss
class DSHGANLoss(HashLoss):
    r"""DSH-GAN adapted to pre-extracted embeddings; one backward pass trains head, adversary and generator.

    Qiu et al., "Deep Semantic Hashing with Generative Adversarial Networks", SIGIR 2017 (thesis §3.2.2, Alg. 8).
    For each real sample ``x`` (label ``y``) a conditional generator makes a synthetic positive
    :math:`x^+ = G(z_1, y)` and a synthetic negative :math:`x^- = G(z_2, y^-)` (``y^-`` a random class not in
    ``y``) in the *embedding* space; both go through the hash head (``context["encoder"]``). With ``H`` the relaxed
    code and :math:`\tilde H = (H + 1)/2` in [0, 1] (the margin is in {0,1}-space units, as DNNH):

    .. math::
        l_{triplet} = \max\big(0,\ m + \|\tilde H(x) - \tilde H(x^+)\|^2 - \|\tilde H(x) - \tilde H(x^-)\|^2\big),
        \quad m = 1,

    .. math::
        l_c = \tfrac13\big(l_c(x) + l_c(x^+) + l_c(x^-)\big), \qquad
        l_a = \tfrac13\big(-\log D(x) - \log(1 - D(x^+)) - \log(1 - D(x^-))\big),

    where the classification stream (softmax; BCE for multi-hot) and the adversary ``D`` (real vs synthetic) sit
    on the hash code. Thesis typo corrected: the printed triplet has the positive and negative swapped (it would
    pull ``x`` towards ``x^-``); the form above is the paper's.

    Minimax in one pass: the paper's :math:`l_{CNN} = l_{triplet} + l_c + l_a` (head and adversary) and
    :math:`l_G = l_{triplet} + l_c - l_a` (generator) are realised by ``total = w_t l_triplet + w_c l_c + w_a l_a``
    where the synthetic embeddings reach the adversary through a gradient-reversal layer: head and adversary
    descend :math:`l_a`, the generator receives :math:`-\nabla l_a` (and :math:`+\nabla` of the triplet and
    classification terms through the un-reversed copy). ``feature_dim`` (the embedding size) is bound before
    training through the base class's input-size hook (``needs_input_dim = True``, :meth:`bind_input_dim`), or
    taken from the first batch's ``context["features"]`` when neither is given (lazy parameters). Means are over
    the batch. Constants: margin 1 (thesis formula, {0,1} units); stream weights 1, 1, 1 (the paper's unweighted
    sums); generator noise 32, hidden 256 and adversary width 64 are hashlab's (the paper's generator makes
    images, not embeddings).
    """

    name = "dshgan"
    family = "triplet"
    needs_input_dim = True

    def __init__(
        self,
        bits: int,
        n_classes: int,
        margin: float = 1.0,
        feature_dim: int | None = None,
        noise_dim: int = 32,
        hidden: int = 256,
        triplet_weight: float = 1.0,
        cls_weight: float = 1.0,
        adv_weight: float = 1.0,
    ) -> None:
        super().__init__(bits, n_classes)
        if n_classes < 2:
            raise ValueError("DSH-GAN needs at least 2 classes (it generates negatives of another class)")
        for pname, val in (
            ("triplet_weight", triplet_weight),
            ("cls_weight", cls_weight),
            ("adv_weight", adv_weight),
        ):
            if not val >= 0:
                raise ValueError(f"{pname} must be >= 0, got {val}")
        if feature_dim is not None and int(feature_dim) <= 0:
            raise ValueError(f"feature_dim must be positive, got {feature_dim}")
        for pname, val in (("noise_dim", noise_dim), ("hidden", hidden)):
            if int(val) <= 0:
                raise ValueError(f"{pname} must be positive, got {val}")
        self.margin = margin
        self.feature_dim = None if feature_dim is None else int(feature_dim)
        self.noise_dim, self.hidden = int(noise_dim), int(hidden)
        self.triplet_weight, self.cls_weight, self.adv_weight = (
            float(triplet_weight),
            float(cls_weight),
            float(adv_weight),
        )
        self.generator = ConditionalGenerator(n_classes, self.noise_dim, self.hidden, self.feature_dim)
        self.adversary = nn.Sequential(nn.Linear(bits, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
        self.classifier = nn.Linear(bits, n_classes)

    def bind_input_dim(self, in_dim: int) -> None:
        """Fix the embedding size before training (the module calls this with the head's input size)."""
        feature_dim = int(in_dim)
        if feature_dim <= 0:
            raise ValueError(f"feature_dim must be positive, got {feature_dim}")
        if self.feature_dim is not None and self.feature_dim != feature_dim:
            raise ValueError(f"DSH-GAN was built for feature_dim={self.feature_dim}, got {feature_dim}")
        self.feature_dim = feature_dim
        if (
            isinstance(self.generator.out, _LazyOutputLinear)
            and self.generator.out.has_uninitialized_params()
        ):
            self.generator.out = nn.Linear(self.hidden, feature_dim)

    def negative_labels(self, labels: Tensor) -> Tensor:
        """A random class not in each sample's label set, one-hot (B, C); uses the global torch RNG."""
        onehot = self.one_hot(labels)
        scores = torch.rand(onehot.shape, device=onehot.device).masked_fill(onehot > 0, -1.0)
        neg = scores.argmax(1)
        return F.one_hot(neg, self.n_classes).float()

    def synthesize(self, labels: Tensor, feature_dim: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(x_pos, x_neg, y_pos, y_neg)``: synthetic embeddings of the same / another class and their labels."""
        y_pos = self.one_hot(labels)
        y_neg = self.negative_labels(labels)
        dev, dt = self.classifier.weight.device, self.classifier.weight.dtype
        z = torch.randn(2, y_pos.shape[0], self.noise_dim, device=dev, dtype=dt)
        x_pos = self.generator(z[0], y_pos.to(dev, dt), feature_dim)
        x_neg = self.generator(z[1], y_neg.to(dev, dt), feature_dim)
        return x_pos, x_neg, y_pos, y_neg

    def classification(self, h: Tensor, y_onehot: Tensor, multilabel: bool) -> Tensor:
        logits = self.classifier(h)
        if multilabel:
            return F.binary_cross_entropy_with_logits(logits, y_onehot.to(logits.dtype))
        return F.cross_entropy(logits, y_onehot.argmax(1))

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        features, encoder = context.get("features"), context.get("encoder")
        if features is None or encoder is None:
            raise ValueError(
                "DSH-GAN needs context['features'] (head inputs) and context['encoder'] (features -> h)"
            )
        encoder_fn: Callable[[Tensor], Tensor] = encoder
        if features.dim() != 2 or features.shape[0] != h.shape[0]:
            raise ValueError(f"features must have shape ({h.shape[0]}, D), got {tuple(features.shape)}")
        if self.feature_dim is None:
            self.feature_dim = int(features.shape[1])
        elif features.shape[1] != self.feature_dim:
            raise ValueError(f"features have {features.shape[1]} dims but feature_dim={self.feature_dim}")
        multilabel = labels.dim() == 2
        x_pos, x_neg, y_pos, y_neg = self.synthesize(labels, self.feature_dim)
        x_pos, x_neg = x_pos.to(features.dtype), x_neg.to(features.dtype)
        # one head pass for the synthetic batch: plain copies (triplet, classification) and copies behind the
        # gradient-reversal layer (adversary), so G gets +grad of the former and -grad of l_a
        n = h.shape[0]
        h_syn = encoder_fn(torch.cat([x_pos, x_neg, grad_reverse(x_pos), grad_reverse(x_neg)]))
        h_pos, h_neg, h_pos_rev, h_neg_rev = h_syn.split(n)

        # hash stream: triplet on {0,1}-relaxed codes
        t, tp, tn = 0.5 * (h + 1), 0.5 * (h_pos + 1), 0.5 * (h_neg + 1)
        d_pos = (t - tp).pow(2).sum(1)
        d_neg = (t - tn).pow(2).sum(1)
        m = self._margin_like(d_pos, per_anchor_dims=0)
        triplet = torch.clamp(m + d_pos - d_neg, min=0).mean()

        # classification stream on the codes of real, positive and negative samples
        y_real = y_pos.to(h.device)
        cls = (
            self.classification(h, y_real, multilabel)
            + self.classification(h_pos, y_real, multilabel)
            + self.classification(h_neg, y_neg.to(h.device), multilabel)
        ) / 3

        # adversary stream: real codes and the reversed synthetic copies (generator ascends l_a)
        a_real = self.adversary(h).squeeze(1)
        a_pos = self.adversary(h_pos_rev).squeeze(1)
        a_neg = self.adversary(h_neg_rev).squeeze(1)
        adv = (
            F.binary_cross_entropy_with_logits(a_real, torch.ones_like(a_real))
            + F.binary_cross_entropy_with_logits(a_pos, torch.zeros_like(a_pos))
            + F.binary_cross_entropy_with_logits(a_neg, torch.zeros_like(a_neg))
        ) / 3

        total = self.triplet_weight * triplet + self.cls_weight * cls + self.adv_weight * adv
        return LossOutput(
            total, {"triplet": triplet.detach(), "classification": cls.detach(), "adversarial": adv.detach()}
        )
