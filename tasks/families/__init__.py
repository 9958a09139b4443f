"""Task families: the code behind registry entries, one class per kind of task."""

from tasks.families._base import MULTITASK, EvaluateAlone, Evaluation, Infer, TaskFamily
from tasks.families.classification import Classification
from tasks.families.mlm import MLM, MaskedLM
from tasks.families.multiple_choice import MultipleChoice
from tasks.families.multitask import MultiTask
from tasks.families.retrieval import Retrieval
from tasks.families.span_qa import SpanQA
from tasks.families.tagging import Tagging


def family_of(task_family: str) -> TaskFamily:
    return FAMILIES[task_family]


FAMILIES: dict[str, TaskFamily] = {
    "classification": Classification(),
    "multiple_choice": MultipleChoice(),
    "tagging": Tagging(),
    "span_qa": SpanQA(),
    "retrieval": Retrieval(),
    # Trained only, as a member of a multi-task run (continued MLM).
    MLM: MaskedLM(),
    # Its members' families are looked up in this very table.
    MULTITASK: MultiTask(family_of),
}


__all__ = ["FAMILIES", "MLM", "MULTITASK", "EvaluateAlone", "Evaluation", "Infer", "TaskFamily", "family_of"]
