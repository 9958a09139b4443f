"""Task families: the code behind registry entries, one class per kind of task."""

from tasks.families._base import TaskFamily
from tasks.families.classification import Classification
from tasks.families.multiple_choice import MultipleChoice
from tasks.families.retrieval import Retrieval
from tasks.families.span_qa import SpanQA
from tasks.families.tagging import Tagging

FAMILIES: dict[str, TaskFamily] = {
    "classification": Classification(),
    "multiple_choice": MultipleChoice(),
    "tagging": Tagging(),
    "span_qa": SpanQA(),
    "retrieval": Retrieval(),
}


def family_of(task_family: str) -> TaskFamily:
    return FAMILIES[task_family]


__all__ = ["FAMILIES", "TaskFamily", "family_of"]
