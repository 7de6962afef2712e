"""Command line: python -m scoring {demo-data, validate, train, compare, promote, model-card,
score, batch, drift, info, profile}.

Installed by `make install` / `make demo` as the `scoring` command too (pyproject.toml).

Every command validates its inputs first and writes nothing when they are wrong: a clear
one-line error on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoring.errors import ScoringError
from scoring.wording import LANGS

if TYPE_CHECKING:
    from scoring.metadata import BundleMetadata

EXIT_INPUT_ERROR = 2
DEFAULT_CANDIDATES = ("lightgbm", "scorecard", "blend")  # scoring.selection's, without its imports


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

    from scoring.assemble import assemble_bundle
    from scoring.bundle import save_bundle
    from scoring.cost import CostWeights
    from scoring.data import fingerprint, load_tables
    from scoring.selection import servable, train_default
    from scoring.train import TrainConfig

    candidates = servable(args.candidates)  # an unknown name fails before any work
    tables = load_tables(args.data, require_train=True, require_test=False)
    assert tables.train is not None  # load_tables enforces it; narrows the type  # nosec B101
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
        total=config.folds + 1,
        desc="train (compare folds, CV + final)",
        disable=args.quiet,
        file=sys.stderr,
    ) as bar:

        def retotal(fits: int) -> None:  # the comparison's fits, then the final training
            bar.total = fits + config.folds + 1
            bar.refresh()

        result, comparison = train_default(
            tables.train, tables.aux, config, candidates, bar.update, retotal
        )
    bundle = assemble_bundle(
        result, config, fingerprint(tables.train, tables.aux), args.reference_rows
    )
    save_bundle(bundle, args.out)
    if not args.no_mlflow:
        from scoring.bundle import write_registry
        from scoring.tracking import track, tracking_uri

        tracked = track(args.out, bundle.metadata)
        if tracked is not None and tracked.version is not None:
            write_registry(args.out, tracked.record(tracking_uri()))
            print(f"registered: {tracked.name} version {tracked.version}", file=sys.stderr)
    print(json.dumps(_summary(bundle.metadata), indent=1))
    print(f"default: {comparison.choice.default} ({comparison.choice.reason})", file=sys.stderr)
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


def _summary(metadata: BundleMetadata) -> dict[str, Any]:
    return {
        "version": metadata.version,
        "threshold": round(metadata.threshold, 4),
        "metrics": {k: round(v, 4) for k, v in metadata.metrics.model_dump().items()},
        "rows": metadata.data.rows,
        "features": metadata.data.features,
        "refer": metadata.refer.model_dump(),
    }


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {value}")
    return value


def cmd_compare(args: argparse.Namespace) -> int:
    import os
    import platform
    from datetime import UTC, datetime

    from tqdm import tqdm

    from scoring.candidates import FitContext
    from scoring.compare import CompareOptions, compare, selected
    from scoring.compare_report import write_report
    from scoring.cost import CostWeights
    from scoring.data import TRAIN_TABLE, find_table_files, fingerprint, load_tables
    from scoring.errors import DataValidationError
    from scoring.fairness import sensitive_groups
    from scoring.features import FeatureBuilder
    from scoring.schema import TARGET
    from scoring.train import TrainConfig

    if args.out.exists() and not args.out.is_dir():
        raise DataValidationError(str(args.out), None, "--out must be a folder")
    candidates = selected(args.models or ())  # an unknown name fails before any work
    tables = load_tables(args.data, require_train=True, require_test=False)
    assert tables.train is not None  # load_tables enforces it; narrows the type  # nosec B101
    y = tables.train[TARGET].to_numpy(dtype="int64")
    smaller = int(min(y.sum(), len(y) - y.sum()))
    if smaller < args.folds:
        raise DataValidationError(
            str(find_table_files(args.data)[TRAIN_TABLE]), TARGET,
            f"{args.folds} folds need at least {args.folds} rows of each class, got {smaller}",
        )  # fmt: skip
    weights = CostWeights(fn=args.fn_cost, fp=args.fp_cost)
    config = TrainConfig(
        folds=args.folds,
        seed=args.seed,
        n_estimators=args.n_estimators,
        weights=weights,
        threads=args.threads,
    )
    options = CompareOptions(
        folds=args.folds,
        seed=args.seed,
        models=tuple(args.models or ()),
        weights=weights,
        context=FitContext(config, trials=args.trials, inner_folds=args.inner_folds),
    )
    builder = FeatureBuilder().fit(tables.train, tables.aux)
    X = builder.transform(tables.train, tables.aux)
    with tqdm(
        total=len(candidates) * args.folds,
        desc="compare (models x folds)",
        disable=args.quiet,
        file=sys.stderr,
    ) as bar:

        def retotal(total: int) -> None:
            bar.total = total
            bar.refresh()

        comparison = compare(
            X, y, builder.categorical_features, builder.sources(),
            sensitive_groups(tables.train), options, bar.update, retotal,
        )  # fmt: skip
    comparison.meta = {
        "rows": len(y),
        "defaults": int(y.sum()),
        "features": X.shape[1],
        "folds": args.folds,
        "seed": args.seed,
        "trials": args.trials,
        "inner_folds": args.inner_folds,
        "fn_cost": weights.fn,
        "fp_cost": weights.fp,
        "fingerprint": fingerprint(tables.train, tables.aux),
        "command": "python -m scoring " + " ".join(args.argv),
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }
    for path in write_report(comparison, args.out, weights):
        print(path)
    print(f"winner: {comparison.choice.winner}; default: {comparison.choice.default}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import pandas as pd

    from scoring.batch import score_clients
    from scoring.clients import ClientBase
    from scoring.decision import decide_all, missing_key_counts
    from scoring.model import ScoringModel
    from scoring.reasons import reasons

    model = ScoringModel.load(args.bundle)
    features = ClientBase.load(args.data, model.builder).features()
    scores = score_clients(model, features, args.cache_dir)
    values = features.to_numpy(dtype="float64")
    counts = missing_key_counts(values, model.feature_names, model.policy)
    verdicts = decide_all(scores.probability, model.threshold, model.policy, counts)
    out = pd.DataFrame(
        {
            "SK_ID_CURR": scores.ids,
            "probability": scores.probability,
            "decision": verdicts.decision,
            "decision_reason": verdicts.reason,
            "missing_key_features": counts,
            "threshold": model.threshold,
            "model_version": model.version,
        }
    )
    if args.reasons:
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
    referred = int((out["decision"] == "refer").sum())
    print(f"{len(out)} clients scored ({refused} refused, {referred} referred) -> {args.out}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from scoring.tracking import CHAMPION, REGISTERED_MODEL, promote

    promote(args.version, args.tracking_uri, args.alias)
    print(f"{REGISTERED_MODEL} version {args.version} is now @{args.alias}")
    if args.alias == CHAMPION:
        print(f"serve it with SCORING_MODEL_URI=models:/{REGISTERED_MODEL}@{CHAMPION}")
    return 0


def cmd_model_card(args: argparse.Namespace) -> int:
    from scoring.bundle import load_bundle
    from scoring.card_doc import render, source

    src = source(load_bundle(args.bundle), args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = args.out.with_suffix(".json")
    data.write_text(json.dumps(src, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.write_text(render(src), encoding="utf-8")
    print(args.out)
    print(data)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from scoring.portfolio import BatchOptions, run_pandas

    options = BatchOptions(
        explain_top=args.explain_top,
        chunk_rows=args.chunk_rows,
        threads=args.threads,
        progress=not args.quiet,
        spark_io=args.spark_io,
    )
    if args.engine == "spark":
        from scoring.portfolio_spark import run_spark

        summary = run_spark(args.bundle, args.input, args.out, options, args.master)
    else:
        from scoring.allocator import bound_allocators

        # the process's allocators, set by the process: what a chunk frees goes back to the
        # system, so memory stays flat as rows grow (docs/batch.md)
        bound_allocators()
        summary = run_pandas(args.bundle, args.input, args.out, options)
    print(
        f"{summary.scored} applications scored ({summary.refused} refused), "
        f"{summary.rejected} rejected -> {summary.scores} (rejects: {summary.rejects})"
    )
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from scoring.bundle import load_bundle
    from scoring.clients import ClientBase
    from scoring.drift import compare, reference_features
    from scoring.drift_report import write_drift
    from scoring.errors import DataValidationError

    if args.out.exists() and not args.out.is_dir():
        raise DataValidationError(str(args.out), None, "--out must be a folder")
    bundle = load_bundle(args.bundle)
    names = bundle.builder.feature_names
    reference = reference_features(bundle.reference, names, args.reference_rows)
    # the model's own feature path: the applications become exactly what the model would see
    current = ClientBase.load(args.current, bundle.builder).features().reset_index(drop=True)
    categorical = {f.name for f in bundle.metadata.features if f.dtype == "category"}
    report = compare(reference, current, categorical)
    context = {
        "model_version": bundle.metadata.version,
        "current": str(args.current),
        "computed_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    for path in write_drift(report, reference, current, args.out, context):
        print(path)
    verdict = "dataset drift" if report.dataset_drift else "no dataset drift"
    print(
        f"{verdict}: {len(report.drifted)} of {report.tested} features drifted "
        f"({100 * report.share_drifted:.1f} %)"
        + (f": {', '.join(report.drifted[:10])}" if report.drifted else "")
    )
    return 0


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


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


def _add_cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fn-cost", type=_positive_float, default=10.0, help="cost of a missed default"
    )
    parser.add_argument(
        "--fp-cost", type=_positive_float, default=1.0, help="cost of a refused good client"
    )


def build_parser(prog: str = "python -m scoring") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
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
    _add_cost_options(train)
    train.add_argument("--class-weight", choices=["none", "balanced"], default="none")
    train.add_argument("--tune", action="store_true", help="Optuna search before training")
    train.add_argument("--trials", type=_positive_int, default=20)
    train.add_argument(
        "--reference-rows",
        type=_positive_int,
        default=100_000,
        help="rows kept in the bundle for distributions and neighbours",
    )
    train.add_argument(
        "--candidates",
        nargs="+",
        metavar="MODEL",
        default=list(DEFAULT_CANDIDATES),
        help="servable models compared on the folds; the winner rule picks the one trained "
        "(lightgbm, the incumbent, always runs)",
    )
    train.add_argument("--no-mlflow", action="store_true", help="skip MLflow tracking")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    comp = commands.add_parser(
        "compare", help="compare candidate models on the same folds, choose the default"
    )
    comp.add_argument("--data", type=Path, required=True, help="folder with application_train")
    comp.add_argument("--out", type=Path, required=True, help="folder for the report files")
    comp.add_argument("--folds", type=_at_least_two, default=5)
    comp.add_argument("--seed", type=int, default=0)
    comp.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="candidates to compare (default: all; lightgbm, the incumbent, always runs)",
    )
    comp.add_argument("--trials", type=_positive_int, default=10, help="Optuna trials (tuned)")
    comp.add_argument(
        "--inner-folds", type=_at_least_two, default=3, help="folds inside a training fold"
    )
    comp.add_argument("--n-estimators", type=_positive_int, default=2000)
    _add_cost_options(comp)
    comp.add_argument(
        "--threads",
        type=int,
        default=1,
        help="LightGBM threads per fit (0 = all cores; 1 is fastest on a few thousand rows)",
    )
    comp.add_argument("--quiet", action="store_true", help="no progress bar")
    comp.set_defaults(func=cmd_compare)

    score = commands.add_parser("score", help="batch-score and explain new clients")
    score.add_argument("--bundle", type=Path, required=True)
    score.add_argument("--data", type=Path, required=True, help="application_test file or folder")
    score.add_argument("--out", type=Path, required=True, help=".csv or .parquet")
    score.add_argument("--cache-dir", type=Path, default=Path("var/cache"))
    score.add_argument("--reasons", action="store_true", help="add plain-language reasons")
    score.add_argument("--lang", choices=LANGS, default="en")
    score.set_defaults(func=cmd_score)

    prom = commands.add_parser("promote", help="mark a registered model version as champion")
    prom.add_argument("--version", type=_positive_int, required=True, help="registry version")
    prom.add_argument("--alias", default="champion", help="alias to set (default champion)")
    prom.add_argument(
        "--tracking-uri", default=None, help="MLflow URI (default MLFLOW_TRACKING_URI or mlruns)"
    )
    prom.set_defaults(func=cmd_promote)

    mc = commands.add_parser("model-card", help="write the model card document of a bundle")
    mc.add_argument("--bundle", type=Path, required=True)
    mc.add_argument(
        "--out", type=Path, default=Path("docs/model-card.md"), help="Markdown (+ .json beside)"
    )
    mc.add_argument("--note", default="", help="how the bundle was trained (shown at the top)")
    mc.set_defaults(func=cmd_model_card)

    batch = commands.add_parser(
        "batch", help="score a portfolio of raw applications into Parquet (pandas or Spark)"
    )
    batch.add_argument("--bundle", type=Path, required=True)
    batch.add_argument(
        "--input", type=Path, required=True,
        help="applications file (CSV/Parquet) or a folder with them and their auxiliary tables",
    )  # fmt: skip
    batch.add_argument("--out", type=Path, required=True, help="folder: scores/ and rejects/")
    batch.add_argument("--engine", choices=["pandas", "spark"], default="pandas")
    batch.add_argument(
        "--explain-top", type=_non_negative_int, default=0, help="top-K SHAP reasons per client"
    )
    batch.add_argument("--master", default=None, help="Spark master (default: the active session)")
    batch.add_argument(
        "--spark-io", choices=["workers", "spark"], default="workers",
        help="who reads a Parquet input and writes the results: the Python workers (paths every "
        "executor sees) or Spark",
    )  # fmt: skip
    batch.add_argument("--chunk-rows", type=_positive_int, default=50_000, help="rows per chunk")
    batch.add_argument("--threads", type=_positive_int, default=1, help="LightGBM threads (pandas)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(func=cmd_batch)

    drift = commands.add_parser(
        "drift", help="compare applications with the bundle's training reference (data drift)"
    )
    drift.add_argument("--bundle", type=Path, required=True)
    drift.add_argument(
        "--current", type=Path, required=True,
        help="applications file (CSV/Parquet) or a folder with them and their auxiliary tables",
    )  # fmt: skip
    drift.add_argument("--out", type=Path, required=True, help="folder: drift.json, drift.html")
    drift.add_argument(
        "--reference-rows",
        type=_positive_int,
        default=5000,
        help="reference rows compared with (a fixed sample of the bundle's reference)",
    )
    drift.set_defaults(func=cmd_drift)

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


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m scoring") -> int:
    args = build_parser(prog).parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in reports
    # OpenMP threads that spin while waiting for work took training from ~30 s to 2.5-13 min on
    # a busy 2-core machine (measured, bench/results/training.md); sleeping waits cost little on
    # an idle one. Set before LightGBM loads (the commands import it lazily); a user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def console() -> int:
    """The `scoring` console command ([project.scripts]): `python -m scoring` by another name."""
    return main(prog="scoring")
