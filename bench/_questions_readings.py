"""Data questions on readings: ``weather.tsv`` (tab-separated) and ``sensors.csv`` (hourly).

Each reference reads the files from the working directory and uses nothing but its own body
and ``np`` / ``pd`` (it is sent to the sandbox as it is); see ``_data_questions``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from _data_questions import count, csv_file, num, png_file, question, text

# -- weather (tab-separated) ------------------------------------------------------------------


@question(
    "weather_oslo_july", "summary", "medium", "weather.tsv",
    """
    weather.tsv is a tab-separated file of daily weather. What was the mean temperature
    (temp_c) in Oslo in July 2023? One decimal: @oslo_july[value]
    """,
    num("oslo_july", 1),
)  # fmt: skip
def ref_weather_oslo_july() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t", parse_dates=["date"])
    july = df[(df["city"] == "Oslo") & (df["date"].dt.month == 7)]
    return {"oslo_july": july["temp_c"].mean()}


@question(
    "weather_rainy_days", "dates", "medium", "weather.tsv",
    """
    Count the rainy days (rainfall_mm greater than 0) of each city in weather.tsv (tab
    separated). Which city had the most rainy days in 2023, and how many?
    Format: @rainiest_city[city] @rainy_days[count]
    """,
    text("rainiest_city"), count("rainy_days"),
)  # fmt: skip
def ref_weather_rainy_days() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t")
    days = df[df["rainfall_mm"] > 0].groupby("city").size()
    return {"rainiest_city": days.idxmax(), "rainy_days": days.max()}


@question(
    "weather_rolling_madrid", "dates", "hard", "weather.tsv",
    """
    For Madrid in weather.tsv (tab-separated), compute the 7-day rolling mean of temp_c over
    the days in date order (window of 7 rows ending on the day itself, no partial windows).
    What is its value on 2023-08-15? Round to 2 decimals: @rolling_mean[value]
    """,
    num("rolling_mean", 2),
)  # fmt: skip
def ref_weather_rolling_madrid() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t", parse_dates=["date"])
    madrid = df[df["city"] == "Madrid"].sort_values("date").set_index("date")
    return {"rolling_mean": madrid["temp_c"].rolling(7).mean().loc["2023-08-15"]}


@question(
    "weather_humidity_rain_corr", "correlation", "medium", "weather.tsv",
    """
    What is the Spearman rank correlation between humidity_pct and rainfall_mm across all rows
    of weather.tsv (a TSV file)? Drop rows where humidity is missing. 3 decimals:
    @spearman[value]
    """,
    num("spearman", 3),
)  # fmt: skip
def ref_weather_humidity_rain_corr() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t").dropna(subset=["humidity_pct"])
    return {"spearman": df["humidity_pct"].corr(df["rainfall_mm"], method="spearman")}


@question(
    "weather_interpolate", "cleaning", "hard", "weather.tsv",
    """
    humidity_pct has gaps in weather.tsv (tab-separated). How many values are missing? Fill
    them by linear interpolation within each city, in date order, and then give Chicago's
    mean humidity for the year with 2 decimals.
    Format: @missing_humidity[count] @chicago_humidity[value]
    """,
    count("missing_humidity"), num("chicago_humidity", 2),
)  # fmt: skip
def ref_weather_interpolate() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t").sort_values(["city", "date"])
    missing = df["humidity_pct"].isna().sum()
    df["humidity_pct"] = df.groupby("city")["humidity_pct"].transform(
        lambda s: s.interpolate(method="linear", limit_direction="both")
    )
    return {
        "missing_humidity": missing,
        "chicago_humidity": df.loc[df["city"] == "Chicago", "humidity_pct"].mean(),
    }


@question(
    "weather_chicago_wettest", "groupby", "medium", "weather.tsv",
    """
    In which month did Chicago get the most rain in total, according to weather.tsv (tab
    separated)? Give the month number and the total rainfall in mm with 1 decimal:
    @wettest_month[month] @rain_mm[value]
    """,
    count("wettest_month"), num("rain_mm", 1),
)  # fmt: skip
def ref_weather_chicago_wettest() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t", parse_dates=["date"])
    chicago = df[df["city"] == "Chicago"]
    totals = chicago.groupby(chicago["date"].dt.month)["rainfall_mm"].sum()
    return {"wettest_month": totals.idxmax(), "rain_mm": totals.max()}


@question(
    "weather_temperature_plot", "plot", "easy", "weather.tsv",
    """
    Plot the daily temperature of each city in weather.tsv (tab-separated) as lines on one
    chart, one line per city, and save it as temperatures.png. Which city was warmest on
    average over the year? Format: @warmest_city[city]
    """,
    png_file("temperatures.png"), text("warmest_city"),
)  # fmt: skip
def ref_weather_temperature_plot() -> dict[str, Any]:
    import matplotlib.pyplot as plt

    df = pd.read_csv("weather.tsv", sep="\t", parse_dates=["date"])
    for city, rows in df.groupby("city"):
        plt.plot(rows["date"], rows["temp_c"], label=city)
    plt.legend()
    plt.savefig("temperatures.png")
    return {"warmest_city": df.groupby("city")["temp_c"].mean().idxmax()}


@question(
    "weather_madrid_humidity_fit", "regression", "medium", "weather.tsv",
    """
    For Madrid only (weather.tsv, tab-separated), fit an ordinary least squares line
    humidity_pct = a + b * temp_c, skipping days with missing humidity. Report the slope b
    (3 decimals) and the intercept a (2 decimals) as @slope[value] @intercept[value].
    """,
    num("slope", 3), num("intercept", 2),
)  # fmt: skip
def ref_weather_madrid_humidity_fit() -> dict[str, Any]:
    df = pd.read_csv("weather.tsv", sep="\t")
    madrid = df[df["city"] == "Madrid"].dropna(subset=["humidity_pct"])
    slope, intercept = np.polyfit(madrid["temp_c"], madrid["humidity_pct"], 1)
    return {"slope": slope, "intercept": intercept}


# -- sensors ----------------------------------------------------------------------------------
@question(
    "sensors_zscore", "outliers", "hard", "sensors.csv",
    """
    sensors.csv has hourly readings of three sensors. Flag temperature outliers per sensor:
    for each sensor_id separately, z = (temperature_c - that sensor's mean) / that sensor's
    sample standard deviation (ddof=1), ignoring missing readings; an outlier has |z| > 3.
    How many outliers are there in total? Format: @temp_outliers[count]
    """,
    count("temp_outliers"),
)  # fmt: skip
def ref_sensors_zscore() -> dict[str, Any]:
    df = pd.read_csv("sensors.csv")
    by_sensor = df.groupby("sensor_id")["temperature_c"]
    z = (df["temperature_c"] - by_sensor.transform("mean")) / by_sensor.transform("std")
    return {"temp_outliers": (z.abs() > 3).sum()}


@question(
    "sensors_vibration_iqr", "outliers", "medium", "sensors.csv",
    """
    Remove the vibration outliers from sensors.csv with the 1.5 x IQR rule on
    vibration_mm_s over all rows (quartiles from pandas' quantile, default interpolation).
    How many rows are removed, and what is the mean vibration of the remaining rows (4
    decimals)? Format: @removed[count] @mean_vibration[value]
    """,
    count("removed"), num("mean_vibration", 4),
)  # fmt: skip
def ref_sensors_vibration_iqr() -> dict[str, Any]:
    vibration = pd.read_csv("sensors.csv")["vibration_mm_s"]
    q1, q3 = vibration.quantile(0.25), vibration.quantile(0.75)
    keep = vibration.between(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    return {"removed": (~keep).sum(), "mean_vibration": vibration[keep].mean()}


@question(
    "sensors_hottest_day", "dates", "medium", "sensors.csv",
    """
    For sensor S2 in sensors.csv, average temperature_c per calendar day (ignore missing
    readings). Which day had the highest daily mean? Format: @hottest_day[YYYY-MM-DD]
    """,
    text("hottest_day"),
)  # fmt: skip
def ref_sensors_hottest_day() -> dict[str, Any]:
    df = pd.read_csv("sensors.csv", parse_dates=["timestamp"])
    s2 = df[df["sensor_id"] == "S2"].set_index("timestamp")
    daily = s2["temperature_c"].resample("D").mean()
    return {"hottest_day": daily.idxmax().strftime("%Y-%m-%d")}


@question(
    "sensors_clean", "cleaning", "medium", "sensors.csv",
    """
    Drop every row of sensors.csv that has a missing value in any column, save the result as
    clean_sensors.csv (same columns), and tell me how many rows are left:
    @rows_left[count]
    """,
    csv_file("clean_sensors.csv", key="timestamp,sensor_id"), count("rows_left"),
)  # fmt: skip
def ref_sensors_clean() -> dict[str, Any]:
    clean = pd.read_csv("sensors.csv").dropna()
    clean.to_csv("clean_sensors.csv", index=False)
    return {"rows_left": len(clean)}


@question(
    "sensors_max_pressure", "summary", "easy", "sensors.csv",
    """
    What is the highest pressure_hpa in sensors.csv, and which sensor recorded it?
    Answer as @max_pressure[value with 2 decimals] @sensor[sensor id]
    """,
    num("max_pressure", 2), text("sensor"),
)  # fmt: skip
def ref_sensors_max_pressure() -> dict[str, Any]:
    df = pd.read_csv("sensors.csv")
    row = df.loc[df["pressure_hpa"].idxmax()]
    return {"max_pressure": row["pressure_hpa"], "sensor": row["sensor_id"]}


@question(
    "sensors_most_vibration", "summary", "easy", "sensors.csv",
    """
    Which sensor in sensors.csv vibrates the most on average (mean of vibration_mm_s)? Just
    tell me its id.
    """,
    text("sensor"),
    form="plain",
)  # fmt: skip
def ref_sensors_most_vibration() -> dict[str, Any]:
    means = pd.read_csv("sensors.csv").groupby("sensor_id")["vibration_mm_s"].mean()
    return {"sensor": means.idxmax()}


@question(
    "sensors_trend", "regression", "hard", "sensors.csv",
    """
    Is sensor S1 in sensors.csv drifting? Take its daily mean temperature_c (missing readings
    ignored), number the days 0, 1, 2, ... from 2024-03-01, and fit a least-squares straight
    line (for example numpy.polyfit with degree 1). Report the slope in degrees per day with 3
    decimals: @slope_per_day[value]
    """,
    num("slope_per_day", 3),
)  # fmt: skip
def ref_sensors_trend() -> dict[str, Any]:
    df = pd.read_csv("sensors.csv", parse_dates=["timestamp"])
    s1 = df[df["sensor_id"] == "S1"].set_index("timestamp")
    daily = s1["temperature_c"].resample("D").mean()
    slope, _ = np.polyfit(np.arange(len(daily)), daily.to_numpy(), 1)
    return {"slope_per_day": slope}
