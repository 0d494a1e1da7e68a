"""Training-data synergy and redundancy: which groups of training rows matter together for a test score?

scikit-learn's digits: 60 groups of 8 training rows (6 groups per digit) plus copies of a few groups (the
same rows again, named "copy of …"), one retraining per mask. Value: the mean probability of the true
labels of held-apart test digits. Pairs are read off the Möbius transform and named in
words, "synergy" (the groups add more together than apart) or "redundancy" (either one does most of the job),
with the rows they hold. The check: every group and its copy should come out redundant. The copies repeat the
groups that hold the test rows' nearest training rows (copies of groups that never matter have nothing to be redundant
about). The estimator is a 3-nearest-neighbour classifier: a copy puts the same rows next to a test point
again, so a group and its copy largely stand in for each other.
"""

from __future__ import annotations

import numpy as np

from .common import ExperimentResult, SharedAnswers, Timer, experiment_config, r2_on, run_methods, test_masks

ROWS_PER_GROUP = 8
GROUPS_PER_CLASS = 6
#: neighbours of the k-nearest-neighbour classifier (a fit is instant, so a run needs no cluster)
NEIGHBOURS = 3
#: digits whose test rows are scored (3 and 8 look alike, so their training groups compete and cooperate)
TEST_DIGITS = (3, 8)
QUICK = {"n_copies": 4, "budget": 400, "methods": ("auto", "lasso", "kernelshap"), "n_test_rows": 10}
FULL = {"n_copies": 6, "budget": 1500, "methods": ("auto", "proxyspex", "spex", "lasso", "kernelshap"),
        "n_test_rows": 20}


def digit_groups(n_copies: int, n_test_rows: int, random_state: int = 0):
    """Training rows, their groups (name -> row indices), test rows; copies repeat groups of the test digits."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(y))
    train_rows: list[int] = []
    groups: dict[str, list[int]] = {}
    for digit in range(10):
        rows = order[y[order] == digit]
        for g in range(GROUPS_PER_CLASS):
            chosen = rows[g * ROWS_PER_GROUP : (g + 1) * ROWS_PER_GROUP]
            groups[f"digit {digit} #{g}"] = list(range(len(train_rows), len(train_rows) + len(chosen)))
            train_rows.extend(chosen.tolist())
    used = set(train_rows)
    test = [i for i in order if i not in used and y[i] in TEST_DIGITS][:n_test_rows]
    originals = _nearest_groups(x[train_rows], x[test], groups, n_copies)
    for name in originals:
        start = len(train_rows)
        train_rows.extend(train_rows[i] for i in groups[name])
        groups[f"copy of {name}"] = list(range(start, len(train_rows)))
    return x[train_rows], y[train_rows], x[test], y[test], groups, originals


def _nearest_groups(x_train: np.ndarray, x_test: np.ndarray, groups: dict[str, list[int]], n: int) -> list[str]:
    """The ``n`` groups holding the most nearest training rows of the test rows (the ones worth copying)."""
    from sklearn.neighbors import NearestNeighbors

    _, nearest = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(x_train).kneighbors(x_test)
    owner = {row: name for name, rows in groups.items() for row in rows}
    counts: dict[str, int] = {}
    for row in nearest.ravel():
        counts[owner[int(row)]] = counts.get(owner[int(row)], 0) + 1
    return sorted(counts, key=lambda name: -counts[name])[:n]


def run(
    quick: bool = True,
    *,
    n_copies: int | None = None,
    budget: int | None = None,
    methods: tuple[str, ...] | None = None,
    n_test_rows: int | None = None,
    random_state: int = 0,
    n_pairs: int = 8,
) -> ExperimentResult:
    from sklearn.neighbors import KNeighborsClassifier

    from ..frontends import DataAttributionValueFunction

    config = experiment_config(
        quick, QUICK, FULL,
        n_copies=n_copies, budget=budget, methods=methods, n_test_rows=n_test_rows
    )
    x, y, x_test, y_test, groups, originals = digit_groups(config["n_copies"], config["n_test_rows"], random_state)
    copies = {frozenset((name, f"copy of {name}")) for name in originals}
    rows, pairs, strongest_synergies = [], [], []
    with Timer() as timer:
        vf = DataAttributionValueFunction(
            KNeighborsClassifier(NEIGHBOURS), x, y, x_test, y_test, groups=groups, score="prob", min_size=NEIGHBOURS
        )
        names = list(vf.feature_names)
        shared = SharedAnswers(vf, vf.n_features)
        masks = test_masks(vf.n_features, 200, random_state)
        values = shared(masks)
        for method, expl in run_methods(shared, config["methods"], config["budget"], random_state=random_state).items():
            top = expl.top(n_pairs, index="mobius", order=2, min_order=2)
            every_pair = expl.top(10**6, index="mobius", order=2, min_order=2)
            pair_terms = {frozenset(t.names): t.value for t in every_pair}
            found = [pair_terms.get(c, 0.0) for c in copies]
            synergies = sorted((t for t in every_pair if t.value > 0), key=lambda t: -t.value)[:n_pairs // 2]
            rows.append({
                "method": method,
                "picked": expl.method,
                "queries": expl.n_queries,
                "r2": r2_on(expl, masks, values),
                "pairs_found": len(pair_terms),
                "synergies": sum(v > 0 for v in pair_terms.values()),
                "copies_redundant": sum(v < 0 for v in found),
                "copies_in_top": sum(frozenset(t.names) in copies for t in top),
                "n_copies": len(copies),
            })
            pairs += [{"method": method, "relation": t.relation, "groups": " + ".join(t.names), "value": t.value,
                       "rows": "; ".join(_rows_of(groups, name) for name in t.names)} for t in top]
            strongest_synergies += [{"method": method, "groups": " + ".join(t.names), "value": t.value,
                                     "rows": "; ".join(_rows_of(groups, name) for name in t.names)}
                                    for t in synergies]
    notes = [
        f"{len(names)} groups ({len(y)} training rows) of sklearn digits, {NEIGHBOURS}-nearest-neighbour "
        f"classifier, test digits {TEST_DIGITS}",
        "copies_redundant: group/copy pairs with a negative pair term (redundancy); copies_in_top: among the "
        f"{n_pairs} strongest pairs; additive methods (lasso, kernelshap) have no pair terms",
        "strongest pairs: " + "; ".join(
            f"{p['method']}: {p['relation']} {p['groups']} ({p['value']:+.3f})" for p in pairs[:6]
        ),
        "strongest synergies: " + "; ".join(
            f"{p['method']}: {p['groups']} ({p['value']:+.3f})" for p in strongest_synergies[: n_pairs // 2]
        ),
    ]
    columns = ["method", "picked", "queries", "r2", "pairs_found", "synergies", "copies_redundant", "copies_in_top",
               "n_copies"]
    plot = {"x": "method", "y": ["r2", "copies_redundant"], "group": "method"}
    extra = {"pairs": pairs, "synergies": strongest_synergies, "plot": plot}
    return ExperimentResult("data", config, rows, columns, notes, extra, timer.seconds)


def _rows_of(groups: dict[str, list[int]], name: str) -> str:
    rows = groups[name]
    return f"{name}: training rows {rows[0]}-{rows[-1]}"
