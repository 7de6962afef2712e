"""Command line: python -m scoring {demo-data, validate, train, score, info, profile}.

Every command validates its inputs first and writes nothing when they are wrong: a clear
one-line error on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scoring.errors import ScoringError

EXIT_INPUT_ERROR = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def cmd_demo_data(args: argparse.Namespace) -> int:
    from scoring.demo_data import write_demo

    paths = write_demo(
        args.out, rows=args.rows, seed=args.seed, test_rows=args.test_rows, fmt=args.format
    )
    for path in paths:
        print(path)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from scoring.data import load_tables

    tables = load_tables(args.data, require_train=not args.test_only)
    for name, frame in [
        ("application_train", tables.train),
        ("application_test", tables.test),
        *tables.aux.items(),
    ]:
        if frame is not None:
            print(f"{name}: {len(frame)} rows x {frame.shape[1]} columns, valid")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from scoring.bundle import save_bundle
    from scoring.cost import CostWeights
    from scoring.data import fingerprint, load_tables
    from scoring.pipeline import build_bundle
    from scoring.train import TrainConfig, train_model

    tables = load_tables(args.data, require_train=True, require_test=False)
    assert tables.train is not None
    config = TrainConfig(
        folds=args.folds,
        seed=args.seed,
        n_estimators=args.n_estimators,
        class_weight=args.class_weight,
        weights=CostWeights(fn=args.fn_cost, fp=args.fp_cost),
    )
    if args.tune:
        config = _tuned(config, tables, args.trials, args.quiet)
    with tqdm(
        total=config.folds + 1, desc="train (CV folds + final)", disable=args.quiet, file=sys.stderr
    ) as bar:
        result = train_model(tables.train, tables.aux, config, progress=bar.update)
    bundle = build_bundle(
        result, config, fingerprint(tables.train, tables.aux), args.reference_rows
    )
    save_bundle(bundle, args.out)
    if not args.no_mlflow:
        from scoring.tracking import log_run

        log_run(args.out, bundle.metadata)
    print(json.dumps(_summary(bundle.metadata), indent=1))
    return 0


def _tuned(config: Any, tables: Any, trials: int, quiet: bool) -> Any:
    from dataclasses import replace

    from tqdm import tqdm

    from scoring.features import FeatureBuilder
    from scoring.schema import TARGET
    from scoring.tune import tune

    builder = FeatureBuilder().fit(tables.train, tables.aux)
    X = builder.transform(tables.train, tables.aux)
    y = tables.train[TARGET].to_numpy(dtype="int64")
    with tqdm(total=trials, desc="tune (trials)", disable=quiet, file=sys.stderr) as bar:
        params = tune(X, y, builder.categorical_features, config, trials, on_trial=bar.update)
    return replace(config, params=params)


def _summary(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": metadata["version"],
        "threshold": round(metadata["threshold"], 4),
        "metrics": {k: round(v, 4) for k, v in metadata["metrics"].items()},
        "rows": metadata["data"]["rows"],
        "features": metadata["data"]["features"],
    }


def cmd_score(args: argparse.Namespace) -> int:
    import pandas as pd

    from scoring.batch import score_clients
    from scoring.clients import load_client_tables
    from scoring.model import ScoringModel
    from scoring.reasons import reasons

    model = ScoringModel.load(args.bundle)
    tables = load_client_tables(args.data)
    assert tables.test is not None
    features = model.transform(tables.test, tables.aux)
    scores = score_clients(model, features, args.cache_dir)
    out = pd.DataFrame(
        {
            "SK_ID_CURR": scores.ids,
            "probability": scores.probability,
            "decision": ["refuse" if p >= model.threshold else "grant" for p in scores.probability],
            "threshold": model.threshold,
            "model_version": model.version,
        }
    )
    if args.reasons:
        values = features.to_numpy(dtype="float64")
        texts = [
            reasons(
                model.explanation_from(values[i], scores.shap[i], scores.base_value),
                model,
                args.lang,
            )
            for i in range(len(out))
        ]
        out["reasons_against"] = [" | ".join(t["against"]) for t in texts]
        out["reasons_for"] = [" | ".join(t["for"]) for t in texts]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".parquet":
        out.to_parquet(args.out, index=False)
    else:
        out.to_csv(args.out, index=False)
    refused = int((out["decision"] == "refuse").sum())
    print(f"{len(out)} clients scored ({refused} refused) -> {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from scoring.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    print(json.dumps(_summary(bundle.metadata), indent=1))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    if args.aux is not None:
        from scoring.aux_profile import write_aux_profile

        print(write_aux_profile(args.aux, args.out))
        return 0
    from scoring.profile import write_profile

    print(write_profile(args.data, args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo-data", help="write Home-Credit-shaped demo tables")
    demo.add_argument("--out", type=Path, required=True, help="folder to write into")
    demo.add_argument("--rows", type=_positive_int, default=20_000, help="training rows")
    demo.add_argument("--test-rows", type=_positive_int, default=None, help="new clients (rows/5)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    demo.set_defaults(func=cmd_demo_data)

    validate = commands.add_parser("validate", help="check a data folder against the schema")
    validate.add_argument("--data", type=Path, required=True)
    validate.add_argument("--test-only", action="store_true", help="no application_train needed")
    validate.set_defaults(func=cmd_validate)

    train = commands.add_parser("train", help="cross-validate, pick the threshold, write a bundle")
    train.add_argument("--data", type=Path, required=True, help="folder with application_train")
    train.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    train.add_argument("--folds", type=_positive_int, default=5)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--n-estimators",
        type=_positive_int,
        default=2000,
        help="maximum boosting rounds (early stopping picks fewer)",
    )
    train.add_argument(
        "--fn-cost", type=_positive_float, default=10.0, help="cost of a missed default"
    )
    train.add_argument(
        "--fp-cost", type=_positive_float, default=1.0, help="cost of a refused good client"
    )
    train.add_argument("--class-weight", choices=["none", "balanced"], default="none")
    train.add_argument("--tune", action="store_true", help="Optuna search before training")
    train.add_argument("--trials", type=_positive_int, default=20)
    train.add_argument(
        "--reference-rows",
        type=_positive_int,
        default=100_000,
        help="rows kept in the bundle for distributions and neighbours",
    )
    train.add_argument("--no-mlflow", action="store_true", help="skip MLflow tracking")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    score = commands.add_parser("score", help="batch-score and explain new clients")
    score.add_argument("--bundle", type=Path, required=True)
    score.add_argument("--data", type=Path, required=True, help="application_test file or folder")
    score.add_argument("--out", type=Path, required=True, help=".csv or .parquet")
    score.add_argument("--cache-dir", type=Path, default=Path("var/cache"))
    score.add_argument("--reasons", action="store_true", help="add plain-language reasons")
    score.add_argument("--lang", choices=["en", "fr"], default="en")
    score.set_defaults(func=cmd_score)

    info = commands.add_parser("info", help="check a bundle and print its summary")
    info.add_argument("--bundle", type=Path, required=True)
    info.set_defaults(func=cmd_info)

    profile = commands.add_parser("profile", help="rebuild a demo-data profile from real data")
    source = profile.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="real application sample folder")
    source.add_argument("--aux", type=Path, help="real auxiliary sample folder (aux_sample)")
    profile.add_argument("--out", type=Path, required=True, help="profile JSON to write")
    profile.set_defaults(func=cmd_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
