"""Clusters of linked records that never hold two records which cannot be one case (cannot-link constraints).

Connected components of the links would chain: a clerk's re-entry with a blank item code links to a company's
establishment registration and to its change registration nine days later, and the two become one case. Here
links are taken strongest first, and a link whose two clusters together would break a constraint is not taken
(it is *rejected*, with the constraint's name). Only components that break a constraint are walked link by link;
every other component is final as it is, so the Python loop runs over a small share of the links.

A constraint is a property of two records, not of a score:

- ``different_items``: two different catalogue items (aliases of one item are one item);
- ``different_item_codes``: one system filed them under two codes that no learned spelling class joins;
- ``different_actions``: the names state different actions (设立 / 变更 / 延续 / 注销 / 补办);
- ``different_identifiers``: two valid identifiers of one kind (a check character catches every single typo);
- ``outside_window``: submitted further apart than the case window;
- ``reviewer_different``: a reviewer said the two are different cases.

All states of one source record (it changed between pulls) are one node, described by its newest state.
A reviewer's ``same`` is taken first and outranks the identifier and window constraints (a person looked at
both records); it never joins two items, or two cases a reviewer kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: What a constraint compares between two records, in the order :func:`_clash` unpacks them.
FACTS = (
    "item_known_key",
    "source_system",
    "item_code_id",
    "item_class",
    "item_action",
    "id_norm",
    "id_valid",
    "id_kind",
    "submitted_date",
)
#: Node attributes, from the features table: the facts and the record's key.
ATTRIBUTES = ("source_record_id", *FACTS)
#: Constraints a reviewer's ``same`` cannot override.
ITEM_CONSTRAINTS = ("different_items", "different_item_codes", "different_actions", "reviewer_different")
CONSTRAINTS = {
    "different_items": "two different catalogue items",
    "different_item_codes": "one system, two item codes",
    "different_actions": "different actions (设立/变更/延续/注销/补办)",
    "different_identifiers": "two different valid identifiers of one kind",
    "outside_window": "submitted further apart than the case window",
    "reviewer_different": "a reviewer said these are different cases",
}


@dataclass
class Clustering:
    cluster: np.ndarray  # cluster number per input row
    rejected: pd.DataFrame  # uid_l, uid_r, match_probability, constraint: links not taken, and why


def pair_conflicts(pairs: pd.DataFrame, nodes: pd.DataFrame, window_days: int) -> pd.Series:
    """Per pair (uid_l, uid_r), the first constraint the two records break, or NA: vectorised, for scored pairs.
    Values are compared as integer codes per column (one factorisation of the nodes), never as strings per pair."""
    left, right = pairs["uid_l"].to_numpy(), pairs["uid_r"].to_numpy()
    checks = _pair_checks(_codes(nodes), left, right, window_days)
    reason = np.full(len(pairs), None, dtype=object)
    for name, broken in reversed(list(checks.items())):
        reason[broken] = name
    return pd.Series(pd.array(reason, dtype="string"), index=pairs.index)


def _codes(nodes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per node column a constraint compares: equal values share a code, missing is -1; dates as day numbers."""
    codes = {c: pd.factorize(nodes[c])[0] for c in ("item_known_key", "item_code_id", "item_class", "item_action")}
    codes |= {c: pd.factorize(nodes[c])[0] for c in ("source_system", "id_norm", "id_kind")}
    codes["id_valid"] = nodes["id_valid"].fillna(False).to_numpy(bool)
    dates = nodes["submitted_date"]
    codes["day"] = np.where(dates.isna(), np.nan, dates.to_numpy("datetime64[D]").astype("int64").astype(float))
    return codes


def _pair_checks(codes: dict[str, np.ndarray], left: np.ndarray, right: np.ndarray, window_days: int) -> dict:
    def both(column: str) -> np.ndarray:
        return (codes[column][left] >= 0) & (codes[column][right] >= 0)

    def differ(column: str) -> np.ndarray:
        return both(column) & (codes[column][left] != codes[column][right])

    same_system = codes["source_system"][left] == codes["source_system"][right]
    valid = codes["id_valid"][left] & codes["id_valid"][right]
    with np.errstate(invalid="ignore"):
        far = np.abs(codes["day"][left] - codes["day"][right]) > window_days
    return {
        "different_items": differ("item_known_key"),
        "different_item_codes": differ("item_code_id") & same_system & differ("item_class"),
        "different_actions": differ("item_action"),
        "different_identifiers": differ("id_norm") & valid & ~differ("id_kind") & both("id_kind"),
        "outside_window": far,
    }


