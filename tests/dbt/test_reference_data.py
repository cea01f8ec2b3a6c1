"""The seed `country_codes` covers the whole of ISO 3166-1, as pycountry has it, and the warehouse maps
every spelling a customer may send (any case, names or codes) to its alpha-2 code; none becomes a null."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import psycopg
import pycountry
import pytest

from extract.contract import FIELDS
from extract.load import load_folder
from tests.dbt.reference_data import AMBIGUOUS, SEED, build_rows, country_key, render_csv
from tests.warehouse import DBT_PROJECT, dbt

MODEL = DBT_PROJECT / "models" / "staging" / "shop" / "stg_shop__customers.sql"

# what a customer sent -> the alpha-2 code it must become
SENT = {
    "na": "NA", "Namibia": "NA", "NAM": "NA", " NA ": "NA",
    "côte d'ivoire": "CI", "CI": "CI", "CÔTE D’IVOIRE": "CI", "Cote d'Ivoire": "CI", "Ivory Coast": "CI",
    "United Kingdom": "GB", "uk": "GB", "GBR": "GB", "England": "GB",
    "Türkiye": "TR", "TÜRKIYE": "TR", "turkiye": "TR", "Turkey": "TR",
    "GERMANY": "DE", "germany ": "DE", "  Federal   Republic of Germany": "DE",
    "Korea, Republic of": "KR", "SOUTH KOREA": "KR", "north korea": "KP",
    "ÅLAND ISLANDS": "AX", "Falkland Islands": "FK", "usa": "US", "United States of America": "US",
    "Czech Republic": "CZ", "viet nam": "VN", "Vietnam": "VN",
}  # fmt: skip


CUSTOMER = {"first_name": "Ana", "last_name": "Lima", "city": "Town",
            "created_at": "2026-01-01T08:00:00Z", "updated_at": "2026-01-01T08:00:00Z"}  # fmt: skip


@pytest.fixture(scope="module")
def seed() -> dict[str, dict[str, str]]:
    with SEED.open(newline="", encoding="utf-8") as rows:
        return {row["country_key"]: row for row in csv.DictReader(rows)}


def test_the_seed_is_what_pycountry_builds() -> None:
    rows, ambiguous = build_rows()
    assert SEED.read_text(encoding="utf-8") == render_csv(rows), (
        "the seed drifted from pycountry: run `.venv/bin/python -m tests.dbt.reference_data`"
    )
    assert ambiguous == AMBIGUOUS


def test_every_iso_3166_1_country_is_there(seed) -> None:
    codes = {c.alpha_2 for c in pycountry.countries}
    assert len(codes) == 249
    assert {row["country_code"] for row in seed.values()} == codes
    for country in pycountry.countries:
        for key in (country.alpha_2, country.alpha_3, country.name):
            assert seed[country_key(key)]["country_code"] == country.alpha_2, key
    by_code = [row["country_code"] for row in seed.values() if row["key_type"] == "alpha_2"]
    assert sorted(by_code) == sorted(codes)  # one row per country for the display name
    assert all(
        row["country_name"] and row["country_key"] == row["country_key"].strip() for row in seed.values()
    )


@pytest.mark.parametrize(("sent", "code"), SENT.items())
def test_odd_spellings_find_their_country(seed, sent: str, code: str) -> None:
    assert seed[country_key(sent)]["country_code"] == code


def test_the_model_folds_every_capital_the_seed_needs(seed) -> None:
    """lower() folds ASCII only in a C-locale database: the model's `translate` must lower every other
    capital a key may be sent with (and make a typographic apostrophe plain), as `country_key` does."""
    sql = MODEL.read_text(encoding="utf-8")
    match = re.search(r"lower\(translate\(\s*btrim\(.*?\),\s*'([^']*)',\s*'((?:[^']|'')*)'\s*\)\)", sql, re.S)
    assert match, "the country join of stg_shop__customers changed: update this test"
    source, target = match[1], match[2].replace("''", "'")
    fold = dict(zip(source, target, strict=True))
    assert fold.pop("\u2019") == "'"
    needed = {c for key in seed for c in key if not c.isascii()}
    assert all(fold.get(c.upper()) == c for c in needed), sorted(needed)


def _load_customers(url: str, folder: Path, sent: list[str]) -> dict[str, str]:
    """Load one customer per sent country (plus one with an unknown country); customer id -> sent."""
    path = folder / "customers" / "countries.csv"
    path.parent.mkdir(parents=True)
    customers = {f"C{i:03}": country for i, country in enumerate([*sent, "Atlantis"])}
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS["customers"])
        writer.writeheader()
        for customer_id, country in customers.items():
            email = f"{customer_id.lower()}@example.org"
            writer.writerow({**CUSTOMER, "customer_id": customer_id, "email": email, "country": country})
    assert [r.rows_loaded for r in load_folder(url, "customers", path.parent)] == [len(customers)]
    return customers


def test_dbt_seeds_every_key_and_staging_maps_every_spelling(warehouse_url, tmp_path) -> None:
    customers = _load_customers(warehouse_url, tmp_path / "landing", list(SENT))
    # the seed, its tests, the model's unit tests, the model and its tests (relationships to the seed)
    results = dbt(warehouse_url, "build", "--select", "country_codes", "stg_shop__customers",
                  target=tmp_path / "target")  # fmt: skip
    status = {r["unique_id"]: r["status"] for r in results}
    assert status["seed.shop.country_codes"] == "success"
    assert status["unit_test.shop.stg_shop__customers.test_stg_shop__customers__normalised"] == "pass"
    # dbt() fails on an error or a failing test; the one warning allowed is Atlantis's null country
    warned = {uid for uid, s in status.items() if s == "warn"}
    assert all("not_null_stg_shop__customers_country_code" in uid for uid in warned), warned
    rows, _ = build_rows()
    with psycopg.connect(warehouse_url) as conn:
        types = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'staging' and table_name = 'country_codes'"
        ).fetchall()
        seeded = sorted(
            conn.execute(
                "select country_key, country_code, country_name, key_type from staging.country_codes"
            )
        )
        staged = dict(
            conn.execute("select customer_id, country_code from staging.stg_shop__customers").fetchall()
        )
    assert {name: kind for name, kind in types} == dict.fromkeys(
        ("country_key", "country_code", "country_name", "key_type"), "text"
    )
    assert seeded == sorted(tuple(r.values()) for r in rows)  # "NA" (Namibia) is a code, not a null
    assert ("na", "NA", "Namibia", "alpha_2") in seeded
    got = {customers[customer_id]: code for customer_id, code in staged.items()}
    assert got == {**SENT, "Atlantis": None}
