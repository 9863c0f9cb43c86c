"""gecko-trace-check: generate the Gecko Trace BigQuery pipeline and keep a warehouse in sync with it."""

__version__ = "0.1.0"
