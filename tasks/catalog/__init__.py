"""The registry's entries, one module per task family: plain data, no code."""

from tasks.catalog import classification, multiple_choice, retrieval, span_qa, tagging

ENTRIES = (*classification.TASKS, *multiple_choice.TASKS, *tagging.TASKS, *span_qa.TASKS, *retrieval.TASKS)
