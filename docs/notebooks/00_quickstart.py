# %% [markdown]
# # 00 · Quickstart: deep hashing on handwritten digits
#
# hashlab learns short **binary codes** (±1 bits) for images so that similar images get codes at a small
# **Hamming distance**; retrieval then means "find the database codes nearest to the query's code".
#
# This notebook runs the whole path on the embedded default data (in FAST mode it took 10.5 s of CPU time, 25 s
# wall-clock on a shared 2-core AMD EPYC machine; `notebooks/README.md` lists every notebook's measured time):
# scikit-learn's bundled **digits** (1,797 grey 8×8 images, 10 classes; seeded stratified train/val/test split),
# **pixels** as features (flattened, standardised), a small MLP **hash head** trained with the DPSH pairwise
# likelihood loss (Li et al., IJCAI 2016), ±1 codes, a faiss Hamming index, and the evaluation protocol of the thesis:
# **queries = test split, database = training split**, model selection on the validation split only.
# At the end, a slider retrains the head at another code length.

# %% [markdown]
# ## 0 · Concepts in five minutes
#
# **Codes.** An $L$-bit code is a vector $b \in \{-1, +1\}^L$ (printed as 1 for $+1$ and 0 for $-1$). A *hash head*
# maps a feature vector $x$ to $h = \tanh(f(x)) \in (-1, 1)^L$ while it trains and to $b = \operatorname{sgn}(h)$
# afterwards.
#
# **Hamming distance.** $d_H(b, b')$ counts the positions where two codes differ. Each agreeing bit adds $+1$ to the
# inner product $b^\top b'$ and each differing bit $-1$, so $b^\top b' = L - 2\,d_H$, that is
# $$d_H(b, b') = \tfrac12\,(L - b^\top b').$$
# Two random codes differ in $L/2$ bits on average; $d_H = 0$ means the same code.
#
# **Retrieval.** The query's code is compared with every database code, the database is ranked by $d_H$ (ties by
# database index), and the top of the ranking is the answer. A database item is *relevant* when it has the query's
# label.
#
# **What a loss does, and what a margin does.** Training pulls *similar* pairs (same label, $s_{ij} = 1$) together
# and pushes *dissimilar* pairs ($s_{ij} = 0$) apart. A **margin** $m$ says how far apart is far enough: a
# dissimilar pair more than $m$ bits apart costs nothing, so the loss stops spending effort on it. DSH (Liu et al.
# 2016) writes this as $\tfrac12 s_{ij}\lVert h_i - h_j\rVert^2 + \tfrac12 (1 - s_{ij}) \max(0,\ m -
# \lVert h_i - h_j\rVert^2)$, and for binary codes $\lVert b_i - b_j\rVert^2 = 4\,d_H$. The picture below the
# parameters shows it.
#
# **The DPSH loss in one line** (Li, Wang & Kang 2016), the loss trained below: with $\theta_{ij} = \tfrac12
# h_i^\top h_j$,
# $$\mathcal L = -\sum_{i,j} \big(s_{ij}\,\theta_{ij} - \log(1 + e^{\theta_{ij}})\big)
#   + \eta \sum_i \lVert h_i - \operatorname{sgn}(h_i)\rVert^2 .$$
# *Intuition:* $\sigma(\theta_{ij})$ is the model's probability that $i$ and $j$ are similar, so the first sum is
# logistic regression on the inner product of the two codes; for binary codes $\theta_{ij} = L/2 - d_H$. Similar
# pairs are pushed below $L/2$ bits and dissimilar pairs above it: a soft margin at $L/2$. The second sum pulls
# every output towards $\pm1$, so that taking the sign loses little.
#
# **Metrics** (computed per test query against the training database, then averaged over the queries):
#
# | name in the tables | definition |
# |---|---|
# | `map` (mAP) | mean over queries of AP $= \frac1R \sum_{r:\ \text{rank } r \text{ relevant}} P@r$, where $P@r$ is the fraction of relevant items in the top $r$ and $R$ the number of relevant items (whole ranking) |
# | `map@k` | the same over the top $k = 100$ of the ranking only ($R$ = relevant items retrieved in the top 100) |
# | `p@k` (P@100) | fraction of relevant items among the 100 nearest codes |
# | `p@r2` (P@r≤2) | fraction of relevant items among the database codes within Hamming distance 2 of the query (a hash-table lookup); an empty ball scores 0 |
# | `knn_acc` | accuracy of the majority vote of the labels of the $k = 7$ nearest codes (a vote tie goes to the nearest tied class) |
#
# A worked example with five database items follows the parameters cell.

# %% tags=["parameters"]
import hashlab.config

