"""The registry's entries, one module per task family: plain data, no code."""

from tasks.catalog import classification

ENTRIES = (*classification.TASKS,)
