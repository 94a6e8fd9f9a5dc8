"""Data questions on sales: ``orders.csv`` (a year of retail orders) and ``housing.csv``.

Each reference reads the files from the working directory and uses nothing but its own body
and ``np`` / ``pd`` (it is sent to the sandbox as it is); see ``_data_questions``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from _data_questions import count, csv_file, num, png_file, question, text

# -- orders -----------------------------------------------------------------------------------


@question(
    "orders_net_revenue", "summary", "medium", "orders.csv",
    """
    What was the total net revenue in orders.csv? Net revenue of an order is quantity *
    unit_price * (1 - discount). Do not count orders whose status is cancelled. Round to 2
    decimals. Format: @net_revenue[value]
    """,
    num("net_revenue", 2),
)  # fmt: skip
def ref_orders_net_revenue() -> dict[str, Any]:
    df = pd.read_csv("orders.csv")
    df = df[df["status"] != "cancelled"]
    return {"net_revenue": (df["quantity"] * df["unit_price"] * (1 - df["discount"])).sum()}


@question(
    "orders_top_region", "groupby", "medium", "orders.csv",
    """
    Which region brought in the most net revenue (quantity x unit_price x (1 - discount)),
    leaving out cancelled orders? Use orders.csv. Give the region and its net revenue rounded
    to 2 decimals as @top_region[region] @region_revenue[value].
    """,
    text("top_region"), num("region_revenue", 2),
)  # fmt: skip
def ref_orders_top_region() -> dict[str, Any]:
    df = pd.read_csv("orders.csv")
    df = df[df["status"] != "cancelled"]
    revenue = (df["quantity"] * df["unit_price"] * (1 - df["discount"])).groupby(df["region"]).sum()
    return {"top_region": revenue.idxmax(), "region_revenue": revenue.max()}


@question(
    "orders_category_quantity", "groupby", "easy", "orders.csv",
    """
    For each product category in orders.csv, compute the average quantity per order. Which
    category has the highest average, and what is it (2 decimals)?
    Format: @category[name] @avg_quantity[value]
    """,
    text("category"), num("avg_quantity", 2),
)  # fmt: skip
def ref_orders_category_quantity() -> dict[str, Any]:
    means = pd.read_csv("orders.csv").groupby("category")["quantity"].mean()
    return {"category": means.idxmax(), "avg_quantity": means.max()}


@question(
    "orders_busiest_month", "dates", "medium", "orders.csv",
    """
    Which month of 2023 had the most orders in orders.csv (count every row, whatever its
    status), and how many orders were placed in it? Give the month as a number 1-12.
    Format: @busiest_month[month] @orders[count]
    """,
    count("busiest_month"), count("orders"),
)  # fmt: skip
def ref_orders_busiest_month() -> dict[str, Any]:
    month = pd.to_datetime(pd.read_csv("orders.csv")["order_date"]).dt.month.value_counts()
    return {"busiest_month": month.idxmax(), "orders": month.max()}


@question(
    "orders_q4_revenue", "dates", "medium", "orders.csv",
    """
    How much net revenue (quantity * unit_price * (1 - discount)) came from orders placed in
    the fourth quarter (October to December 2023) in orders.csv, not counting cancelled
    orders? Two decimals please: @q4_revenue[value]
    """,
    num("q4_revenue", 2),
)  # fmt: skip
def ref_orders_q4_revenue() -> dict[str, Any]:
    df = pd.read_csv("orders.csv", parse_dates=["order_date"])
    df = df[(df["status"] != "cancelled") & (df["order_date"].dt.quarter == 4)]
    return {"q4_revenue": (df["quantity"] * df["unit_price"] * (1 - df["discount"])).sum()}


@question(
    "orders_weekday", "dates", "medium", "orders.csv",
    """
    On which day of the week were the most orders placed (orders.csv, order_date)? Give the
    English day name, e.g. Tuesday. Format: @weekday[day]
    """,
    text("weekday"),
)  # fmt: skip
def ref_orders_weekday() -> dict[str, Any]:
    days = pd.to_datetime(pd.read_csv("orders.csv")["order_date"]).dt.day_name()
    return {"weekday": days.value_counts().idxmax()}


@question(
    "orders_email_domains", "text", "medium", "orders.csv",
    """
    Look at customer_email in orders.csv. Counting each distinct e-mail address once, which
    e-mail domain (the part after the @) is the most common, and how many distinct customers
    (e-mail addresses) are there?
    Format: @top_domain[domain] @customers[count]
    """,
    text("top_domain"), count("customers"),
)  # fmt: skip
def ref_orders_email_domains() -> dict[str, Any]:
    emails = pd.Series(pd.read_csv("orders.csv")["customer_email"].unique())
    domains = emails.str.split("@").str[1].value_counts()
    return {"top_domain": domains.idxmax(), "customers": len(emails)}


@question(
    "orders_big_orders", "cleaning", "easy", "orders.csv",
    """
    Find the orders in orders.csv whose gross value (quantity times unit_price, before any
    discount) is above 1000. Save them, with all the original columns, as big_orders.csv, and
    tell me how many there are as @big_orders[count].
    """,
    csv_file("big_orders.csv", key="order_id"), count("big_orders"),
)  # fmt: skip
def ref_orders_big_orders() -> dict[str, Any]:
    df = pd.read_csv("orders.csv")
    big = df[df["quantity"] * df["unit_price"] > 1000]
    big.to_csv("big_orders.csv", index=False)
    return {"big_orders": len(big)}


@question(
    "orders_shipping", "cleaning", "easy", "orders.csv",
    """
    How many orders in orders.csv have no shipping_days value? And what is the median
    shipping_days of the orders in the West region that do have one (1 decimal)?
    Format: @missing_shipping[count] @median_west[value]
    """,
    count("missing_shipping"), num("median_west", 1),
)  # fmt: skip
def ref_orders_shipping() -> dict[str, Any]:
    df = pd.read_csv("orders.csv")
    west = df.loc[df["region"] == "West", "shipping_days"].dropna()
    return {"missing_shipping": df["shipping_days"].isna().sum(), "median_west": west.median()}


@question(
    "orders_monthly_plot", "plot", "medium", "orders.csv",
    """
    Plot the net revenue per month of 2023 from orders.csv as a bar chart (net revenue =
    quantity * unit_price * (1 - discount), cancelled orders excluded) and save it as
    monthly_revenue.png. Which month (1-12) had the highest net revenue?
    Format: @top_month[month]
    """,
    png_file("monthly_revenue.png"), count("top_month"),
)  # fmt: skip
def ref_orders_monthly_plot() -> dict[str, Any]:
    import matplotlib.pyplot as plt

    df = pd.read_csv("orders.csv", parse_dates=["order_date"])
    df = df[df["status"] != "cancelled"]
    net = df["quantity"] * df["unit_price"] * (1 - df["discount"])
    monthly = net.groupby(df["order_date"].dt.month).sum()
    monthly.plot.bar(color="tab:orange")
    plt.savefig("monthly_revenue.png")
    return {"top_month": monthly.idxmax()}


@question(
    "orders_value_outliers", "outliers", "medium", "orders.csv",
    """
    Using the IQR rule, how many orders in orders.csv have an unusual gross value (quantity *
    unit_price)? Q1 and Q3 are the 25th and 75th percentiles (pandas quantile, linear
    interpolation); an outlier is below Q1 - 1.5*IQR or above Q3 + 1.5*IQR.
    Format: @value_outliers[count] @upper_fence[value with 2 decimals]
    """,
    count("value_outliers"), num("upper_fence", 2),
)  # fmt: skip
def ref_orders_value_outliers() -> dict[str, Any]:
    df = pd.read_csv("orders.csv")
    value = df["quantity"] * df["unit_price"]
    q1, q3 = value.quantile(0.25), value.quantile(0.75)
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return {"value_outliers": ((value < low) | (value > high)).sum(), "upper_fence": high}


@question(
    "orders_returned_share", "summary", "easy", "orders.csv",
    """
    What percentage of the orders in orders.csv were returned (status "returned")? One
    decimal is enough; just answer in a sentence.
    """,
    num("returned_pct", 1),
    form="plain",
)  # fmt: skip
def ref_orders_returned_share() -> dict[str, Any]:
    status = pd.read_csv("orders.csv")["status"]
    return {"returned_pct": (status == "returned").mean() * 100}


@question(
    "orders_discount_corr", "correlation", "medium", "orders.csv",
    """
    Do bigger discounts go with bigger quantities in orders.csv? Run scipy.stats.pearsonr on
    discount and quantity and report the coefficient and the p-value, both to 3 decimals.
    Format: @r[value] @p_value[value]
    """,
    num("r", 3), num("p_value", 3),
)  # fmt: skip
def ref_orders_discount_corr() -> dict[str, Any]:
    from scipy import stats

    df = pd.read_csv("orders.csv")
    result = stats.pearsonr(df["discount"], df["quantity"])
    return {"r": result.statistic, "p_value": result.pvalue}


# -- housing ----------------------------------------------------------------------------------
@question(
    "housing_simple_regression", "regression", "medium", "housing.csv",
    """
    Fit a simple linear regression of price on sqft for the houses in housing.csv. What is the
    slope (price per extra square foot, 2 decimals) and the R-squared (3 decimals)?
    Format: @slope[value] @r2[value]
    """,
    num("slope", 2), num("r2", 3),
)  # fmt: skip
def ref_housing_simple_regression() -> dict[str, Any]:
    from sklearn.linear_model import LinearRegression

    df = pd.read_csv("housing.csv")
    model = LinearRegression().fit(df[["sqft"]], df["price"])
    return {"slope": model.coef_[0], "r2": model.score(df[["sqft"]], df["price"])}


@question(
    "housing_ols", "regression", "hard", "housing.csv",
    """
    With statsmodels, fit an OLS model (with an intercept) of price on sqft, bedrooms,
    bathrooms, age and has_garage for housing.csv, where age = 2024 - year_built. Report the
    coefficient of has_garage rounded to a whole number and the adjusted R-squared to 3
    decimals. Format: @garage_coef[value] @adj_r2[value]
    """,
    num("garage_coef", 0), num("adj_r2", 3),
)  # fmt: skip
def ref_housing_ols() -> dict[str, Any]:
    import statsmodels.api as sm

    df = pd.read_csv("housing.csv")
    df["age"] = 2024 - df["year_built"]
    x = sm.add_constant(df[["sqft", "bedrooms", "bathrooms", "age", "has_garage"]])
    fit = sm.OLS(df["price"], x).fit()
    return {"garage_coef": fit.params["has_garage"], "adj_r2": fit.rsquared_adj}


@question(
    "housing_rmse", "regression", "hard", "housing.csv",
    """
    Split housing.csv with train_test_split(test_size=0.2, random_state=1), train a
    LinearRegression on sqft, bedrooms, bathrooms, year_built and has_garage to predict price,
    and compute the root mean squared error on the test set, rounded to a whole number.
    Format: @rmse[value]
    """,
    num("rmse", 0),
)  # fmt: skip
def ref_housing_rmse() -> dict[str, Any]:
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split

    df = pd.read_csv("housing.csv")
    x = df[["sqft", "bedrooms", "bathrooms", "year_built", "has_garage"]]
    x_train, x_test, y_train, y_test = train_test_split(
        x, df["price"], test_size=0.2, random_state=1
    )
    predicted = LinearRegression().fit(x_train, y_train).predict(x_test)
    return {"rmse": float(np.sqrt(np.mean((predicted - y_test) ** 2)))}


@question(
    "housing_cheapest_area", "groupby", "easy", "housing.csv",
    """
    Which neighborhood in housing.csv has the lowest median house price, and what is that
    median? Format: @neighborhood[name] @median_price[value, no decimals]
    """,
    text("neighborhood"), num("median_price", 0),
)  # fmt: skip
def ref_housing_cheapest_area() -> dict[str, Any]:
    medians = pd.read_csv("housing.csv").groupby("neighborhood")["price"].median()
    return {"neighborhood": medians.idxmin(), "median_price": medians.min()}


@question(
    "housing_size_stats", "summary", "easy", "housing.csv",
    """
    Two numbers from housing.csv: the standard deviation of sqft (sample, ddof=1) and the
    average price per square foot (compute price / sqft for each house, then take the mean).
    Both with 2 decimals: @sqft_std[value] @price_per_sqft[value]
    """,
    num("sqft_std", 2), num("price_per_sqft", 2),
)  # fmt: skip
def ref_housing_size_stats() -> dict[str, Any]:
    df = pd.read_csv("housing.csv")
    return {"sqft_std": df["sqft"].std(), "price_per_sqft": (df["price"] / df["sqft"]).mean()}


@question(
    "housing_scatter", "plot", "medium", "housing.csv",
    """
    Make a scatter plot of price against sqft from housing.csv and save it as
    price_vs_sqft.png. Also give the Pearson correlation between the two, 3 decimals, as
    @corr[value].
    """,
    png_file("price_vs_sqft.png"), num("corr", 3),
)  # fmt: skip
def ref_housing_scatter() -> dict[str, Any]:
    import matplotlib.pyplot as plt

    df = pd.read_csv("housing.csv")
    plt.scatter(df["sqft"], df["price"], color="tab:green", s=8)
    plt.savefig("price_vs_sqft.png")
    return {"corr": df["sqft"].corr(df["price"])}


@question(
    "housing_garage_big", "summary", "easy", "housing.csv",
    """
    How many houses in housing.csv have a garage (has_garage is 1) and at least 4 bedrooms?
    Answer in one sentence.
    """,
    count("garage_big"),
    form="plain",
)  # fmt: skip
def ref_housing_garage_big() -> dict[str, Any]:
    df = pd.read_csv("housing.csv")
    return {"garage_big": ((df["has_garage"] == 1) & (df["bedrooms"] >= 4)).sum()}