def cluster(
    n: int,
    links: pd.DataFrame,
    nodes: pd.DataFrame,
    *,
    cannot: pd.DataFrame | None = None,
    window_days: int,
) -> Clustering:
    """Cluster ``n`` rows from ``links`` (uid_l, uid_r, match_probability) without breaking a constraint.

    ``nodes`` holds :data:`ATTRIBUTES` per row (row order = uid) plus ``state_rank`` (higher = newer state of a
    source record); ``cannot`` holds pairs (uid_l, uid_r) a reviewer kept apart.
    """
    key = nodes["source_system"].astype(str) + "\x1f" + nodes["source_record_id"].astype(str)
    node, unique_keys = pd.factorize(key)
    newest = (
        nodes.assign(node=node, uid=np.arange(n))
        .sort_values(["state_rank", "uid"])
        .drop_duplicates("node", keep="last")
    )
    attributes = newest.set_index("node").sort_index()
    attributes["key"] = np.asarray(unique_keys)
    m = len(attributes)
    edges = pd.DataFrame(
        {
            "a": node[links["uid_l"].to_numpy()] if len(links) else np.empty(0, int),
            "b": node[links["uid_r"].to_numpy()] if len(links) else np.empty(0, int),
            "p": links["match_probability"].to_numpy(float) if len(links) else np.empty(0),
            # The order links are taken in: first what tells one case of an applicant from another (the item and
            # the day), then the whole match weight (log2 odds: strong pairs all round to a probability of 1.0).
            # Every link here is a confident match of the applicant; which of its cases a re-entry is, is told by
            # item and day, not by a phone one original happens to lack.
            "case_w": _case_weights(links),
            "w": _weights(links),
            "uid_l": links["uid_l"].to_numpy() if len(links) else np.empty(0, int),
            "uid_r": links["uid_r"].to_numpy() if len(links) else np.empty(0, int),
            "forced": links["forced"].fillna(False).to_numpy(bool) if "forced" in links else False,
        }
    )
    edges = edges[edges["a"] != edges["b"]].reset_index(drop=True)
    vetoes = pd.DataFrame({"a": np.empty(0, int), "b": np.empty(0, int)})
    if cannot is not None and len(cannot):
        vetoes = pd.DataFrame({"a": node[cannot["uid_l"].to_numpy()], "b": node[cannot["uid_r"].to_numpy()]})
        vetoes = vetoes[vetoes["a"] != vetoes["b"]]
    component = connected_components(m, edges["a"].to_numpy(), edges["b"].to_numpy())

    broken = _broken_components(component, attributes, vetoes, window_days)
    rejected = []
    if broken.size:
        walk = edges[np.isin(component[edges["a"].to_numpy()], broken)]
        split, rejected = _greedy(walk, attributes, vetoes, window_days)
        offset = component.max() + 1
        relabel = np.flatnonzero(np.isin(component, broken))
        component[relabel] = offset + split.reindex(relabel).to_numpy()
    rows = component[node]
    rejected_frame = pd.DataFrame(rejected, columns=["uid_l", "uid_r", "match_probability", "constraint"])
    return Clustering(pd.factorize(rows)[0], rejected_frame)


