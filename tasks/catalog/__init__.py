"""The registry's entries, one module per task family: plain data, no code."""

from tasks.catalog import classification, intermediates, multiple_choice, multitask, retrieval, span_qa, tagging

ENTRIES = (
    *classification.TASKS,
    *multiple_choice.TASKS,
    *tagging.TASKS,
    *span_qa.TASKS,
    *retrieval.TASKS,
    *intermediates.TASKS,
    *multitask.TASKS,
)
