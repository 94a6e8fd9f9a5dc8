"""Data questions on people: ``passengers.csv`` and ``employees.csv`` (semicolon-separated).

Each reference reads the files from the working directory and uses nothing but its own body
and ``np`` / ``pd`` (it is sent to the sandbox as it is); see ``_data_questions``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from _data_questions import count, num, png_file, question, text


# -- passengers -------------------------------------------------------------------------------
@question(
    "passengers_mean_fare_c", "summary", "easy", "passengers.csv",
    """
    In passengers.csv, what was the mean ticket fare of the passengers who embarked at port C?
    Leave out passengers whose fare is unknown. Round to 2 decimal places.
    Answer format: @mean_fare_c[value]
    """,
    num("mean_fare_c", 2),
)  # fmt: skip
def ref_passengers_mean_fare_c() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    return {"mean_fare_c": df.loc[df["embarked"] == "C", "fare"].dropna().mean()}


@question(
    "passengers_median_age", "summary", "medium", "passengers.csv",
    """
    Using passengers.csv: what is the median age of the passengers who survived
    (survived = 1), and of those who did not? Ignore missing ages.
    Give both with one decimal as @median_age_survived[value] and @median_age_died[value].
    """,
    num("median_age_survived", 1), num("median_age_died", 1),
)  # fmt: skip
def ref_passengers_median_age() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    medians = df.dropna(subset=["age"]).groupby("survived")["age"].median()
    return {"median_age_survived": medians[1], "median_age_died": medians[0]}


@question(
    "passengers_fill_age", "cleaning", "medium", "passengers.csv",
    """
    The age column of passengers.csv has gaps. How many ages are missing? Then fill each
    missing age with the median age of passengers in the same class (pclass), computed from
    the known ages, and report the mean age of all passengers after filling, rounded to 2
    decimals.
    Format: @missing_age[count] @mean_age_filled[value]
    """,
    count("missing_age"), num("mean_age_filled", 2),
)  # fmt: skip
def ref_passengers_fill_age() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    missing = df["age"].isna().sum()
    filled = df["age"].fillna(df.groupby("pclass")["age"].transform("median"))
    return {"missing_age": missing, "mean_age_filled": filled.mean()}


@question(
    "passengers_survival_by_class", "groupby", "medium", "passengers.csv",
    """
    What percentage of first-class passengers survived, and what percentage of third-class
    passengers (pclass 1 and 3 in passengers.csv)? Percent with one decimal, e.g. 45.3.
    Reply as @survival_first[percent] @survival_third[percent]
    """,
    num("survival_first", 1), num("survival_third", 1),
)  # fmt: skip
def ref_passengers_survival_by_class() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    rate = df.groupby("pclass")["survived"].mean() * 100
    return {"survival_first": rate[1], "survival_third": rate[3]}


@question(
    "passengers_titles", "text", "medium", "passengers.csv",
    """
    Names in passengers.csv look like "Surname, Title. Firstname". Extract the title (the
    word between the comma and the period). Which title is the most common among female
    passengers, and how many passengers in total have the title Dr?
    Answer with @female_title[title] and @doctors[count].
    """,
    text("female_title"), count("doctors"),
)  # fmt: skip
def ref_passengers_titles() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    title = df["name"].str.extract(r",\s*([^.]+)\.")[0].str.strip()
    female = title[df["sex"] == "female"].value_counts()
    return {"female_title": female.index[0], "doctors": (title == "Dr").sum()}


@question(
    "passengers_logreg", "classification", "hard", "passengers.csv",
    """
    Train a logistic regression that predicts survived in passengers.csv from pclass, sex
    (male = 1, female = 0), age and fare. Fill missing age and fare with the median of that
    column over the whole file first. Split with sklearn's train_test_split(test_size=0.25,
    random_state=42), fit LogisticRegression(max_iter=1000) on the training part and report
    the accuracy on the test part with 3 decimals.
    Format: @accuracy[value]
    """,
    num("accuracy", 3),
)  # fmt: skip
def ref_passengers_logreg() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    df = pd.read_csv("passengers.csv")
    df["sex"] = (df["sex"] == "male").astype(int)
    for column in ("age", "fare"):
        df[column] = df[column].fillna(df[column].median())
    x, y = df[["pclass", "sex", "age", "fare"]], df["survived"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=42)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return {"accuracy": model.score(x_test, y_test)}


@question(
    "passengers_knn", "classification", "hard", "passengers.csv",
    """
    With passengers.csv, drop the rows whose fare is missing, then predict survived with a
    k-nearest-neighbours classifier (k = 5) on the features pclass, sibsp, parch and fare.
    Split 70/30 with train_test_split(test_size=0.3, random_state=7, stratify=survived),
    standardise the features with a StandardScaler fitted on the training rows only, and
    report the test accuracy (3 decimals) as @knn_accuracy[value].
    """,
    num("knn_accuracy", 3),
)  # fmt: skip
def ref_passengers_knn() -> dict[str, Any]:
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv("passengers.csv").dropna(subset=["fare"])
    x, y = df[["pclass", "sibsp", "parch", "fare"]], df["survived"]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=7, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    model = KNeighborsClassifier(n_neighbors=5).fit(scaler.transform(x_train), y_train)
    return {"knn_accuracy": model.score(scaler.transform(x_test), y_test)}


@question(
    "passengers_tree", "classification", "medium", "passengers.csv",
    """
    Fit a DecisionTreeClassifier(max_depth=3, random_state=0) that predicts survived from
    sex (male = 1, female = 0), pclass and fare in passengers.csv (missing fares replaced by
    the median fare). Use train_test_split(test_size=0.2, random_state=0). What is the test
    accuracy (3 decimals), and which of the three features has the largest feature
    importance? Format: @tree_accuracy[value] @top_feature[column name]
    """,
    num("tree_accuracy", 3), text("top_feature"),
)  # fmt: skip
def ref_passengers_tree() -> dict[str, Any]:
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    df = pd.read_csv("passengers.csv")
    df["sex"] = (df["sex"] == "male").astype(int)
    df["fare"] = df["fare"].fillna(df["fare"].median())
    features = ["sex", "pclass", "fare"]
    x_train, x_test, y_train, y_test = train_test_split(
        df[features], df["survived"], test_size=0.2, random_state=0
    )
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x_train, y_train)
    top = features[int(np.argmax(model.feature_importances_))]
    return {"tree_accuracy": model.score(x_test, y_test), "top_feature": top}


@question(
    "passengers_ports_plot", "plot", "easy", "passengers.csv",
    """
    Draw a bar chart of how many passengers embarked at each port in passengers.csv and save
    it as ports.png. Which port had the most passengers? Answer as @top_port[port code].
    """,
    png_file("ports.png"), text("top_port"),
)  # fmt: skip
def ref_passengers_ports_plot() -> dict[str, Any]:
    import matplotlib.pyplot as plt

    counts = pd.read_csv("passengers.csv")["embarked"].value_counts()
    counts.plot.bar(color="tab:blue")
    plt.savefig("ports.png")
    return {"top_port": counts.index[0]}


@question(
    "passengers_age_fare_corr", "correlation", "easy", "passengers.csv",
    """
    Is age related to fare in passengers.csv? Compute the Pearson correlation between age and
    fare over the passengers for whom both are known. Round to three decimals.
    Format: @corr_age_fare[value]
    """,
    num("corr_age_fare", 3),
)  # fmt: skip
def ref_passengers_age_fare_corr() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv").dropna(subset=["age", "fare"])
    return {"corr_age_fare": df["age"].corr(df["fare"])}


@question(
    "passengers_third_survivors", "summary", "easy", "passengers.csv",
    """
    How many third-class passengers (pclass 3) in passengers.csv survived? Just tell me the
    number in a sentence.
    """,
    count("third_survivors"),
    form="plain",
)  # fmt: skip
def ref_passengers_third_survivors() -> dict[str, Any]:
    df = pd.read_csv("passengers.csv")
    return {"third_survivors": ((df["pclass"] == 3) & (df["survived"] == 1)).sum()}


# -- employees (semicolon-separated, dates as day/month/year) ---------------------------------
@question(
    "employees_top_department", "groupby", "easy", "employees.csv",
    """
    employees.csv is separated by semicolons. Which department has the highest average
    salary, and what is that average (2 decimals)?
    Answer: @top_department[name] @avg_salary[value]
    """,
    text("top_department"), num("avg_salary", 2),
)  # fmt: skip
def ref_employees_top_department() -> dict[str, Any]:
    means = pd.read_csv("employees.csv", sep=";").groupby("department")["salary"].mean()
    return {"top_department": means.idxmax(), "avg_salary": means.max()}


@question(
    "employees_hires", "dates", "medium", "employees.csv",
    """
    In employees.csv (semicolon-separated; hire_date is day/month/year), how many people
    were hired in 2019, and which year had the most hires?
    Format: @hired_2019[count] @busiest_year[year]
    """,
    count("hired_2019"), count("busiest_year"),
)  # fmt: skip
def ref_employees_hires() -> dict[str, Any]:
    df = pd.read_csv("employees.csv", sep=";")
    year = pd.to_datetime(df["hire_date"], format="%d/%m/%Y").dt.year
    return {"hired_2019": (year == 2019).sum(), "busiest_year": year.value_counts().idxmax()}


@question(
    "employees_tenure", "dates", "hard", "employees.csv",
    """
    What is the average tenure of the employees in employees.csv on 2024-01-01, in years?
    Tenure = days between hire_date (day/month/year format) and 2024-01-01, divided by
    365.25. The file uses ; as separator. Round to 2 decimals: @mean_tenure[value]
    """,
    num("mean_tenure", 2),
)  # fmt: skip
def ref_employees_tenure() -> dict[str, Any]:
    hired = pd.to_datetime(pd.read_csv("employees.csv", sep=";")["hire_date"], format="%d/%m/%Y")
    return {"mean_tenure": ((pd.Timestamp("2024-01-01") - hired).dt.days / 365.25).mean()}


@question(
    "employees_salary_score_corr", "correlation", "easy", "employees.csv",
    """
    How strongly is salary correlated with performance_score in employees.csv (sep=";")?
    Use the Pearson coefficient and skip rows with a missing score. Three decimals.
    Format: @corr[value]
    """,
    num("corr", 3),
)  # fmt: skip
def ref_employees_salary_score_corr() -> dict[str, Any]:
    df = pd.read_csv("employees.csv", sep=";").dropna(subset=["performance_score"])
    return {"corr": df["salary"].corr(df["performance_score"])}


@question(
    "employees_remote_seniors", "groupby", "medium", "employees.csv",
    """
    What is the median salary of Senior employees (job_level) who work remotely (remote is
    Yes) in employees.csv? It is semicolon-separated. Give a whole number:
    @median_salary[value]
    """,
    num("median_salary", 0),
)  # fmt: skip
def ref_employees_remote_seniors() -> dict[str, Any]:
    df = pd.read_csv("employees.csv", sep=";")
    chosen = df[(df["job_level"] == "Senior") & (df["remote"] == "Yes")]
    return {"median_salary": chosen["salary"].median()}


@question(
    "employees_salary_outliers", "outliers", "medium", "employees.csv",
    """
    Find salary outliers in employees.csv (semicolon-separated) with a z-score rule: z =
    (salary - mean) / standard deviation, using the sample standard deviation (ddof=1) of the
    whole column; an outlier has |z| > 3. How many are there, and what is the lowest salary
    among them? Format: @n_outliers[count] @lowest_outlier[salary]
    """,
    count("n_outliers"), num("lowest_outlier", 0),
)  # fmt: skip
def ref_employees_salary_outliers() -> dict[str, Any]:
    salary = pd.read_csv("employees.csv", sep=";")["salary"]
    z = (salary - salary.mean()) / salary.std()
    outliers = salary[z.abs() > 3]
    return {"n_outliers": len(outliers), "lowest_outlier": outliers.min()}


@question(
    "employees_attrition_tree", "classification", "hard", "employees.csv",
    """
    Can we predict who leaves? In employees.csv (sep ";"), drop rows with a missing
    performance_score, then train DecisionTreeClassifier(max_depth=4, random_state=0) to
    predict left_company from salary and performance_score. Split with
    train_test_split(test_size=0.3, random_state=0). Report the test accuracy (3 decimals) and
    the number of test rows. Format: @accuracy[value] @test_rows[count]
    """,
    num("accuracy", 3), count("test_rows"),
)  # fmt: skip
def ref_employees_attrition_tree() -> dict[str, Any]:
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    df = pd.read_csv("employees.csv", sep=";").dropna(subset=["performance_score"])
    x_train, x_test, y_train, y_test = train_test_split(
        df[["salary", "performance_score"]], df["left_company"], test_size=0.3, random_state=0
    )
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x_train, y_train)
    return {"accuracy": model.score(x_test, y_test), "test_rows": len(x_test)}


@question(
    "employees_names", "text", "easy", "employees.csv",
    """
    full_name in employees.csv (semicolon-separated) is "First Last". How many employees have
    a surname starting with the letter M, and how many different first names are there?
    Format: @m_surnames[count] @first_names[count]
    """,
    count("m_surnames"), count("first_names"),
)  # fmt: skip
def ref_employees_names() -> dict[str, Any]:
    parts = pd.read_csv("employees.csv", sep=";")["full_name"].str.split(" ", n=1, expand=True)
    return {"m_surnames": parts[1].str.startswith("M").sum(), "first_names": parts[0].nunique()}


@question(
    "employees_usernames", "text", "medium", "employees.csv",
    """
    We want to give every employee in employees.csv (separator ;) a username: the first letter
    of the first name followed by the surname, all lower case (Charles Stone -> cstone). How
    many different usernames would be shared by two or more employees, and how many
    employees have such a shared username?
    Answer as @shared_usernames[count] @employees_affected[count]
    """,
    count("shared_usernames"), count("employees_affected"),
)  # fmt: skip
def ref_employees_usernames() -> dict[str, Any]:
    parts = pd.read_csv("employees.csv", sep=";")["full_name"].str.split(" ", n=1, expand=True)
    names = (parts[0].str[0] + parts[1]).str.lower().value_counts()
    shared = names[names > 1]
    return {"shared_usernames": len(shared), "employees_affected": shared.sum()}


@question(
    "employees_fill_scores", "cleaning", "medium", "employees.csv",
    """
    Some performance_score values in employees.csv (semicolon separated) are blank. How many?
    Replace each blank with the mean score of the employee's department (from the known
    scores) and give the overall mean score afterwards, to 3 decimals.
    Format: @missing_scores[count] @mean_score[value]
    """,
    count("missing_scores"), num("mean_score", 3),
)  # fmt: skip
def ref_employees_fill_scores() -> dict[str, Any]:
    df = pd.read_csv("employees.csv", sep=";")
    score = df["performance_score"]
    filled = score.fillna(df.groupby("department")["performance_score"].transform("mean"))
    return {"missing_scores": score.isna().sum(), "mean_score": filled.mean()}
