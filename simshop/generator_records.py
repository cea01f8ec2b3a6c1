"""Pure builders for the generator: vocabulary, hashing, timestamps, the customer base and the catalogue.

Everything here is a function of the seed and a number (customer `k`, product `p`), so any record can be
rebuilt on any day without keeping it in memory. Every name is Latin-1 encodable (a Latin-1 file must be
able to carry it) and about a third of them are not ASCII, so the encoding of a file matters.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from datetime import date
from functools import cache
from itertools import accumulate

from extract.contract import REQUIRED
from simshop import faults

M64 = (1 << 64) - 1
DAY = 86_400
_EPOCH = date(1970, 1, 1).toordinal()
T_ORDER, T_CUSTOMER, T_CUST_FAULT, T_LATE, T_MULTI, T_PRODUCT, T_PROD_FAULT, T_MOVE = range(1, 9)

FIRST = (
    "Ada", "Björn", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hugo", "Inès", "Jonas", "Kenji", "Léa",
    "Søren", "Zoë", "Joël", "Françoise", "Jürgen", "Mónica", "Renée", "Sébastien", "Åsa", "Noël", "Tomás",
    "João", "Íñigo", "Maëlle", "Anna", "Lucas", "Sofia", "Mia", "Liam", "Emma", "Noah", "Olivia", "Marco",
    "Sara", "Paul", "Nina", "Jan", "Laura",
)  # fmt: skip
LAST = (
    "Müller", "Dubois", "García", "Núñez", "Lindqvist", "Søndergaard", "Öztürk", "Nowak", "Jansen", "Rossi",
    "Ferreira", "Gonçalves", "Lefèvre", "Béranger", "Weiß", "Schäfer", "Andersson", "Ødegaard", "Björklund",
    "Costa", "Martín", "Peña", "Smith", "Martin", "Bernard", "Schmidt", "Meyer", "De Vries", "Bianchi",
    "Santos", "Hansen", "Fischer", "Moreau", "Romano", "Kowalski", "Novak", "Wagner", "Becker", "Silva",
    "Lopez",
)  # fmt: skip
# code, English name, weight, cities
COUNTRIES = (
    ("DE", "Germany", 30, ("Berlin", "München", "Köln", "Hamburg", "Düsseldorf", "Frankfurt am Main")),
    ("FR", "France", 18, ("Paris", "Lyon", "Orléans", "Besançon", "Nantes")),
    ("NL", "Netherlands", 10, ("Utrecht", "Amsterdam", "Den Haag", "Groningen")),
    ("ES", "Spain", 9, ("Madrid", "Sevilla", "A Coruña", "Málaga")),
    ("IT", "Italy", 9, ("Torino", "Milano", "Roma", "Bologna")),
    ("AT", "Austria", 6, ("Wien", "Graz", "Linz")),
    ("BE", "Belgium", 5, ("Liège", "Bruxelles", "Gent")),
    ("SE", "Sweden", 5, ("Malmö", "Göteborg", "Stockholm")),
    ("DK", "Denmark", 3, ("København", "Århus", "Odense")),
    ("PT", "Portugal", 3, ("Lisboa", "Porto", "Braga")),
    ("PL", "Poland", 2, ("Kraków", "Warszawa", "Gdynia")),
)
_COUNTRY_CUM = list(accumulate(c[2] for c in COUNTRIES))
DISTRICTS = ("Altstadt", "Zentrum", "Süd", "Nord", "Centre-ville", "Östermalm", "Vesterbro")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")
# category, price range in cents, name stems, variants
CATEGORIES = (
    ("coffee", (750, 3990), ("Espresso beans", "Filter coffee", "Café crème", "Decaf", "Single origin"),
     ("Ethiopia", "Colombia", "Brasil", "Guatemala", "Kenya", "250g", "500g", "1kg")),
    ("tea", (750, 2490), ("Thé vert", "Earl Grey", "Rooibos", "Matcha", "Chai", "Kräutertee"),
     ("loose 100g", "bags 20x", "tin 250g", "bio")),
    ("kitchen", (990, 8900), ("Ceramic mug", "Crème brûlée set", "Milk jug", "Glass carafe", "Teapot"),
     ("blue", "white", "Söderberg", "Björk", "large", "small")),
    ("equipment", (1990, 34900), ("Hand grinder", "Pour-over kettle", "Espresso machine", "Moka pot",
                                  "Scale"),
     ("Pro", "Classic", "Mini", "Duo", "Größe M")),
    ("accessories", (750, 2990), ("Filter papers", "Cleaning tablets", "Tamper", "Knock box", "Frother"),
     ("100x", "steel", "bamboo", "noir")),
    ("gift", (1000, 10000), ("Gift card", "Gift box", "Coffret Noël"), ("10", "25", "50", "100")),
)  # fmt: skip


def mix64(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    x &= M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


@cache
def _salt(seed: int, tag: int) -> int:
    return mix64((seed & M64) * 0x9E3779B97F4A7C15 + tag)


def key(seed: int, tag: int, n: int) -> int:
    return mix64(_salt(seed, tag) + n)


def unit(seed: int, tag: int, n: int) -> float:
    """A uniform number in [0, 1) that depends only on (seed, tag, n)."""
    return key(seed, tag, n) / 18446744073709551616.0


def rng_for(seed: int, tag: int, n: int) -> random.Random:
    return random.Random(key(seed, tag, n))


def epoch_day(day: date) -> int:
    return day.toordinal() - _EPOCH


_DATES: dict[int, str] = {}
_CLOCK: list[str] = []  # "HH:MM:SS" of every second of a day, built on first use


def ts(epoch: int) -> str:
    """ISO 8601 UTC with 'Z', to the second."""
    d, s = divmod(epoch, DAY)
    iso = _DATES.get(d)
    if iso is None:
        iso = _DATES[d] = date.fromordinal(d + _EPOCH).isoformat() + "T"
        if not _CLOCK:
            _CLOCK.extend(
                f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)
            )
    return iso + _CLOCK[s]


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def ascii_fold(text: str) -> str:
    text = text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss").replace(" ", "")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class Customers:
    """The customer base: `base` customers before the first day, then `signups` new ones per day.

    The first `buyers[i]` sign-ups of day `i` place an order that day. A customer with a record-level fault
    (malformed email, missing value) never orders, so a faulty customer cannot decide an order's fate.
    """

    def __init__(self, seed: int, start: int, base: int, signups: int, buyers: list[int], rate: float):
        self.seed, self.start, self.base, self.signups, self.buyers = seed, start, base, signups, buyers
        self.rate = rate
        self._faulty = bytearray(1)  # 1 where customer k has a record-level fault (filled as the base grows)

    def before(self, i: int) -> int:
        """Customers created before day i (ids 1..before(i))."""
        return self.base + self.signups * i

    def signup_day(self, k: int) -> int | None:
        return None if k <= self.base else (k - self.base - 1) // self.signups

    def buys_on_signup(self, k: int) -> bool:
        i = self.signup_day(k)
        return i is not None and (k - self.base - 1) % self.signups < self.buyers[i]

    def fault(self, k: int) -> str | None:
        if self.rate <= 0:
            return None
        kind = faults.pick(unit(self.seed, T_CUST_FAULT, k), self.rate, faults.CUSTOMER_KINDS)
        return None if kind is None or self.buys_on_signup(k) else kind

    def late(self, k: int) -> bool:
        """A sign-up-day buyer whose customer record is only sent in the next day's files."""
        return self.rate > 0 and self.buys_on_signup(k) and unit(self.seed, T_LATE, k) < self.rate

    def multiline(self, k: int) -> bool:
        return self.rate > 0 and unit(self.seed, T_MULTI, k) < min(self.rate, 1.0)

    def created(self, k: int) -> int:
        """created_at (epoch seconds): within two years before the start, or the sign-up day before 22:00."""
        i = self.signup_day(k)
        u = unit(self.seed, T_CUSTOMER, k)
        if i is None:
            return (self.start - 1 - int(u * 730)) * DAY + int(u * 1e6) % DAY
        return (self.start + i) * DAY + int(u * 79_200)

    def pick(self, rng: random.Random, i: int) -> int:
        """A returning customer for day i, skewed towards the oldest (most loyal) ones; never a faulty one."""
        limit = self.before(i)
        k = 1 + int(limit * rng.random() ** 2.2)
        if self.rate <= 0:
            return k
        faulty = self._faulty
        if len(faulty) <= limit:
            faulty.extend(self.fault(c) is not None for c in range(len(faulty), limit + 1))
        while faulty[k]:
            k = k % limit + 1
        return k

    def record(self, k: int, moved_on: int | None = None, updated: int | None = None) -> dict:
        """Customer k's record; `moved_on` (a day index) gives the version after a move on that day."""
        rng = rng_for(self.seed, T_CUSTOMER, k)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        country = COUNTRIES[bisect(_COUNTRY_CUM, rng.random() * _COUNTRY_CUM[-1])]
        city = rng.choice(country[3])
        domain, style = rng.choice(DOMAINS), rng.random()
        if moved_on is not None:
            move = rng_for(self.seed, T_MOVE, k * 7919 + moved_on)
            country = COUNTRIES[bisect(_COUNTRY_CUM, move.random() * _COUNTRY_CUM[-1])]
            city = move.choice(country[3])
        code = country[0]
        if style < 0.08:  # real exports also send lower case codes and country names
            code = code.lower()
        elif style < 0.12:
            code = country[1] if style < 0.11 else country[1].lower()
        if self.multiline(k):
            city = f"{city}\n{DISTRICTS[k % len(DISTRICTS)]}"
        email = f"{ascii_fold(first)}.{ascii_fold(last)}{k}@{domain}"
        if style > 0.95:
            email = email.replace(email[0], email[0].upper(), 1)
        created = self.created(k)
        rec: dict[str, str | None] = {
            "customer_id": f"C{k:07d}",
            "email": email,
            "first_name": first,
            "last_name": last,
            "country": code,
            "city": city,
            "created_at": ts(created),
            "updated_at": ts(created if updated is None else updated),
        }
        kind = self.fault(k)
        if kind == "malformed_email":
            rec["email"] = faults.malformed_email(rng, email)
        elif kind == "missing_value":
            rec[rng.choice(REQUIRED["customers"])] = None
        return rec


