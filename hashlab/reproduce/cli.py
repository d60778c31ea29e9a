"""The ``hashlab reproduce`` options and the function ``hashlab.cli`` runs them with."""

from __future__ import annotations

import argparse
import os

from hashlab.config import figures_dir
from hashlab.files import check_output_dir
from hashlab.reproduce.presets import FAST_SETTINGS, FULL_BITS, THESIS_KNN_K
from hashlab.reproduce.protocol import _duration, reproduce


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``hashlab reproduce`` (wired by ``hashlab.cli``)."""
    parser.add_argument(
        "--dataset", default=None, help="dataset name (default: pathmnist; digits with --fast)"
    )
    parser.add_argument(
        "--backbone", default=None, help="embedding backbone (default: vit_b_16; pixels with --fast)"
    )
    parser.add_argument("--out", default=None, help="output folder (default: <figures_dir>/reproduce[_fast])")
    parser.add_argument(
        "--methods", nargs="+", default=None, help="methods to run (default: the thesis's nine)"
    )
    parser.add_argument(
        "--bits", nargs="+", type=int, default=None, help="code lengths (default: 12 24 36 48)"
    )
    parser.add_argument("--fast", action="store_true", help="CI-sized run: digits + pixels, few epochs")
    parser.add_argument("--seed", type=int, default=None, help="training seed (default 0); see --seeds")
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=None,
        help="several training seeds: tables show mean ± sd and n, figures error bars (default: --seed)",
    )
    parser.add_argument(
        "--seed-bits",
        nargs="+",
        type=int,
        default=None,
        help="code lengths at which the seeds after the first run (default: every --bits)",
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument(
        "--hidden", nargs="+", type=int, default=None, help="hidden widths of the hash head MLP"
    )
    parser.add_argument(
        "--subsample", nargs=3, type=int, default=None, metavar=("N_TRAIN", "N_VAL", "N_TEST")
    )
    parser.add_argument("--size", type=int, default=28, help="image size the embeddings are computed from")
    parser.add_argument("--map-k", type=int, default=100, help="cut-off of mAP@k (0: whole database only)")
    parser.add_argument(
        "--knn-k",
        type=int,
        default=THESIS_KNN_K,
        help=f"k of the Hamming KNN (default: the thesis's {THESIS_KNN_K})",
    )
    parser.add_argument("--no-figures", action="store_true", help="tables and assumptions only")
    parser.add_argument(
        "--progress", action="store_true", help="also show Lightning's per-epoch progress bars"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar over the grid")
    parser.add_argument(
        "--force-restart",
        action="store_true",
        help="run in an --out folder that holds a run with other settings (cells that differ are recomputed)",
    )
    placement = parser.add_argument_group("where each cell trains (Lightning; one process)")
    placement.add_argument("--accelerator", default=None, help="auto, cpu, gpu (default: auto)")
    placement.add_argument("--devices", type=int, default=None, help="devices per cell; reproduce runs 1")
    placement.add_argument("--num-nodes", type=int, default=None, help="nodes per cell; reproduce runs 1")
    placement.add_argument("--strategy", default=None, help="Lightning strategy (default: auto)")
    placement.add_argument(
        "--precision", default=None, help="32-true, 16-mixed, bf16-mixed (default: 32-true)"
    )
    return parser


def run_reproduce(args: argparse.Namespace) -> int:
    """Run ``reproduce`` from parsed arguments; print where the results are. Returns the exit status (0)."""
    if os.environ.get("HASHLAB_DATA_DIR"):
        check_output_dir(os.environ["HASHLAB_DATA_DIR"], "HASHLAB_DATA_DIR")
    if args.out:
        check_output_dir(args.out, "--out")
    seeds = getattr(args, "seeds", None)
    if seeds is not None and args.seed is not None:
        raise ValueError("--seed and --seeds: give one of them (--seeds 0 1 2 includes the first seed)")
    fast = bool(args.fast)
    dataset = args.dataset or (FAST_SETTINGS["dataset"] if fast else "pathmnist")
    backbone = args.backbone or (FAST_SETTINGS["backbone"] if fast else "vit_b_16")
    bits = args.bits or (FAST_SETTINGS["bits"] if fast else FULL_BITS)
    out = args.out or figures_dir() / ("reproduce_fast" if fast else "reproduce")
    result = reproduce(
        dataset,
        backbone,
        out,
        methods=args.methods,
        bits=bits,
        fast=fast,
        seed=0 if args.seed is None else args.seed,
        seeds=seeds,
        seed_bits=getattr(args, "seed_bits", None),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        subsample=args.subsample,
        size=args.size,
        map_k=args.map_k or None,
        knn_k=args.knn_k,
        figures=not args.no_figures,
        progress=args.progress,
        bar=not getattr(args, "no_progress", False),
        force_restart=getattr(args, "force_restart", False),
        log=print,
        placement={
            name: getattr(args, name, None)
            for name in ("accelerator", "devices", "num_nodes", "strategy", "precision")
        },
    )
    print(
        f"wrote Tables 3-6, {len(result['figures'])} figures and assumptions to {result['out_dir']} "
        f"({result['computed']} cells computed, {result['reused']} reused); "
        f"total wall time {_duration(result['seconds'])}"
    )
    return 0
