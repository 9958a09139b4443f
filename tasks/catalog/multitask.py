"""The ``all`` intermediate: multi-task training over the nine intermediate tasks at once."""

from tasks.task import Recipe, Size, Task

# The paper's nine English intermediate tasks (Phang et al. 2020); those whose data is
# present train together (tasks/families/multitask.py).
NINE = ("anli", "mnli", "qqp", "sst2", "squad", "hellaswag", "cosmosqa", "commonsenseqa", "ccg")
# The nine at once.
ALL = "all"

TASKS: tuple[Task, ...] = (
    Task(
        name=ALL,
        kind="intermediate",
        family="multitask",
        # Selection on the mean of the members' English dev scores.
        metric="score",
        languages=("en",),
        train=None,
        dev={},
        train_source=ALL,
        recipe=Recipe(epochs=2),
        # The members' own sizes count (see sweeper/resources/cost.py).
        size=Size(train_examples=0, eval_examples_per_language=0, mean_tokens=0),
        settings={"members": NINE, "sampling": "temperature", "temperature": 2.0},
    ),
)
