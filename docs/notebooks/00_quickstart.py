# %% [markdown]
# # 00 · Quickstart: deep hashing on handwritten digits
#
# hashlab learns short **binary codes** (±1 bits) for images so that similar images get codes at a small
# **Hamming distance**; retrieval then means "find the database codes nearest to the query's code".
#
# This notebook runs the whole path on the embedded default data, in under a minute on a laptop CPU:
# scikit-learn's bundled **digits** (1,797 grey 8×8 images, 10 classes; seeded stratified train/val/test split),
# **pixels** as features (flattened, standardised), a small MLP **hash head** trained with the DPSH pairwise
# likelihood loss (Li et al., IJCAI 2016), ±1 codes, a faiss Hamming index, and the evaluation protocol of the thesis:
# **queries = test split, database = training split**, model selection on the validation split only.
# At the end, a slider retrains the head at another code length.

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

from hashlab import metrics, plots
from hashlab.data import load_dataset, retrieval_protocol
from hashlab.experiment import ExperimentConfig, run
from hashlab.features import get_embeddings
from hashlab.index import HammingIndex
from hashlab.widgets import BitLengthExplorer

print(plots.hardware_info())

# %% [markdown]
# ## 1 · Data and features
# `load_dataset` returns images, labels, class names and the three splits; `retrieval_protocol` checks that the
# test queries are not in the training database. `get_embeddings` builds (or loads from `data/`) the feature cache.

# %%
bundle = load_dataset(DATASET)
protocol = retrieval_protocol(bundle)
embeddings = get_embeddings(DATASET, BACKBONE)
print("split sizes:", protocol["sizes"], "| feature dim:", embeddings.in_dim)
plots.class_sample_grid(bundle, per_class=8, seed=SEED)

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
plots.retrieval_gallery(
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
plots.confusion_matrix_plot(
    cm, bundle.class_names, title=f"Confusion Matrix ({METHOD}, {BITS} bits, test queries)"
)

# %% [markdown]
# ## 5 · Hamming distances: same class vs different class
# A good code puts same-class pairs at small distances and different-class pairs near L/2 or beyond.

# %%
pair_dist, same = plots.hamming_pair_distances(test_codes, test_labels)
print(
    f"mean distance, same class: {pair_dist[same].mean():.2f} | different class: {pair_dist[~same].mean():.2f}"
)
plots.hamming_distance_histogram(test_codes, test_labels)

# %% [markdown]
# ## 6 · Try another code length
# Release the slider: the head is retrained at the new bit length on the same cached features (a few seconds), and
# the bit length, metric table and histogram are redrawn. Errors appear in the output area.

# %%
explorer = BitLengthExplorer(
    embeddings, bits=BITS, method=METHOD, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=SEED, knn_k=KNN_K
)
explorer.show_result(result)  # the run above, without retraining
explorer

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