FAST = hashlab.config.fast_mode()  # HASHLAB_FAST=1: fewer epochs (CI)
DATASET, BACKBONE = "digits", "pixels"
METHOD = "dpsh"  # any name in hashlab.losses.available_losses()
BITS = 32
EPOCHS = 5 if FAST else 20
BATCH_SIZE = 128
SEED = 0
KNN_K = 7  # the thesis's k
GALLERY_QUERIES, GALLERY_K = 4, 8

# %%
import numpy as np
import pandas as pd

from hashlab import metrics, viz
from hashlab.data import load_dataset, retrieval_protocol
from hashlab.experiment import ExperimentConfig, run
from hashlab.features import get_embeddings
from hashlab.hardware import hardware_info
from hashlab.index import HammingIndex
from hashlab.separation import hamming_pair_distances
from hashlab.widgets import BitLengthExplorer

print(hardware_info())

# %% [markdown]
# ### A worked example: one query, five database items, 4-bit codes
#
# The query is $q = (+1, +1, -1, +1)$ with label 0. Ranked by $d_H$ (ties by index) the database reads
# a (0 bits, relevant), b (1, not), c (1, relevant), d (2, relevant), e (4, not). By hand:
# AP $= \frac13(\frac11 + \frac23 + \frac34) \approx 0.806$; P@3 $= \frac23$ (P@100 needs 100 items); P@r≤2: four
# items lie within 2 bits, three of them relevant, $\frac34$; the 3-NN vote (a: 0, b: 1, c: 0) predicts 0. The cell
# computes the same numbers with `hashlab.metrics`.

# %%
query, query_label = np.array([[+1, +1, -1, +1]]), np.array([0])
database = np.array(
    [[+1, +1, -1, +1], [+1, -1, -1, +1], [+1, +1, +1, +1], [-1, +1, +1, +1], [-1, -1, +1, -1]]
)
db_labels = np.array([0, 1, 0, 0, 1])
d_h = metrics.hamming_distance(query, database)[0]
example = {
    "AP": metrics.mean_average_precision(query, database, query_label, db_labels),
    "P@3": metrics.precision_at_k(query, database, query_label, db_labels, k=3),
    "P@r<=2": metrics.precision_within_radius(query, database, query_label, db_labels, radius=2),
    "3-NN prediction": int(metrics.knn_predict(query, database, db_labels, k=3)[0]),
}
assert np.array_equal(d_h, (4 - database @ query[0]) // 2) and np.array_equal(
    d_h, (database != query).sum(axis=1)
)
assert np.allclose(list(example.values()), [(1 + 2 / 3 + 3 / 4) / 3, 2 / 3, 3 / 4, 0])
print({name: round(value, 3) for name, value in example.items()})
pd.DataFrame(
    {
        "code": ["".join("1" if v > 0 else "0" for v in row) for row in database],
        "label": db_labels,
        "d_H": d_h,
        "relevant": db_labels == query_label[0],
    },
    index=list("abcde"),
)

# %% [markdown]
# ### What pulls, what pushes, where the margin sits
#
# The loss of one pair as a function of its Hamming distance, for 32-bit binary codes. Left, DSH with a margin of
# $m = 8$ bits: a similar pair pays in proportion to its distance, a dissimilar pair pays only while it is closer
# than the margin. Right, DPSH: $-\log\sigma(\theta)$ for a similar pair and $-\log(1 - \sigma(\theta))$ for a
# dissimilar one, with $\theta = L/2 - d_H$; the two curves cross at $L/2$, DPSH's soft margin.

# %%
import matplotlib.pyplot as plt

L_DEMO, MARGIN_DEMO = 32, 8
d = np.linspace(0, L_DEMO, 200)
theta = L_DEMO / 2 - d
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
left.plot(d, d / L_DEMO, label="similar pair: pulled in")
left.plot(d, np.maximum(0, MARGIN_DEMO - d) / L_DEMO, label="dissimilar pair: pushed out")
left.axvline(MARGIN_DEMO, color="grey", ls=":", label=f"margin m = {MARGIN_DEMO} bits")
left.set(
    title="DSH (contrastive, with a margin)", xlabel="Hamming distance $d_H$ (bits)", ylabel="loss (scaled)"
)
right.plot(d, np.logaddexp(0, -theta), label="similar pair: $-\\log\\sigma(\\theta)$")
right.plot(d, np.logaddexp(0, theta), label="dissimilar pair: $-\\log(1-\\sigma(\\theta))$")
right.axvline(L_DEMO / 2, color="grey", ls=":", label="$L/2$: the soft margin")
right.set(title="DPSH (pairwise likelihood)", xlabel="Hamming distance $d_H$ (bits)", ylabel="loss")
for ax in (left, right):
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=1, frameon=False)
    ax.xaxis.get_major_locator().set_params(integer=True)