def connected_components(m: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component of each of ``m`` nodes joined by edges ``a``–``b``, numbered in the order of each component's
    smallest node (as SciPy's ``connected_components`` numbers them; importing SciPy costs about 0.3 s a start).

    Each node takes the smallest label across its edges, then follows labels to their root, until no edge joins
    two labels; labels only fall and a root is its own label, so a component ends labelled by its smallest node."""
    label = np.arange(m)
    while True:
        left, right = label[a], label[b]
        low = np.minimum(left, right)
        hooked = label.copy()
        np.minimum.at(hooked, left, low)
        np.minimum.at(hooked, right, low)
        while not np.array_equal(jumped := hooked[hooked], hooked):
            hooked = jumped
        if np.array_equal(hooked, label):
            return (np.cumsum(label == np.arange(m)) - 1)[label]  # roots numbered in node order
        label = hooked


def _weights(links: pd.DataFrame) -> np.ndarray:
    """Match weight per link; from the probability where a link has none (a reviewer's)."""
    p = links["match_probability"].to_numpy(float) if len(links) else np.empty(0)
    with np.errstate(divide="ignore"):
        from_p = np.log2(p) - np.log2(np.clip(1 - p, 1e-300, None))
    if "match_weight" not in links or not len(links):
        return from_p
    weight = links["match_weight"].to_numpy(float)
    return np.where(np.isnan(weight), from_p, weight)


#: Per-field match weights that tell one case of an applicant from another.
CASE_FIELDS = ("mw_item", "mw_submitted_date")


def _case_weights(links: pd.DataFrame) -> np.ndarray:
    present = [c for c in CASE_FIELDS if c in links]
    if not len(links) or not present:
        return np.zeros(len(links))
    return links[present].fillna(0).sum(axis=1).to_numpy(float)


def _broken_components(
    component: np.ndarray, attributes: pd.DataFrame, vetoes: pd.DataFrame, window_days: int
) -> np.ndarray:
    """Components in which some two nodes break a constraint, found with group counts (no pairs listed)."""
    frame = attributes.assign(component=component)
    sizes = frame.groupby("component").size()
    frame = frame[frame["component"].isin(sizes[sizes > 1].index)]
    if frame.empty:
        return np.empty(0, int)
    found = [
        frame.groupby("component")["item_known_key"].nunique(),
        frame.groupby("component")["item_action"].nunique(),
        frame.dropna(subset=["item_code_id"])
        .groupby(["component", "source_system"])["item_code_id"]
        .nunique()
        .groupby(level=0)
        .max(),
        frame[frame["id_valid"].fillna(False).astype(bool)]
        .groupby(["component", "id_kind"])["id_norm"]
        .nunique()
        .groupby(level=0)
        .max(),
    ]
    bad = set()
    for counts in found:
        bad.update(counts[counts > 1].index)
    dates = frame.groupby("component")["submitted_date"].agg(["min", "max"])
    bad.update(dates.index[(dates["max"] - dates["min"]) > pd.Timedelta(days=window_days)])
    if len(vetoes):
        same = component[vetoes["a"].to_numpy()] == component[vetoes["b"].to_numpy()]
        bad.update(component[vetoes["a"].to_numpy()][same])
    return np.array(sorted(bad), dtype=int)


def _greedy(
    edges: pd.DataFrame, attributes: pd.DataFrame, vetoes: pd.DataFrame, window_days: int
) -> tuple[pd.Series, list[tuple]]:
    """Take the links of broken components strongest first (a reviewer's first, then by the item's and the day's
    weights, then by the whole match weight; ties by the records' keys, so row order does not matter), joining two
    clusters only when no two of their nodes break a constraint."""
    keys = attributes["key"].to_numpy()
    ordered = edges.assign(ka=keys[edges["a"]], kb=keys[edges["b"]])
    ordered = ordered.sort_values(
        ["forced", "case_w", "w", "ka", "kb"], ascending=[False, False, False, True, True], kind="stable"
    )
    involved = np.unique(np.concatenate([edges["a"].to_numpy(), edges["b"].to_numpy()]))
    facts = _facts(attributes.loc[involved])
    forbidden: dict[int, set[int]] = {}
    for a, b in zip(vetoes["a"], vetoes["b"], strict=True):
        forbidden.setdefault(int(a), set()).add(int(b))
        forbidden.setdefault(int(b), set()).add(int(a))
    members = {int(v): [int(v)] for v in involved}
    owner = {int(v): int(v) for v in involved}
    rejected = []
    for a, b, p, uid_l, uid_r, forced in ordered[["a", "b", "p", "uid_l", "uid_r", "forced"]].itertuples(index=False):
        ra, rb = owner[a], owner[b]
        if ra == rb:
            continue
        reason = _clash(members[ra], members[rb], facts, forbidden, window_days, items_only=forced)
        if reason is not None:
            rejected.append((int(uid_l), int(uid_r), float(p), reason))
            continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        for v in members[rb]:
            owner[v] = ra
        members[ra].extend(members.pop(rb))
    cluster_of = pd.Series(owner)
    return pd.Series(pd.factorize(cluster_of)[0], index=cluster_of.index), rejected


def _facts(rows: pd.DataFrame) -> dict[int, tuple]:
    """Per node, the attributes a constraint compares, as plain values (None for missing)."""
    frame = rows.astype(object).where(rows.notna(), None)
    frame["id_valid"] = rows["id_valid"].fillna(False).astype(bool)
    return {
        int(node): values
        for node, values in zip(rows.index, frame[list(FACTS)].itertuples(index=False, name=None), strict=True)
    }


def _clash(
    left: list[int],
    right: list[int],
    facts: dict,
    forbidden: dict[int, set[int]],
    window_days: int,
    *,
    items_only: bool = False,
) -> str | None:
    """The first constraint two clusters would break together, or None (clusters are a few records each).
    ``items_only``: only :data:`ITEM_CONSTRAINTS` (for a reviewer's ``same``)."""
    window = pd.Timedelta(days=window_days)
    for u in left:
        if forbidden.get(u) and forbidden[u].intersection(right):
            return "reviewer_different"
        item_u, system_u, code_u, class_u, action_u, id_u, valid_u, kind_u, date_u = facts[u]
        for v in right:
            item_v, system_v, code_v, class_v, action_v, id_v, valid_v, kind_v, date_v = facts[v]
            if item_u and item_v and item_u != item_v:
                return "different_items"
            if system_u == system_v and code_u and code_v and code_u != code_v and class_u != class_v:
                return "different_item_codes"
            if action_u and action_v and action_u != action_v:
                return "different_actions"
            if items_only:
                continue
            if valid_u and valid_v and kind_u and kind_u == kind_v and id_u != id_v:
                return "different_identifiers"
            if date_u is not None and date_v is not None and abs(date_u - date_v) > window:
                return "outside_window"
    return None
