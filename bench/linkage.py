"""Benchmark: identity resolution of 100,000 records without identifiers, against the
generator's known truth.

    .venv/bin/python bench/linkage.py [--records 100000] [--repeat 3] [--seed 7]
                                      [--model FILE | --train]

The synthetic registry knows ``records // 2`` people; 100,000 noisy records arrive about
them and about people it does not know (``trustledger.synth.linkage``: pinyin for
characters, Western name order, typos, swapped day and month, missing fields, moved
addresses, changed phones). Each method runs in a fresh process (so its peak memory is its
own), ``--repeat`` times:

* baseline: a record is attached when its name (as written) and birth date equal exactly
  one registered person's; other records sharing name and birth date make one new person;
* resolver: what ingestion runs (``trustledger.resolve.match.plan``): the Splink model
  (the one shipped with trustledger unless ``--model`` or ``--train``), the policy's
  default thresholds unless ``--accept`` / ``--review``.

Printed for each: precision and recall of the records attached to a registered person
(a record sent to review counts as not attached), pairwise precision and recall of the
whole clustering (registered people and records; pairs of records of the same new person
count), the size of the review queue and how often its candidate was right, seconds and
peak memory (medians). Goal (issue #4): precision at least 0.99, recall at least 0.95.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _metrics(data: Any, assigned: list[tuple[str, str]], review: dict[int, str]) -> dict[str, Any]:
    """``assigned[i]``: ("S", person key) when record i is attached to a registered
    person, ("G", group) when it makes or joins a new subject."""
    registered = {p.key for p in data.registered}
    truths = [r.truth for r in data.records]
    attached = [(i, key) for i, (how, key) in enumerate(assigned) if how == "S"]
    correct = sum(1 for i, key in attached if truths[i] == key)
    of_registered = sum(1 for t in truths if t in registered)
    # Pairwise over registered people and records: predicted cluster vs true person.
    pred = [f"S{p.key}" for p in data.registered] + [f"{h}{k}" for h, k in assigned]
    true = [p.key for p in data.registered] + truths
    cells = Counter(zip(pred, true, strict=True))

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    tp, predicted, actual = pairs(cells), pairs(Counter(pred)), pairs(Counter(true))
    right_candidate = sum(1 for i, key in review.items() if truths[i] == key)
    return {
        "attached": len(attached),
        "wrong": len(attached) - correct,
        "attach_precision": correct / len(attached) if attached else 1.0,
        "attach_recall": correct / of_registered if of_registered else 1.0,
        "pair_precision": tp / predicted if predicted else 1.0,
        "pair_recall": tp / actual if actual else 1.0,
        "review": len(review),
        "review_right": right_candidate,
        "new_subjects": len({k for h, k in assigned if h == "G"}),
    }


def child(
    method: str,
    records: int,
    seed: int,
    model_path: str | None,
    train: bool,
    accept: float | None,
    review_w: float | None,
) -> dict[str, Any]:
    from trustledger.policy.schema import IdentitySettings
    from trustledger.synth.linkage import generate_linkage, match_inputs

    data = generate_linkage(records, seed=seed)
    t0 = time.perf_counter()
    review: dict[int, str] = {}
    extra: dict[str, Any] = {}
    if method == "baseline":
        index: dict[tuple[str, Any], list[str]] = {}
        for p in data.registered:
            index.setdefault((p.name, p.birth_date), []).append(p.key)
        assigned: list[tuple[str, str]] = []
        for n, r in enumerate(data.records):
            hits = index.get((r.name, r.birth_date), []) if r.birth_date else []
            if len(hits) == 1:
                assigned.append(("S", hits[0]))
            elif r.birth_date:
                assigned.append(("G", f"{r.name}|{r.birth_date}"))
            else:
                assigned.append(("G", f"#{n}"))
    else:
        from trustledger.resolve.match import plan
        from trustledger.resolve.model import MatchModel, as_table, default_model, train_model

        known, incoming = match_inputs(data)
        if train:
            t_train = time.perf_counter()
            body = train_model(
                as_table([m.row() for m in known + incoming]),
                now=datetime.now(UTC),
                seed=seed,
            )
            model = MatchModel(body)
            extra["train_seconds"] = time.perf_counter() - t_train
        elif model_path:
            model = MatchModel(Path(model_path).read_text("utf-8"), filename=model_path)
        else:
            model = default_model()
        defaults = IdentitySettings()
        keys = [p.key for p in data.registered]
        subject_of = {f"p{n}": n for n in range(len(keys))}
        planned = plan(
            model,
            known,
            incoming,
            subject_of=subject_of,
            accept=accept if accept is not None else defaults.accept_match_weight,
            review=review_w if review_w is not None else defaults.review_match_weight,
        )
        assigned = []
        for n in range(len(data.records)):
            p = planned[f"c{n}"]
            if p.outcome == "accepted":
                assert p.subject_id is not None
                assigned.append(("S", keys[p.subject_id]))
            else:
                assigned.append(("G", str(p.group)))
                if p.outcome == "review":
                    assert p.candidate_subject_id is not None
                    review[n] = keys[p.candidate_subject_id]
        extra["model"] = model.sha256[:16]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**_metrics(data, assigned, review), **extra, "seconds": seconds, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="a model file (default: the one shipped)")
    parser.add_argument("--train", action="store_true", help="train on the bench's records")
    parser.add_argument("--accept", type=float, help="accept_match_weight")
    parser.add_argument("--review", type=float, help="review_match_weight")
    parser.add_argument("--child", choices=("baseline", "resolver"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = child(
            args.child, args.records, args.seed, args.model, args.train, args.accept, args.review
        )
        print(json.dumps(out))
        return
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "resolver": []}
    for _ in range(args.repeat):
        for method in runs:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                method,
                "--records",
                str(args.records),
                "--seed",
                str(args.seed),
            ]
            for flag, value in (
                ("--model", args.model),
                ("--accept", args.accept),
                ("--review", args.review),
            ):
                if value is not None:
                    cmd += [flag, str(value)]
            if args.train:
                cmd.append("--train")
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            runs[method].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"{args.records:,} records without identifiers, {args.records // 2:,} registered "
        f"people, seed {args.seed}; medians of {args.repeat} run(s), each in a fresh process"
    )
    print(
        f"{'method':<10} {'attached':>9} {'wrong':>6} {'attach P':>9} {'attach R':>9} "
        f"{'pair P':>8} {'pair R':>8} {'review':>7} {'(right)':>8} {'seconds':>8} {'peak MB':>8}"
    )
    for method, results in runs.items():
        med = {k: statistics.median(r[k] for r in results) for k in ("seconds", "peak_mb")}
        r = results[0]  # the figures other than time and memory do not vary between runs
        print(
            f"{method:<10} {r['attached']:>9,} {r['wrong']:>6,} {r['attach_precision']:>9.5f} "
            f"{r['attach_recall']:>9.4f} {r['pair_precision']:>8.5f} {r['pair_recall']:>8.4f} "
            f"{r['review']:>7,} {r['review_right']:>8,} {med['seconds']:>8.1f} "
            f"{med['peak_mb']:>8.0f}"
        )
        if "train_seconds" in r:
            print(f"           (training on the bench's records took {r['train_seconds']:.1f} s)")
    base, res = runs["baseline"][0], runs["resolver"][0]
    ratio = statistics.median(r["seconds"] for r in runs["resolver"]) / max(
        statistics.median(r["seconds"] for r in runs["baseline"]), 1e-9
    )
    print(
        f"resolver / baseline: {ratio:,.0f}x the time; attach recall "
        f"{res['attach_recall']:.4f} vs {base['attach_recall']:.4f}"
    )
    goal = res["attach_precision"] >= 0.99 and res["attach_recall"] >= 0.95
    print(f"goal (precision >= 0.99, recall >= 0.95): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