class Catalogue:
    """Products `1..count`, with popularity skew; current prices are the only mutable state."""

    def __init__(self, seed: int, start: int, initial: int, per_day: int, rate: float):
        self.seed, self.start, self.per_day, self.rate = seed, start, per_day, rate
        self.prices: list[int] = [0]
        self.count = 0
        self._cum: list[float] = []
        self._ids: list[int] = []
        self.grow(initial)

    def spec(self, p: int) -> tuple[str, str, int]:
        rng = rng_for(self.seed, T_PRODUCT, p)
        category, (low, high), stems, variants = CATEGORIES[rng.randrange(len(CATEGORIES))]
        name = f"{rng.choice(stems)} {rng.choice(variants)}"
        if category == "gift":
            return category, name, int(name.rsplit(" ", 1)[1]) * 100
        cents = rng.randrange(low // 100, high // 100) * 100 + rng.choice((90, 95, 99, 0))
        return category, name, max(cents, 750)

    def fault(self, p: int) -> str | None:
        if self.rate <= 0:
            return None
        return faults.pick(unit(self.seed, T_PROD_FAULT, p), self.rate, faults.PRODUCT_KINDS)

    def active(self, p: int) -> bool:
        return unit(self.seed, T_PRODUCT, p) >= 0.04

    def orderable(self, p: int) -> bool:
        return self.active(p) and self.fault(p) is None

    def created(self, p: int) -> int:
        u = unit(self.seed, T_PRODUCT, p * 31 + 7)
        if p <= self._initial:
            return (self.start - 60 - int(u * 840)) * DAY + int(u * 1e6) % DAY
        day = self.start + 1 + (p - self._initial - 1) // max(self.per_day, 1)  # added on day 1, 2, ...
        return day * DAY + int(u * DAY)

    def grow(self, n: int) -> list[int]:
        """Add n products; returns their ids. The popularity table is rebuilt."""
        if not self._cum:
            self._initial = n
        new = list(range(self.count + 1, self.count + n + 1))
        for p in new:
            self.prices.append(self.spec(p)[2])
        self.count += n
        self._ids = [p for p in range(1, self.count + 1) if self.orderable(p)]
        weights = (1.0 / (1 + (mix64(p ^ self.seed) % len(self._ids))) ** 0.9 for p in self._ids)
        self._cum = list(accumulate(weights))
        return new

    def pick(self, rng: random.Random) -> int:
        return self._ids[bisect(self._cum, rng.random() * self._cum[-1])]

    def reprice(self, rng: random.Random, n: int) -> list[int]:
        """Change the price of n orderable products by -15%..+15%; returns their ids."""
        changed = sorted(set(rng.choices(self._ids, k=n)))
        for p in changed:
            cents = int(self.prices[p] * rng.uniform(0.85, 1.15)) // 10 * 10 + rng.choice((0, 5, 9))
            self.prices[p] = max(cents, 750)
        return changed

    def record(self, p: int, updated: int | None = None) -> dict:
        category, name, _ = self.spec(p)
        rng = rng_for(self.seed, T_PRODUCT, p * 13 + 1)
        flag = rng.choice(("true", "true", "true", "1")) if self.active(p) else rng.choice(("false", "0"))
        created = self.created(p)
        rec: dict[str, str | None] = {
            "product_id": f"P{p:05d}",
            "sku": f"SKU-{100_000 + p}",
            "name": name,
            "category": category,
            "unit_price": money(self.prices[p]),
            "is_active": flag,
            "created_at": ts(created),
            "updated_at": ts(created if updated is None else updated),
        }
        kind = self.fault(p)
        if kind == "nonpositive_price":
            rec["unit_price"] = faults.nonpositive_price(rng, self.prices[p])
        elif kind == "missing_value":
            rec[rng.choice(REQUIRED["products"])] = None
        return rec
