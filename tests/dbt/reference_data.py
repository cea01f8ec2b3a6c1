"""The seed `country_codes`, built from pycountry (ISO 3166-1 as Debian's iso-codes keeps it), not by hand.

One row per lookup key: every way a customer's `country` may name one of the 249 ISO 3166-1 countries,
normalised as `stg_shop__customers` normalises what was sent (`country_key` below), mapped to the alpha-2
code and a display name. Keys, per country: alpha-2, alpha-3, name, official name, common name; each name
also without its diacritics ("cote d'ivoire") and without a trailing qualifier in brackets ("falkland
islands"); plus the few aliases of `ALIASES`. A key that would name two countries is dropped (`AMBIGUOUS`
says which; none with pycountry 26.2.16).

Regenerate after upgrading pycountry: `.venv/bin/python -m tests.dbt.reference_data` (the test
tests/dbt/test_reference_data.py fails while the committed seed differs from what this builds).
(Not named `dbt_*.py`: dbt's plugin discovery imports such files.)
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from pathlib import Path

import pycountry

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "country_codes.csv"
COLUMNS = ("country_key", "country_code", "country_name", "key_type")
# the first kind of key that yields a spelling names it (its `key_type`), in this order
KEY_TYPES = ("alpha_2", "alpha_3", "name", "official_name", "common_name", "variant", "alias")

# Common in shop exports, not in pycountry, and naming one country only. Kept short on purpose: a value
# missing here stays null in staging (and is flagged by the not_null warning), a wrong one would be silent.
# Not added: "america" (a continent), "korea" (two countries), "macedonia" (also a Greek region),
# "holland" (two Dutch provinces), "micronesia" (a region).
ALIASES = {
    "uk": "GB",  # ISO 3166-1 exceptionally reserves UK for the United Kingdom
    "great britain": "GB",
    "england": "GB",  # the UK's four countries: subdivisions of GB in ISO 3166-2
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "turkey": "TR",  # the ISO short name until 2022 ("Türkiye" since)
    "russia": "RU",  # pycountry: "Russian Federation" only
    "ivory coast": "CI",  # the English name of Côte d'Ivoire
    "cape verde": "CV",  # the ISO short name until 2013 ("Cabo Verde" since)
    "vatican city": "VA",  # pycountry: "Holy See (Vatican City State)"
    "brunei": "BN",  # pycountry: "Brunei Darussalam"
}

# Keys dropped because they would name two countries: key -> codes (empty with pycountry 26.2.16).
AMBIGUOUS: dict[str, tuple[str, ...]] = {}


def country_key(value: str) -> str:
    """What `stg_shop__customers` matches on: whitespace collapsed and trimmed, a typographic apostrophe
    made plain, lower case (the model's SQL does the same)."""
    return " ".join(value.split()).replace("\u2019", "'").lower()


def _without_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _without_qualifier(text: str) -> str:
    """The name without a trailing qualifier in brackets: Falkland Islands (Malvinas) -> Falkland Islands."""
    return re.sub(r"\s*\([^)]*\)$", "", text)


def _spellings(country) -> list[tuple[str, str]]:
    """(key, key_type) of one pycountry country, a spelling under the first kind that yields it."""
    names = [(kind, getattr(country, kind, None)) for kind in ("name", "official_name", "common_name")]
    found = [("alpha_2", country.alpha_2), ("alpha_3", country.alpha_3)]
    found += [(kind, text) for kind, text in names if text]
    for _, text in names:
        if text:
            short = _without_qualifier(text)
            found += [("variant", v) for v in (short, _without_diacritics(text), _without_diacritics(short))]
    seen: dict[str, str] = {}
    for kind, text in found:
        seen.setdefault(country_key(text), kind)
    return [(key, kind) for key, kind in seen.items() if key]


def display_name(country) -> str:
    """The common name when ISO's is formal ("South Korea", "Iran"), else ISO's short name."""
    return getattr(country, "common_name", None) or country.name


def build_rows() -> tuple[list[dict[str, str]], dict[str, tuple[str, ...]]]:
    """The seed's rows (by code, then key type, then key) and the ambiguous keys left out (key -> codes)."""
    countries = {c.alpha_2: c for c in pycountry.countries}
    candidates: dict[str, dict[str, str]] = {}  # key -> code -> key_type
    for code, country in countries.items():
        for key, kind in _spellings(country):
            candidates.setdefault(key, {})[code] = kind
    for alias, code in ALIASES.items():
        if alias != country_key(alias) or code not in countries:
            raise ValueError(f"alias {alias!r}: not a normalised key or {code} is no ISO 3166-1 code")
        if alias in candidates:
            raise ValueError(f"alias {alias!r} is a pycountry key now: drop it from ALIASES")
        candidates[alias] = {code: "alias"}
    ambiguous = {key: tuple(sorted(codes)) for key, codes in candidates.items() if len(codes) > 1}
    codes_dropped = [
        key for key, codes in candidates.items() if key in ambiguous and "alpha_2" in codes.values()
    ]
    if codes_dropped:
        raise ValueError(f"an alpha-2 code would be ambiguous: {codes_dropped}")
    rows = [
        {"country_key": key, "country_code": code, "country_name": display_name(countries[code]),
         "key_type": kind}
        for key, codes in candidates.items()
        if key not in ambiguous
        for code, kind in codes.items()
    ]  # fmt: skip
    rows.sort(key=lambda r: (r["country_code"], KEY_TYPES.index(r["key_type"]), r["country_key"]))
    return rows, ambiguous


def render_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    rows, ambiguous = build_rows()
    SEED.write_text(render_csv(rows), encoding="utf-8")
    codes = {r["country_code"] for r in rows}
    print(f"{SEED}: {len(rows)} keys for {len(codes)} countries (pycountry {pycountry.__version__})")
    for key, codes_of_key in sorted(ambiguous.items()):
        print(f"  dropped ambiguous key {key!r}: {', '.join(codes_of_key)}")


if __name__ == "__main__":
    main()
