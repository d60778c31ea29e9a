"""The ``hashlab`` command: ``train`` a hash head headless, ``reproduce`` the thesis, open the ``lab``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

# Help of each generated option; names, types and defaults come from hashlab.settings (one place decides them).
OPTION_HELP: dict[str, str] = {
    "dataset": "dataset: digits, fashion_mnist, a MedMNIST flag, cifar10",
    "backbone": "embedding backbone: pixels, vit_b_16, dinov2_vitb14",
    "size": "image size the embeddings are computed from (MedMNIST: 28, 64, 128, 224)",
    "subsample": "stratified subsample sizes per split (TRAIN VAL TEST)",
    "method": "hashing loss",
    "bits": "code length L in bits",
    "hidden": "hidden widths of the MLP head",
    "loss_kwargs": "extra loss hyperparameters as JSON, e.g. '{\"alpha\": 0.1}'",
    "epochs": "training epochs (the epoch with the best validation mAP is kept)",
    "batch_size": "mini-batch size (pairs and triplets are formed inside a batch)",
    "lr": "Adam learning rate",
    "weight_decay": "Adam weight decay",
    "seed": "random seed (same seed, same codes)",
    "accelerator": "Lightning accelerator: auto, cpu, gpu",
    "devices": "devices (processes) per node; 'auto' for all",
    "num_nodes": "number of machines (nodes)",
    "strategy": "Lightning strategy: auto, ddp, ddp_spawn, ...",
    "precision": "Lightning precision: 32-true, 16-mixed, bf16-mixed",
    "threads": "torch intra-op threads during training (default: torch's choice)",
    "knn_k": "k of the Hamming KNN classifier (thesis: 7)",
    "map_k": "mAP cut-off k; 'all' for the whole database",
    "val_db_size": "training items the validation queries are ranked against during training; 'all' for every item",
}


def _int_or_all(option: str):
    def parse(text: str) -> int | None:
        if text.strip().lower() in {"none", "all"}:
            return None
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} takes a positive integer or 'all', got {text!r}"
            ) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{option} takes a positive integer or 'all', got {text!r}")
        return value

    return parse


def _json_dict(option: str):
    """argparse type for a JSON-object option (:func:`hashlab.errors.json_option`), reported by argparse."""
    from hashlab.errors import UserError, json_option

    def parse(text: str) -> dict:
        try:
            return json_option(text, option)
        except UserError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def _devices(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else int(text)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per setting of :class:`hashlab.settings.ExperimentConfig`, generated from its fields.

    Every option defaults to ``None`` = "the preset's value", so the defaults live only in ``hashlab.settings``.
    """
    from hashlab.losses import available_losses
    from hashlab.settings import FLAT_FIELDS, PRESETS, defaults

    values = defaults()
    for name in FLAT_FIELDS:
        option = "--" + name.replace("_", "-")
        default = values[name]
        kwargs: dict = {"default": None, "dest": name}
        if name == "subsample":
            kwargs.update(type=int, nargs=3, metavar=("TRAIN", "VAL", "TEST"))
        elif name == "hidden":
            kwargs.update(type=int, nargs="+")
        elif name == "loss_kwargs":
            kwargs.update(type=_json_dict(option))
        elif name in ("map_k", "val_db_size"):
            kwargs.update(type=_int_or_all(option))
        elif name == "devices":
            kwargs.update(type=_devices)
        elif name == "method":
            kwargs.update(choices=available_losses())
        elif name == "threads" or isinstance(default, int) and not isinstance(default, bool):
            kwargs.update(type=int)
        elif isinstance(default, float):
            kwargs.update(type=float)
        kwargs["help"] = f"{OPTION_HELP.get(name, name)} (default: {default})"
        parser.add_argument(option, **kwargs)
    parser.add_argument(
        "--preset",
        default="thesis",
        choices=list(PRESETS),
        help="named settings the options above change (default: thesis)",
    )


