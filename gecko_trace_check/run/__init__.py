"""``gecko-trace-check test``: run the rendered pipeline on fixture rows with DuckDB.

The fixtures use bigquery-etl's test layout (``tests/sql/<project>/<dataset>/<table>/
test_<name>/``). One module a job: ``fixtures`` reads the test folders, ``translate``
rewrites a rendered BigQuery query into DuckDB SQL with sqlglot, ``tables`` types and
loads the input rows, ``engine`` runs the query, ``rowdiff`` compares the result with
``expect.yaml`` and ``suite`` ties them together and prints the report. DuckDB is an
optional extra: nothing here is imported on the check path.
"""