plt.show()

# %% [markdown]
# **Exercise 1 · predict, then run.** Draw two *random* 32-bit codes. How many bits do they differ in on average,
# and how much does that number vary (its standard deviation)? Write your guess down, then run the folded solution.

# %% tags=["solution"] jupyter={"source_hidden": true}
# Each bit differs with probability 1/2, independently: d_H ~ Binomial(L, 1/2), mean L/2, std sqrt(L)/2.
rng = np.random.default_rng(SEED)
a, b = rng.choice([-1, 1], size=(2, 10_000, 32))
d_random = (a != b).sum(axis=1)
print(f"mean {d_random.mean():.2f} bits (theory 16), std {d_random.std():.2f} (theory {np.sqrt(32) / 2:.2f})")
assert abs(d_random.mean() - 16) < 0.2 and abs(d_random.std() - np.sqrt(32) / 2) < 0.1

# %% [markdown]
# ## 1 · Data and features
# `load_dataset` returns images, labels, class names and the three splits; `retrieval_protocol` checks that the
# test queries are not in the training database. `get_embeddings` builds (or loads from `data/`) the feature cache.

# %%
bundle = load_dataset(DATASET)
protocol = retrieval_protocol(bundle)
embeddings = get_embeddings(DATASET, BACKBONE)
print("split sizes:", protocol["sizes"], "| feature dim:", embeddings.in_dim)
viz.plot_class_samples(bundle, per_class=8, seed=SEED)

# %% [markdown]
# ## 2 · Train a hash head
# `run` trains the head with Lightning on the training split, keeps the epoch with the best **validation** mAP, encodes
# every split to ±1 codes and evaluates test queries against the training database.

# %%
config = ExperimentConfig(
    dataset=DATASET,
    backbone=BACKBONE,
    method=METHOD,
    bits=BITS,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    seed=SEED,
    knn_k=KNN_K,
)
result = run(config, embeddings=embeddings, progress=False)
print(f"trained {EPOCHS} epochs in {result.train_seconds:.1f} s; best validation epoch {result.best_epoch}")
pd.DataFrame([result.metrics], index=[f"{METHOD}, {BITS} bits"]).round(4)

# %% [markdown]
# The training loss per epoch (left) and the validation mAP that chooses the checkpoint (right): the model kept is
# the one of the best validation epoch printed above, not necessarily the last one.

# %%
viz.plot_training_curves(
    result.history, keys=["train_loss", "val_map"], title=f"{METHOD}, {BITS} bits on {DATASET}/{BACKBONE}"
)

# %% [markdown]
# ## 3 · Codes and retrieval
# The codes are `int8` ±1 arrays (`sign(0) = +1`). A `HammingIndex` (faiss, packed bits) holds the training database;
# searching it with the test codes returns Hamming distances and database ids, ties broken by id.

# %%
train_codes, test_codes = result.codes["train"], result.codes["test"]
assert np.array_equal(
    result.model.encode(embeddings.test.features), test_codes
)  # encode() gives the same codes
print(
    test_codes.dtype, test_codes.shape, "first query:", "".join("1" if b > 0 else "0" for b in test_codes[0])
)

index = HammingIndex(BITS)
index.add(train_codes)
distances, ids = index.search(test_codes, k=max(KNN_K, GALLERY_K))
print(index, "| nearest distances of query 0:", distances[0].tolist())

# %%
query_ids = np.random.default_rng(SEED).choice(len(bundle.test), size=GALLERY_QUERIES, replace=False)
viz.plot_retrieval_gallery(
    bundle, query_ids, ids[query_ids, :GALLERY_K], distances=distances[query_ids, :GALLERY_K]
)

# %% [markdown]
# ## 4 · Hamming KNN classification
# Majority vote of the k = 7 nearest training codes (the thesis's metric), computed from the index's neighbours;
# the last cell checks it against `metrics.knn_predict`.

# %%
train_labels, test_labels = bundle.train.labels, bundle.test.labels
knn_pred = metrics.majority_vote(train_labels[ids[:, :KNN_K]])  # vote ties: the nearest tied class wins
acc_hashed = float(np.mean(knn_pred == test_labels))
acc_raw = metrics.knn_accuracy(
    embeddings.test.features, embeddings.train.features, test_labels, train_labels, k=KNN_K
)
print(f"Hamming KNN accuracy ({BITS} bits): {acc_hashed:.4f} | raw pixels, Euclidean KNN: {acc_raw:.4f}")
cm = metrics.confusion_matrix(test_labels, knn_pred, n_classes=len(bundle.class_names))
viz.plot_confusion_matrix(
    cm, bundle.class_names, title=f"Confusion Matrix ({METHOD}, {BITS} bits, test queries)"
)

