"""The dbt project's structure rules, checked on its manifest: what dbt-project-evaluator would check.

dbt-project-evaluator is a dbt Hub package, and the Hub (and GitHub) cannot be reached from where this
project installs (PyPI only), so its main rules are written here against `manifest.json`. Each exception
is listed with its reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

LAYER_PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_", "rpt_")}
MAX_FANOUT = 4  # direct model children of one model
# model -> why it may have more children than MAX_FANOUT
FANOUT_EXCEPTIONS = {
    "stg_shop__order_items": "items feed pricing, the items fact and the quarantine report",
    "stg_shop__customers": "pricing (held orders), dims, snapshot, quarantine report",
    "fct_orders": "the revenue report, customer aggregates and metrics all read the orders fact",
    "int_orders_priced": "the facts, the quarantine report, and the per-customer models that recompute "
    "the customers of changed orders",
}


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> dict:
    return json.loads(dbt_manifest.read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _layer(node: dict) -> str:
    return node["fqn"][1]


def test_every_model_and_column_is_described(manifest) -> None:
    undocumented = [
        f"{name}.{column}" if column else name
        for name, node in _models(manifest).items()
        for column, text in [("", node["description"])]
        + [(c, v["description"]) for c, v in node["columns"].items()]
        if not text.strip()
    ]
    assert undocumented == []
    assert all(len(node["columns"]) > 2 for node in _models(manifest).values())


def test_every_model_has_a_primary_key_tested_unique_and_not_null(manifest) -> None:
    tested: dict[str, set[tuple[str, str]]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and meta.get("name") in {"unique", "not_null"}:
            column = node.get("column_name")
            for parent in node["depends_on"]["nodes"]:
                tested.setdefault(parent.split(".")[-1], set()).add((meta["name"], column))
    missing = [
        name
        for name in _models(manifest)
        if not any(("not_null", column) in tested.get(name, set()) for _, column in tested.get(name, set()))
        or not any(test == "unique" for test, _ in tested.get(name, set()))
    ]
    assert missing == []


def test_models_are_named_after_their_layer(manifest) -> None:
    wrong = [
        f"{name} in {_layer(node)}"
        for name, node in _models(manifest).items()
        if not name.startswith(LAYER_PREFIXES[_layer(node)])
    ]
    assert wrong == []
    staging = [n for n, node in _models(manifest).items() if _layer(node) == "staging"]
    assert all(re.fullmatch(r"stg_[a-z]+__[a-z_]+s", name) for name in staging), staging


def test_sources_are_read_by_staging_only_and_every_source_is_used(manifest) -> None:
    readers: dict[str, list[str]] = {}
    for name, node in _models(manifest).items():
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("source."):
                readers.setdefault(parent, []).append(name)
                assert _layer(node) == "staging", f"{name} reads {parent}"
    assert set(readers) == set(manifest["sources"])
    assert all(len(models) == 1 for models in readers.values()), readers


def test_dependencies_flow_one_way(manifest) -> None:
    order = {"staging": 0, "intermediate": 1, "marts": 2}
    models = _models(manifest)
    backwards = []
    for name, node in models.items():
        for parent in node["depends_on"]["nodes"]:
            upstream = models.get(parent.split(".")[-1])
            if upstream is None or not parent.startswith("model."):
                continue
            if order[_layer(upstream)] > order[_layer(node)]:
                backwards.append(f"{parent.split('.')[-1]} -> {name}")
            if _layer(upstream) == _layer(node) == "staging":
                backwards.append(f"staging on staging: {parent.split('.')[-1]} -> {name}")
    assert backwards == []


def test_no_hard_coded_relations(manifest) -> None:
    pattern = re.compile(r"\b(from|join)\s+\"?(raw|staging|intermediate|marts|snapshots)\"?\.", re.IGNORECASE)
    hard_coded = [n["name"] for n in manifest["nodes"].values() if pattern.search(n.get("raw_code") or "")]
    assert hard_coded == []


def test_model_fanout_is_small_or_explained(manifest) -> None:
    children: dict[str, set[str]] = {}
    for name, node in _models(manifest).items():
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("model."):
                children.setdefault(parent.split(".")[-1], set()).add(name)
    wide = {name for name, kids in children.items() if len(kids) > MAX_FANOUT}
    assert wide <= set(FANOUT_EXCEPTIONS), {n: sorted(children[n]) for n in wide - set(FANOUT_EXCEPTIONS)}


def test_marts_enforce_contracts_and_the_report_is_an_exposure(manifest) -> None:
    marts = [node for node in _models(manifest).values() if _layer(node) == "marts"]
    assert marts and all(node["contract"]["enforced"] for node in marts)
    assert all(all(c.get("data_type") for c in node["columns"].values()) for node in marts)
    exposures = list(manifest["exposures"].values())
    assert [e["name"] for e in exposures] == ["monitoring_report"]
    assert "model.shop.rpt_daily_revenue" in exposures[0]["depends_on"]["nodes"]


def test_cleaning_and_enrichment_logic_has_unit_tests(manifest) -> None:
    tested = {u["model"] for u in manifest.get("unit_tests", {}).values()}
    assert {"stg_shop__orders", "stg_shop__customers", "int_orders_priced", "fct_orders"} <= tested
    assert all(u["name"].startswith(f"test_{u['model']}__") for u in manifest["unit_tests"].values())