def config_from_args(args: argparse.Namespace, **extra):
    """The resolved :class:`~hashlab.settings.ExperimentConfig`: the preset, changed by the options given."""
    from hashlab.settings import FLAT_FIELDS, preset

    given = {name: getattr(args, name) for name in FLAT_FIELDS if getattr(args, name, None) is not None}
    for key in ("subsample", "hidden"):
        if key in given:
            given[key] = tuple(given[key])
    given.update(extra)
    return preset(args.preset, **given)


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    _add_config_arguments(parser)
    parser.add_argument("--margin", type=float, default=None, help="margin for losses that have one")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="train once per seed and report mean ± sd (overrides --seed)",
    )
    parser.add_argument(
        "--save", default=None, help="save the trained model to this file (with --seeds: the first)"
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _split_duplicates_line(config) -> str:
    """One line on identical images shared between splits (or why they were not checked)."""
    from hashlab.data import load_dataset, split_duplicates

    try:
        bundle = load_dataset(config.dataset, size=config.size)
    except (FileNotFoundError, OSError, ValueError) as err:
        return f"split duplicates not checked: the images are not on disk ({type(err).__name__})"
    return split_duplicates(bundle).summary()


def _train(args: argparse.Namespace) -> int:
    import numpy as np

    from hashlab.experiment import run
    from hashlab.files import check_output_file

    if args.save is not None:
        check_output_file(args.save, "--save")
    config = config_from_args(args)
    if args.margin is not None:
        config = config.replace(loss_kwargs={**config.loss_kwargs, "margin": args.margin})
    seeds = list(dict.fromkeys(args.seeds)) if args.seeds else [config.seed]
    results = []
    for seed in seeds:
        results.append(run(config.replace(seed=seed), progress=not args.no_progress))
    from hashlab.extraction import is_rank_zero

    if not is_rank_zero():  # under DDP every rank ran the same evaluation; one prints and saves
        return 0
    if args.save:
        results[0].model.save(args.save)
    first = results[0]
    sizes = {split: len(codes) for split, codes in first.codes.items()}
    warnings_seen = list(dict.fromkeys(w for r in results for w in r.warnings))
    duplicates = _split_duplicates_line(config)
    names = list(first.metrics)
    test = {k: [r.metrics[k] for r in results] for k in names}
    val = {k: [r.val_metrics.get(k, float("nan")) for r in results] for k in names}
    if args.json:
        print(
            json.dumps(
                {
                    "config": config.to_dict(),
                    "preset": args.preset,
                    "seeds": seeds,
                    "test": first.metrics if len(seeds) == 1 else test,
                    "val": first.val_metrics if len(seeds) == 1 else val,
                    "sizes": sizes,
                    "best_epoch": [r.best_epoch for r in results] if len(seeds) > 1 else first.best_epoch,
                    "train_seconds": [r.train_seconds for r in results]
                    if len(seeds) > 1
                    else first.train_seconds,
                    "warnings": warnings_seen,
                    "split_duplicates": duplicates,
                }
            )
        )
        return 0
    print("\nresolved configuration (preset " + args.preset + "):")
    print("  " + config.replace(seed=seeds[0]).describe().replace("\n", "\n  "))
    print(
        f"\n{config.method} · {config.bits} bits · {config.dataset}/{config.backbone} · "
        f"database = train ({sizes['train']}), queries = test ({sizes['test']}), "
        f"model selected on val ({sizes['val']}) at epoch {', '.join(str(r.best_epoch) for r in results)}"
        + (f" · seeds {seeds}" if len(seeds) > 1 else "")
    )
    p_k = min(100, sizes["train"])
    map_k = None if config.map_k is None else min(config.map_k, sizes["train"])
    shown = {
        "map": "mAP",
        "map@k": f"mAP@{map_k}",
        "p@k": f"P@{p_k}",
        "p@r2": "P@r<=2",
        "knn_acc": f"KNN acc (k={config.knn_k})",
    }
    spread = len(seeds) > 1
    header = f"{'metric':<18}{'test':>18}{'val':>18}" if spread else f"{'metric':<18}{'test':>10}{'val':>10}"
    print(header + (f"   (mean ± sd over n={len(seeds)} seeds)" if spread else ""))
    for name in names:
        label = shown.get(name, name)
        if spread:
            t, v = np.asarray(test[name]), np.asarray(val[name])
            print(
                f"{label:<18}{t.mean():>10.4f} ± {t.std(ddof=1):.4f}{v.mean():>10.4f} ± {v.std(ddof=1):.4f}"
            )
        else:
            print(f"{label:<18}{test[name][0]:>10.4f}{val[name][0]:>10.4f}")
    seconds = [r.train_seconds for r in results]
    print(f"{'train seconds':<18}{np.mean(seconds):>10.1f}")
    print(duplicates)
    for line in warnings_seen:
        print(f"WARNING: {line}", file=sys.stderr)
    return 0


def _lab(args: argparse.Namespace) -> int:
    from hashlab.jupyter_lab import main as lab_main

    return lab_main(args.jupyter_args)


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

    from hashlab.extraction import add_embed_arguments, run_embed

    embed = sub.add_parser("embed", help="extract embeddings into the cache (Lightning predict, DDP-ready)")
    add_embed_arguments(embed)
    embed.set_defaults(func=run_embed)

    lab = sub.add_parser(
        "lab", help="open the workbench in JupyterLab on a notebook", add_help=False, prefix_chars="\0"
    )  # every argument, options included and in any order, goes to hashlab.jupyter_lab
    lab.add_argument("jupyter_args", nargs="*", help="[NOTEBOOK.ipynb] [jupyter lab options]")
    lab.set_defaults(func=_lab)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lab"]:  # straight to JupyterLab: its options pass through, and torch is not imported
        from hashlab.jupyter_lab import main as lab_main

        return lab_main(argv[1:])
    args = build_parser().parse_args(argv)
    if os.environ.get("HASHLAB_DATA_DIR") and args.command != "lab":
        from hashlab.files import check_output_dir

        check_output_dir(os.environ["HASHLAB_DATA_DIR"], "HASHLAB_DATA_DIR")
    return int(args.func(args) or 0)


def console() -> None:
    """Console-script entry: user errors (``hashlab.errors.USER_ERRORS``) print one ``hashlab: error: ...`` line and
    exit with status 2; Ctrl-C prints one line and exits with 130."""
    from hashlab.errors import run_console

    run_console(main)


if __name__ == "__main__":
    console()
