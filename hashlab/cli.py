"""The ``hashlab`` command: ``train`` a hash head headless, ``reproduce`` the thesis, open the ``lab``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence

from hashlab.config import REPO_ROOT


def _int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from hashlab.losses import available_losses

    parser.add_argument("--dataset", default="digits", help="dataset name: digits, a MedMNIST flag, cifar10")
    parser.add_argument(
        "--backbone", default="pixels", help="embedding backbone: pixels, vit_b_16, dinov2_vitb14"
    )
    parser.add_argument("--size", type=int, default=28, help="MedMNIST image size (28, 64, 128, 224)")
    parser.add_argument("--method", default="dpsh", choices=available_losses(), help="hashing loss")
    parser.add_argument("--bits", type=int, default=32, help="code length L in bits")
    parser.add_argument(
        "--epochs", type=int, default=30, help="training epochs (best epoch chosen on val mAP)"
    )
    parser.add_argument("--batch-size", type=int, default=128, help="mini-batch size")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--hidden", type=int, nargs="*", default=[512], help="hidden widths of the MLP head")
    parser.add_argument("--margin", type=float, default=None, help="margin for losses that have one")
    parser.add_argument(
        "--loss-kwargs", default="{}", help="extra loss hyperparameters as JSON, e.g. '{\"alpha\": 0.1}'"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same codes)")
    parser.add_argument("--knn-k", type=int, default=7, help="k of the Hamming KNN classifier (thesis: 7)")
    parser.add_argument("--map-k", type=_int_or_none, default=None, help="mAP cut-off k (default: all)")
    parser.add_argument(
        "--subsample",
        type=int,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        default=None,
        help="stratified subsample sizes per split",
    )
    parser.add_argument("--save", default=None, help="save the trained model to this file")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _train(args: argparse.Namespace) -> int:
    from hashlab.experiment import ExperimentConfig, run

    loss_kwargs = json.loads(args.loss_kwargs)
    if args.margin is not None:
        loss_kwargs["margin"] = args.margin
    config = ExperimentConfig(
        dataset=args.dataset,
        backbone=args.backbone,
        size=args.size,
        method=args.method,
        bits=args.bits,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=tuple(args.hidden),
        seed=args.seed,
        loss_kwargs=loss_kwargs,
        knn_k=args.knn_k,
        map_k=args.map_k,
        subsample=tuple(args.subsample) if args.subsample else None,
    )
    result = run(config, progress=not args.no_progress)
    if args.save:
        result.model.save(args.save)
    sizes = {split: len(codes) for split, codes in result.codes.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "config": config.to_dict(),
                    "test": result.metrics,
                    "val": result.val_metrics,
                    "sizes": sizes,
                    "best_epoch": result.best_epoch,
                    "train_seconds": result.train_seconds,
                }
            )
        )
        return 0
    print(
        f"\n{config.method} · {config.bits} bits · {config.dataset}/{config.backbone} · "
        f"database = train ({sizes['train']}), queries = test ({sizes['test']}), "
        f"model selected on val ({sizes['val']}) at epoch {result.best_epoch}"
    )
    print(f"{'metric':<18}{'test':>10}{'val':>10}")
    p_k = config.map_k or min(100, sizes["train"])
    shown = {
        "map": "mAP",
        "map@k": f"mAP@{config.map_k}",
        "p@k": f"P@{p_k}",
        "p@r2": "P@r<=2",
        "knn_acc": f"KNN acc (k={config.knn_k})",
    }
    for name, value in result.metrics.items():
        label = shown.get(name, name)
        print(f"{label:<18}{value:>10.4f}{result.val_metrics.get(name, float('nan')):>10.4f}")
    print(f"{'train seconds':<18}{result.train_seconds:>10.1f}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    jupyter = shutil.which("jupyter")
    if jupyter is None:
        raise FileNotFoundError("jupyter is not installed in this environment: pip install -e .")
    notebook = REPO_ROOT / "notebooks" / args.notebook
    if not notebook.exists():
        raise FileNotFoundError(f"no notebook {notebook}")
    argv = [jupyter, "lab", str(notebook), *args.jupyter_args]
    os.execv(jupyter, argv)
    return 0  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashlab", description="Deep hashing workbench for image retrieval."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train",
        help="train one hash head and print retrieval metrics",
        description="Train a hash head on cached embeddings; evaluate test queries against "
        "the training database (selection on the validation split).",
    )
    _add_train_arguments(train)
    train.set_defaults(func=_train)

    from hashlab.reproduce import add_reproduce_arguments, run_reproduce

    reproduce = sub.add_parser("reproduce", help="reproduce the thesis tables and figures")
    add_reproduce_arguments(reproduce)
    reproduce.set_defaults(func=run_reproduce)

    lab = sub.add_parser("lab", help="open the workbench in JupyterLab on a notebook")
    lab.add_argument("notebook", nargs="?", default="00_quickstart.ipynb", help="notebook file in notebooks/")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="extra arguments for jupyter lab")
    lab.set_defaults(func=_lab)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def console() -> None:
    """Console-script entry: known user errors print one ``hashlab: error: ...`` line and exit with status 2."""
    try:
        sys.exit(main())
    except (KeyError, ValueError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"hashlab: error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    console()
