#!/usr/bin/env python3
"""Read a `titrate export` folder the way a researcher would: pandas.read_csv(path), no
arguments. Check that numeric columns come out numeric, that every "NA" is read as missing
(NaN) and nothing else is, and the row counts; print a summary.

    python3 tests/reference/export_check.py DIR [--events N] [--courses N] [--quality N]

The codebook (codebook.csv) says each column's type. The raw text is also read with the
standard csv module, independently of pandas, to know where the NA cells are.
Exit status 0 when every check holds, 1 (with the failures listed) otherwise.
"""

import argparse
import csv
import os
import sys

import pandas

DATA_FILES = ["events.csv", "courses.csv", "data_quality.csv"]
NUMERIC = {"integer", "number", "0/1"}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def raw_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def is_text_dtype(dtype):
    return pandas.api.types.is_object_dtype(dtype) or pandas.api.types.is_string_dtype(dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--events", type=int)
    ap.add_argument("--courses", type=int)
    ap.add_argument("--quality", type=int)
    args = ap.parse_args()
    expected = {
        "events.csv": args.events,
        "courses.csv": args.courses,
        "data_quality.csv": args.quality,
    }

    path = lambda name: os.path.join(args.dir, name)  # noqa: E731
    codebook = pandas.read_csv(path("codebook.csv"))
    check(
        list(codebook.columns) == ["file", "column", "type", "unit", "description"],
        f"codebook columns {list(codebook.columns)}",
    )
    types = {}
    for _, r in codebook.iterrows():
        if r["file"] == "all":
            continue
        key = (r["file"], r["column"])
        check(key not in types, f"codebook lists {key} twice")
        types[key] = r["type"]

    pseudonymised = None
    for name in DATA_FILES:
        df = pandas.read_csv(path(name))
        header, rows = raw_rows(path(name))
        check(list(df.columns) == header, f"{name}: pandas columns {list(df.columns)} != {header}")
        check(
            [c for (f, c) in types if f == name] == header,
            f"{name}: codebook columns differ from the header",
        )
        check(all(len(r) == len(header) for r in rows), f"{name}: ragged rows")
        check(len(df) == len(rows), f"{name}: pandas read {len(df)} rows, csv module {len(rows)}")
        if expected[name] is not None:
            check(len(df) == expected[name], f"{name}: {len(df)} rows, expected {expected[name]}")

        # Missing values: exactly the cells written NA are NaN, column by column.
        for i, col in enumerate(header):
            raw_na = sum(1 for r in rows if r[i] == "NA")
            raw_empty = sum(1 for r in rows if r[i] == "")
            check(raw_empty == 0, f"{name}.{col}: {raw_empty} empty cell(s); missing must be NA")
            got_na = int(df[col].isna().sum())
            check(
                got_na == raw_na,
                f"{name}.{col}: pandas sees {got_na} missing, the file has {raw_na} NA",
            )
            if is_text_dtype(df[col].dtype):
                check(not (df[col] == "NA").any(), f"{name}.{col}: the string 'NA' survived")

        # Types from the codebook.
        for col in header:
            ty = types.get((name, col))
            dtype = df[col].dtype
            if ty in NUMERIC:
                check(
                    pandas.api.types.is_numeric_dtype(dtype),
                    f"{name}.{col} ({ty}) read as {dtype}",
                )
                if ty == "0/1":
                    vals = set(df[col].dropna().unique())
                    check(vals <= {0, 1}, f"{name}.{col}: values {vals}")
                if ty == "integer" and not df[col].isna().any():
                    check(
                        pandas.api.types.is_integer_dtype(dtype),
                        f"{name}.{col} (integer, no NA) read as {dtype}",
                    )
            elif ty == "datetime":
                present = df[col].dropna()
                parsed = pandas.to_datetime(present, utc=True, format="ISO8601", errors="coerce")
                check(not parsed.isna().any(), f"{name}.{col}: unparseable datetimes")
            elif ty == "date":
                present = df[col].dropna()
                parsed = pandas.to_datetime(present, format="%Y-%m-%d", errors="coerce")
                check(not parsed.isna().any(), f"{name}.{col}: unparseable dates")
            elif ty == "text":
                pass  # any dtype: an all-numeric text column (MRNs) is read as numbers
            else:
                check(False, f"{name}.{col}: unknown codebook type {ty!r}")

        if name == "courses.csv" and len(df):
            pseudonymised = bool(df["birth_date"].isna().all())
            if pseudonymised:
                check(
                    df["patient"].astype(str).str.fullmatch(r"S\d{5,}").all(),
                    "courses.csv: pseudonymised but patient is not a study id",
                )
                check(
                    df["protocol"].astype(str).str.startswith("sha256:").all(),
                    "courses.csv: pseudonymised but the protocol's (typed) name is written",
                )

        print(f"{name}: {len(df)} rows x {len(df.columns)} columns")
        for col in header:
            print(f"  {col:<18} {str(df[col].dtype):<10} {int(df[col].isna().sum()):>4} NA"
                  f"  ({types.get((name, col))})")

    if pseudonymised:
        events = pandas.read_csv(path("events.csv"))
        roles = set(events["recorded_by"].dropna().unique())
        check(
            roles <= {"nurse", "physician", "admin"},
            f"events.csv: pseudonymised but recorded_by holds {roles - {'nurse', 'physician', 'admin'}}",
        )

    kind = {None: "empty", True: "pseudonymised", False: "plain"}[pseudonymised]
    print(f"export in {args.dir}: {kind}; codebook {len(codebook)} rows")
    if failures:
        print(f"{len(failures)} FAILURE(S):")
        for f in failures:
            print("  " + f)
        return 1
    print("all pandas checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