# %% [markdown]
# ## 5 · Hamming distances: same class vs different class
# A good code puts same-class pairs at small distances and different-class pairs near L/2 or beyond.

# %%
pair_dist, same = hamming_pair_distances(test_codes, test_labels)
print(
    f"mean distance, same class: {pair_dist[same].mean():.2f} | different class: {pair_dist[~same].mean():.2f}"
)
viz.plot_hamming_histogram(test_codes, test_labels)

# %% [markdown]
# **Precision and recall by Hamming radius.** Retrieve every training code within distance $r$ of the query, for
# $r = 0, 1, \dots, L$. A small ball returns few items, mostly relevant (high precision, low recall); $r = L$
# returns the whole database (recall 1, precision = the share of relevant items, about 0.1). A query whose ball is
# empty counts as precision 0, which is why the curve starts low at $r = 0$. mAP summarises the ranking behind it.

# %%
precision, recall = metrics.precision_recall_curve(
    test_codes, train_codes, test_labels, train_labels, by="radius"
)
viz.plot_precision_recall(
    {f"{METHOD}, {BITS} bits": (precision, recall)}, title="Precision-recall by Hamming radius (test queries)"
)

# %% [markdown]
# **Exercise 2 · predict, then run.** Flip every bit of the first test query's code. What happens to its Hamming
# distance to each training code, and which training item becomes its nearest neighbour?

# %% tags=["solution"] jupyter={"source_hidden": true}
# d_H(-q, b) = L - d_H(q, b): every distance is mirrored around L/2, so the old farthest item becomes the nearest.
d_q = metrics.hamming_distance(test_codes[:1], train_codes)[0]
d_flipped = metrics.hamming_distance(-test_codes[:1], train_codes)[0]
assert np.array_equal(d_flipped, BITS - d_q)
print(
    f"nearest before: item {d_q.argmin()} (class {train_labels[d_q.argmin()]}, {d_q.min()} bits); "
    f"after flipping: item {d_flipped.argmin()} (class {train_labels[d_flipped.argmin()]}, {d_flipped.min()} bits), "
    f"which was the farthest ({d_q.max()} bits)"
)

# %% [markdown]
# ## 6 · Try another code length
# Release the slider: the head is retrained at the new bit length on the same cached features (one training like
# section 2's, whose time is printed there, plus the evaluation), and the bit length, metric table and histogram
# are redrawn. Errors appear in the output area.

# %%
explorer = BitLengthExplorer(
    embeddings, bits=BITS, method=METHOD, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=SEED, knn_k=KNN_K
)
explorer.show_result(result)  # the run above, without retraining
explorer

# %% [markdown]
# **Exercise 3 · predict, then run.** Retrain with 4-bit codes instead of 32. How many *different* codes can the
# training database hold at most? Will mAP go up or down, and why?

# %% tags=["solution"] jupyter={"source_hidden": true}
# 4 bits give at most 2**4 = 16 codes for 10 classes: many items share a code, so the ranking has large ties and
# items of different classes collide; mAP drops.
import dataclasses

result4 = run(dataclasses.replace(config, bits=4), embeddings=embeddings, progress=False)
distinct = len(np.unique(result4.codes["train"], axis=0))
print(
    f"4 bits: {distinct} distinct codes in the database (at most 16); mAP {result4.metrics['map']:.3f} "
    f"vs {result.metrics['map']:.3f} at {BITS} bits"
)
assert distinct <= 16

# %% [markdown]
# ## 7 · Claims checked

# %%
assert test_codes.dtype == np.int8 and set(np.unique(test_codes)) == {-1, 1}
assert np.array_equal(knn_pred, metrics.knn_predict(test_codes, train_codes, train_labels, k=KNN_K))
assert abs(acc_hashed - result.metrics["knn_acc"]) < 1e-9
# 32-bit codes keep the digits separable: hashed KNN well above chance (0.10) and close to raw-pixel KNN
assert acc_hashed >= 0.85, acc_hashed
assert acc_hashed >= acc_raw - 0.08, (acc_hashed, acc_raw)
assert result.metrics["map"] >= 0.6, result.metrics
# same-class pairs are much closer in Hamming space than different-class pairs
assert pair_dist[~same].mean() - pair_dist[same].mean() >= BITS / 8
assert explorer.last_error is None and explorer.result is result
print("all claims hold")
