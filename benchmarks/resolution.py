"""Record-resolution benchmark: the engine (``approval-bridge dedup``) against an exact-key baseline.

For each size, the sandbox generator writes labelled canonical cases (re-entries with typos and blank item
codes, double typing, packages on one day, renewals months later, namesakes, sister companies), then the
command runs in a fresh process; its wall time and peak memory (max RSS) are measured, and both it and the
baseline are scored by pairwise precision, recall and F1 against the ground truth.

    .venv/bin/python benchmarks/resolution.py                  # 20k, 100k and 1M records
    .venv/bin/python benchmarks/resolution.py 20000            # one size
    .venv/bin/python benchmarks/resolution.py --independent    # data from benchmarks/independent_cases.py, a
                                                               # generator written without sight of the sandbox's
    .venv/bin/python benchmarks/resolution.py --hard 20000     # data from benchmarks/hard_cases.py: the hard
                                                               # negatives (packages, change after establishment,
                                                               # cancellations, renewals, namesakes, siblings),
                                                               # scored per shape as well
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resolution.features import prepare  # noqa: E402
from sandbox.canonical import canonical_cases  # noqa: E402
from sandbox.generator import GeneratorConfig, generate  # noqa: E402
from schemas.case import DEDUP_COLUMNS  # noqa: E402

RECORDS_PER_CASE = 2.1  # measured on the generator: packages add cases; department records, re-entries, double typing


def labelled_cases(records: int, seed: int = 11) -> pd.DataFrame:
    days = max(30, min(365, records // 2500))
    per_day = int(records / RECORDS_PER_CASE / days)
    config = GeneratorConfig(
        start=dt.date(2025, 1, 1), days=days, cases_per_day=per_day, seed=seed, undecodable_health_file=False
    )
    return canonical_cases(generate(config))


def pair_scores(records: pd.DataFrame, predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision/recall without listing pairs: count pairs inside (predicted ∩ true) clusters."""

    def pairs(*keys: np.ndarray) -> int:
        sizes = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)}).value_counts().to_numpy()
        return int((sizes * (sizes - 1) // 2).sum())

    both, found, actual = pairs(predicted, truth), pairs(predicted), pairs(truth)
    precision = both / found if found else 1.0
    recall = both / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": actual}


def exact_key_baseline(cases: pd.DataFrame) -> tuple[np.ndarray, float]:
    """What a hand-written rule does: same normalised identifier, same item code, same submission day."""
    started = time.perf_counter()
    features = prepare(cases)
    key = (
        features["id_norm"].fillna("uid:" + features["uid"].astype(str))
        + "|"
        + features["item_key"].fillna("?")
        + "|"
        + features["submitted_date"].astype(str)
    )
    return pd.factorize(key)[0], time.perf_counter() - started


def run_command(input_path: Path, output_path: Path) -> tuple[float, float]:
    command = [
        str(Path(sys.executable).parent / "approval-bridge"),
        "dedup",
        "--input",
        str(input_path),
        "--output",
        str(output_path),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak_kb, before) / 1024


def by_shape(shape: pd.Series, predicted: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """Pairwise precision and recall per shape of case (the generator's tag): recall over the true pairs of cases
    of that shape; precision over the predicted pairs that touch a record of that shape (a false merge of a package
    item with a single case counts against both shapes)."""
    frame = pd.DataFrame({"cluster": pd.factorize(predicted)[0], "truth": truth, "shape": shape.to_numpy()})
    frame["row"] = np.arange(len(frame))
    sizes = frame.groupby("cluster")["row"].transform("size")
    linked = frame[sizes > 1]
    pairs = linked.merge(linked, on="cluster", suffixes=("_l", "_r"))
    pairs = pairs[pairs["row_l"] < pairs["row_r"]]
    pairs = pairs.assign(correct=pairs["truth_l"] == pairs["truth_r"])
    true_sizes = frame.groupby(["truth", "shape"]).size()
    true_pairs = (true_sizes * (true_sizes - 1) // 2).groupby(level="shape").sum()
    rows = []
    for name in sorted(frame["shape"].dropna().unique()):
        touching = pairs[(pairs["shape_l"] == name) | (pairs["shape_r"] == name)]
        found_true = int((touching["correct"] & (touching["shape_l"] == name)).sum())
        rows.append(
            {
                "shape": name,
                "cases": int(frame.loc[frame["shape"] == name, "truth"].nunique()),
                "true_pairs": int(true_pairs.get(name, 0)),
                "predicted_pairs": len(touching),
                "false_merges": int((~touching["correct"]).sum()),
                "precision": touching["correct"].mean() if len(touching) else 1.0,
                "recall": found_true / true_pairs[name] if true_pairs.get(name, 0) else 1.0,
            }
        )
    return pd.DataFrame(rows)


def hard_cases(records: int, seed: int = 17) -> pd.DataFrame:
    """Labelled cases with a shape per case from ``benchmarks/hard_cases.py`` (written without sight of the
    engine): packages, change after establishment, cancellations, renewals, namesakes, siblings."""
    return generated_cases("hard_cases.py", records, seed)


def independent_cases(records: int, seed: int = 3) -> pd.DataFrame:
    """Labelled cases from the independently written generator (its own systems, items, codes and typos)."""
    return generated_cases("independent_cases.py", records, seed)


def generated_cases(script: str, records: int, seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, truth_path = Path(tmp) / "cases.csv", Path(tmp) / "truth.csv"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / script),
                "--records",
                str(records),
                "--seed",
                str(seed),
                "--output",
                str(cases_path),
                "--truth",
                str(truth_path),
            ],
            check=True,
            capture_output=True,
        )
        cases = pd.read_csv(cases_path, dtype=str, keep_default_na=False)
        truth = pd.read_csv(truth_path, dtype=str)
    return cases.merge(truth, on=["source_system", "source_record_id"])


def benchmark(records: int, data: str = "sandbox") -> tuple[list[dict], pd.DataFrame | None]:
    cases = {"independent": independent_cases, "hard": hard_cases, "sandbox": labelled_cases}[data](records)
    with tempfile.TemporaryDirectory() as tmp:
        input_path, output_path = Path(tmp) / "cases.csv", Path(tmp) / "clusters.csv"
        cases[list(DEDUP_COLUMNS)].to_csv(input_path, index=False)
        seconds, peak_mb = run_command(input_path, output_path)
        clusters = pd.read_csv(output_path, dtype=str)
    assert len(clusters) == len(cases), "the command dropped rows"
    truth = cases["true_case_id"].to_numpy()
    engine = pair_scores(cases, clusters["cluster_id"].to_numpy(), truth)
    baseline_clusters, baseline_seconds = exact_key_baseline(cases)
    baseline = pair_scores(cases, baseline_clusters, truth)
    shapes = None
    if "shape" in cases:
        shapes = by_shape(cases["shape"], clusters["cluster_id"].to_numpy(), truth).assign(records=len(cases))
    return [
        {
            "data": data,
            "records": len(cases),
            "method": "engine (dedup command)",
            **engine,
            "seconds": seconds,
            "peak_mb": peak_mb,
        },
        {
            "data": data,
            "records": len(cases),
            "method": "exact-key baseline",
            **baseline,
            "seconds": baseline_seconds,
            "peak_mb": float("nan"),
        },
    ], shapes


def main(argv: list[str]) -> None:
    data = "hard" if "--hard" in argv else "independent" if "--independent" in argv else "sandbox"
    sizes = [int(a) for a in argv if a.isdigit()] or [20_000, 100_000, 1_000_000]
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    rows, shapes = [], []
    for size in sizes:
        found, per_shape = benchmark(size, data)
        rows.extend(found)
        if per_shape is not None:
            shapes.append(per_shape)
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
        if shapes:
            print("\nby shape of case (engine):")
            print(pd.concat(shapes).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
