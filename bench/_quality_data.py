"""The data questions' input files: six real-looking tables made from one fixed seed.

    uv run python bench/_quality_data.py          # rewrite bench/quality_data/*.csv|tsv

The files are committed (the bench never regenerates them); this script is how they were made,
and the unit test checks that it still makes them byte for byte. What is in them, and why:

* ``passengers.csv``: a Titanic-like manifest (names with titles, ~18 % missing ages, a few
  missing fares and ports); survival depends on sex, class and age, so a classifier can learn it.
* ``orders.csv``: a year of retail orders (dates as ISO strings, regions, products, discounts,
  e-mail addresses, a status, some missing shipping times).
* ``weather.tsv``: tab-separated daily weather for three cities over 2023 (seasonal
  temperatures, zero-inflated rain, ~5 % missing humidity).
* ``employees.csv``: semicolon-separated, hire dates as day/month/year, a few executive salaries
  far above the rest, some missing performance scores, attrition that depends on pay and score.
* ``housing.csv``: prices linear in size, bedrooms, age, garage and neighbourhood, plus noise.
* ``sensors.csv``: hourly readings of three sensors over two weeks with injected spikes and gaps.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20_261_204
DATA_DIR = Path(__file__).resolve().parent / "quality_data"

SURNAMES = [
    "Andersson",
    "Baker",
    "Carter",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanov",
    "Jensen",
    "Kelly",
    "Larsen",
    "Moreau",
    "Murphy",
    "Nilsen",
    "Olsen",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Taylor",
    "Urban",
    "Vogel",
    "Walsh",
    "Young",
    "Zimmer",
    "Brown",
    "Clarke",
    "Dunn",
    "Ellis",
    "Foster",
    "Grant",
    "Hughes",
    "Irwin",
    "Johnson",
    "Knight",
    "Lopez",
    "Miller",
    "Novak",
    "Owens",
    "Palmer",
    "Reid",
    "Stone",
    "Turner",
    "Webb",
]
MALE = [
    "John",
    "William",
    "James",
    "George",
    "Charles",
    "Thomas",
    "Henry",
    "Arthur",
    "Frederick",
    "Albert",
    "Ernest",
    "Harry",
]
FEMALE = [
    "Mary",
    "Anna",
    "Elizabeth",
    "Margaret",
    "Alice",
    "Helen",
    "Emily",
    "Clara",
    "Edith",
    "Florence",
    "Ada",
    "Grace",
]


def _names(rng: np.random.Generator, n: int, male: np.ndarray) -> tuple[list[str], list[str]]:
    first = [str(rng.choice(MALE if m else FEMALE)) for m in male]
    last = [str(rng.choice(SURNAMES)) for _ in range(n)]
    return first, last


def passengers(rng: np.random.Generator) -> pd.DataFrame:
    n = 800
    male = rng.random(n) < 0.62
    pclass = rng.choice([1, 2, 3], size=n, p=[0.24, 0.21, 0.55])
    age = np.clip(rng.normal(np.array([0, 39, 31, 25])[pclass], 13), 0.5, 78).round(0)
    child = age < 13
    first, last = _names(rng, n, male)
    married = rng.random(n) < 0.45
    titles = np.where(
        male, np.where(child, "Master", "Mr"), np.where(child | ~married, "Miss", "Mrs")
    )
    titles[rng.random(n) < 0.012] = "Dr"
    fare = np.exp(rng.normal(np.array([0, 4.3, 3.0, 2.2])[pclass], 0.45)).round(2)
    logit = 0.6 + 2.4 * ~male - 1.0 * (pclass - 1) - 0.025 * (age - 30) + 1.0 * child
    survived = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "passenger_id": np.arange(1, n + 1),
            "name": [f"{s}, {t}. {f}" for s, t, f in zip(last, titles, first, strict=True)],
            "sex": np.where(male, "male", "female"),
            "age": age,
            "pclass": pclass,
            "sibsp": rng.poisson(0.5, n),
            "parch": np.where(child, rng.integers(1, 3, n), rng.poisson(0.3, n)),
            "fare": fare,
            "embarked": rng.choice(["S", "C", "Q"], size=n, p=[0.7, 0.2, 0.1]),
            "survived": survived,
        }
    )
    frame.loc[rng.random(n) < 0.18, "age"] = np.nan
    frame.loc[rng.choice(n, 9, replace=False), "fare"] = np.nan
    frame["embarked"] = frame["embarked"].astype(object)
    frame.loc[rng.choice(n, 3, replace=False), "embarked"] = np.nan
    return frame


PRODUCTS = {  # product: (category, list price, mean extra quantity)
    "Laptop": ("Electronics", 899.0, 0.3),
    "Headphones": ("Electronics", 79.0, 1.0),
    "Monitor": ("Electronics", 249.0, 0.6),
    "Desk Chair": ("Furniture", 189.0, 0.8),
    "Standing Desk": ("Furniture", 459.0, 0.2),
    "Notebook": ("Stationery", 4.5, 6.0),
    "Pen Set": ("Stationery", 12.0, 3.0),
    "Backpack": ("Accessories", 49.0, 1.2),
}
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "proton.me", "acme-corp.com")


def orders(rng: np.random.Generator) -> pd.DataFrame:
    n = 1200
    customers = 420
    first, last = _names(rng, customers, rng.random(customers) < 0.5)
    domains = rng.choice(DOMAINS, size=customers, p=[0.42, 0.18, 0.2, 0.08, 0.12])
    emails = [
        f"{f.lower()}.{s.lower()}{i % 97}@{d}"
        for i, (f, s, d) in enumerate(zip(first, last, domains, strict=True))
    ]
    # more orders towards the end of the year: a realistic Q4
    day = np.sort(np.minimum(364, (rng.beta(1.3, 1.0, n) * 365).astype(int)))
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(day, unit="D")
    product = rng.choice(list(PRODUCTS), size=n, p=[0.1, 0.17, 0.12, 0.1, 0.06, 0.2, 0.15, 0.1])
    info = [PRODUCTS[p] for p in product]
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{10001 + i}" for i in range(n)],
            "order_date": dates.strftime("%Y-%m-%d"),
            "customer_email": rng.choice(emails, size=n),
            "region": rng.choice(
                ["North", "South", "East", "West"], size=n, p=[0.3, 0.2, 0.3, 0.2]
            ),
            "product": product,
            "category": [c for c, _, _ in info],
            "quantity": [1 + int(rng.poisson(q)) for _, _, q in info],
            "unit_price": [round(p * (1 + rng.normal(0, 0.04)), 2) for _, p, _ in info],
            "discount": rng.choice([0.0, 0.05, 0.1, 0.2], size=n, p=[0.55, 0.2, 0.15, 0.1]),
            "status": rng.choice(
                ["delivered", "returned", "cancelled"], size=n, p=[0.86, 0.08, 0.06]
            ),
            "shipping_days": rng.integers(1, 9, n).astype(float),
        }
    )
    frame.loc[frame["status"] == "cancelled", "shipping_days"] = np.nan
    frame.loc[rng.random(n) < 0.03, "shipping_days"] = np.nan
    return frame


def weather(rng: np.random.Generator) -> pd.DataFrame:
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    season = -np.cos(2 * np.pi * (np.asarray(days.dayofyear) - 15) / 365)
    rows = []
    # city: (mean temp, seasonal swing, chance of rain, mean rain, humidity)
    for city, (mean, swing, wet, rain, hum) in {
        "Oslo": (6.5, 10.0, 0.48, 4.0, 78),
        "Madrid": (15.5, 9.5, 0.2, 5.0, 55),
        "Chicago": (10.5, 13.0, 0.33, 6.0, 68),
    }.items():
        temp = mean + swing * season + rng.normal(0, 2.8, len(days))
        raining = rng.random(len(days)) < wet * (1 + 0.3 * -season)
        rainfall = np.where(raining, rng.gamma(1.2, rain, len(days)), 0.0)
        humidity = np.clip(hum + 12 * raining - 5 * season + rng.normal(0, 6, len(days)), 15, 100)
        rows.append(
            pd.DataFrame(
                {
                    "date": days.strftime("%Y-%m-%d"),
                    "city": city,
                    "temp_c": temp.round(1),
                    "rainfall_mm": rainfall.round(1),
                    "humidity_pct": humidity.round(0),
                    "wind_kmh": np.abs(rng.normal(14, 6, len(days))).round(1),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame.loc[rng.random(len(frame)) < 0.05, "humidity_pct"] = np.nan
    return frame


DEPARTMENTS = {"Engineering": 82_000, "Sales": 61_000, "Marketing": 64_000, "HR": 55_000,
               "Finance": 71_000}  # fmt: skip
LEVELS = {"Junior": 0.75, "Mid": 1.0, "Senior": 1.35}


def employees(rng: np.random.Generator) -> pd.DataFrame:
    n = 420
    first, last = _names(rng, n, rng.random(n) < 0.55)
    department = rng.choice(list(DEPARTMENTS), size=n, p=[0.32, 0.24, 0.16, 0.1, 0.18])
    level = rng.choice(list(LEVELS), size=n, p=[0.35, 0.4, 0.25])
    hired = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 4380, n), unit="D")
    years = np.asarray((pd.Timestamp("2024-01-01") - hired).days) / 365.25
    base = np.array([DEPARTMENTS[d] * LEVELS[v] for d, v in zip(department, level, strict=True)])
    salary = (base * (1 + 0.012 * years) * rng.lognormal(0, 0.08, n)).round(-2)
    salary[rng.choice(n, 5, replace=False)] = rng.integers(210, 320, 5) * 1000  # executives
    score = np.clip(rng.normal(3.4, 0.7, n) + 0.000004 * (salary - 70_000), 1, 5).round(1)
    logit = -0.8 - 1.1 * (score - 3.4) - 0.00004 * (salary - 70_000)
    frame = pd.DataFrame(
        {
            "emp_id": [f"E{1000 + i}" for i in range(n)],
            "full_name": [f"{f} {s}" for f, s in zip(first, last, strict=True)],
            "department": department,
            "job_level": level,
            "hire_date": hired.strftime("%d/%m/%Y"),
            "salary": salary.astype(int),
            "performance_score": score,
            "remote": rng.choice(["Yes", "No"], size=n, p=[0.35, 0.65]),
            "left_company": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    frame.loc[rng.random(n) < 0.06, "performance_score"] = np.nan
    return frame


NEIGHBOURHOODS = {"Riverside": 30_000, "Hillcrest": 55_000, "Downtown": 80_000, "Oakwood": 0}


def housing(rng: np.random.Generator) -> pd.DataFrame:
    n = 500
    sqft = rng.integers(650, 3600, n)
    bedrooms = np.clip((sqft / 700 + rng.normal(0, 0.7, n)).round(), 1, 6).astype(int)
    bathrooms = np.clip(bedrooms - rng.integers(0, 2, n), 1, 4)
    year = rng.integers(1950, 2022, n)
    garage = (rng.random(n) < 0.6).astype(int)
    place = rng.choice(list(NEIGHBOURHOODS), size=n)
    price = (
        40_000 + 142 * sqft + 9_000 * bedrooms + 6_000 * bathrooms - 750 * (2024 - year)
        + 18_000 * garage + np.array([NEIGHBOURHOODS[p] for p in place])
        + rng.normal(0, 28_000, n)
    ).round(-2)  # fmt: skip
    return pd.DataFrame(
        {
            "house_id": np.arange(1, n + 1),
            "neighborhood": place,
            "sqft": sqft,
            "bedrooms": bedrooms,
            "bathrooms": bathrooms,
            "year_built": year,
            "has_garage": garage,
            "price": price.astype(int),
        }
    )


def sensors(rng: np.random.Generator) -> pd.DataFrame:
    hours = pd.date_range("2024-03-01 00:00", periods=14 * 24, freq="h")
    daily = np.sin(2 * np.pi * (np.asarray(hours.hour) - 9) / 24)
    rows = []
    for sensor, (temp, drift, vib) in {"S1": (21, 0.03, 0.8), "S2": (24, 0.0, 1.1),
                                        "S3": (19, -0.02, 0.6)}.items():  # fmt: skip
        t = temp + 3 * daily + drift * np.arange(len(hours)) / 24 + rng.normal(0, 0.6, len(hours))
        spikes = rng.choice(len(hours), 5, replace=False)
        t[spikes] += rng.choice([-1, 1], 5) * rng.uniform(12, 25, 5)
        vibration = np.abs(rng.normal(vib, 0.15, len(hours)))
        vibration[rng.choice(len(hours), 4, replace=False)] *= rng.uniform(3, 6, 4)
        rows.append(
            pd.DataFrame(
                {
                    "timestamp": hours.strftime("%Y-%m-%d %H:%M:%S"),
                    "sensor_id": sensor,
                    "temperature_c": t.round(2),
                    "pressure_hpa": (1013 + rng.normal(0, 4, len(hours))).round(2),
                    "vibration_mm_s": vibration.round(4),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    for column in ("temperature_c", "pressure_hpa"):
        frame.loc[rng.random(len(frame)) < 0.02, column] = np.nan
    return frame


def build() -> dict[str, bytes]:
    """Every file's bytes, from ``SEED`` (one generator, in a fixed order)."""
    rng = np.random.default_rng(SEED)
    tables = {
        "passengers.csv": (passengers(rng), ","),
        "orders.csv": (orders(rng), ","),
        "weather.tsv": (weather(rng), "\t"),
        "employees.csv": (employees(rng), ";"),
        "housing.csv": (housing(rng), ","),
        "sensors.csv": (sensors(rng), ","),
    }
    files = {}
    for name, (frame, sep) in tables.items():
        text = io.StringIO()
        frame.to_csv(text, sep=sep, index=False, lineterminator="\n")
        files[name] = text.getvalue().encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (args.out / name).write_bytes(data)
        print(f"{args.out / name}: {len(data) / 1000:.0f} kB")


if __name__ == "__main__":
    main()
