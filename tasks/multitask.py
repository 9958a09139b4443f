"""Multi-task training (the ``all`` intermediate): one encoder, a head per member task,
each batch drawn from one member.

A member keeps its own family: its features, collator, head and metric. The model is each
member's own model (``AutoModelFor...`` of its family) with the encoder swapped for one
shared encoder, so a member evaluates like the task trained alone and what passes to the
target stage is the shared encoder. Batches are homogeneous; which member a batch comes
from is drawn with probability proportional to ``n_i ** (1 / T)`` for member sizes ``n_i``
(``settings["sampling"]``: ``"temperature"`` with ``settings["temperature"]`` (T, default 2),
or ``"proportional"``, T = 1), so that small tasks are not drowned by MNLI and QQP.

``settings["members"]`` lists the tasks; those whose English training and dev data are
present are the ones trained (``members_present``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tasks.data import is_present, load_training_stages, training_sources
from tasks.families import TaskFamily
from tasks.families.tagging import with_tag_set
from tasks.mlm import MLM, MaskedLM
from tasks.task import Task

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# The family name of a multi-task entry: its code is this module, not a TaskFamily.
MULTITASK = "multitask"
TASK_INDEX = "task_index"
DEFAULT_TEMPERATURE = 2.0


def member_tasks(task: Task) -> list[Task]:
    """The members: registry names, or tasks themselves (one with its translations, MLM)."""
    from tasks.registry import get_task

    return [get_task(member) if isinstance(member, str) else member for member in task.settings["members"]]


def members_present(task: Task, data: str) -> Task:
    """``task`` narrowed to the members whose English training data (and English dev, where
    a member is evaluated at all) exist, each member resolved to its Task."""
    present = tuple(
        # A member's labels may be read from its data (CCG's categories).
        with_tag_set(resolved, data)
        for resolved in member_tasks(task)
        if (not resolved.dev or "en" in resolved.dev)
        and all(is_present(source, data) for source in training_sources(resolved))
        and (not resolved.dev or is_present(resolved.dev["en"], data))
    )
    return dataclasses.replace(task, settings={**task.settings, "members": present})


def sampling_weights(sizes: Sequence[int], sampling: str, temperature: float) -> np.ndarray:
    """The probability of drawing each member's batch: ``n_i ** (1/T)``, normalised
    (``proportional``: T = 1; ``uniform``: every member alike)."""
    exponent = {"proportional": 1.0, "uniform": 0.0}.get(sampling, 1.0 / temperature)
    weights = np.asarray(sizes, dtype=float) ** exponent
    return weights / weights.sum()


class MultiTaskFeatures:
    """The members' training features side by side; item ``i`` carries its member's index."""

    def __init__(self, features: Sequence[Dataset]) -> None:
        self.features = list(features)
        self.offsets = np.cumsum([0, *(len(f) for f in self.features)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict:
        member = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return {**self.features[member][int(index - self.offsets[member])], TASK_INDEX: member}


class HomogeneousBatches:
    """A sampler whose consecutive runs of ``batch_size`` indices come from one member: the
    DataLoader's batches are then single-task. Members are drawn by ``weights``; within a
    member, examples go round in a fresh shuffle each time it is used up."""

    def __init__(self, data: MultiTaskFeatures, weights: np.ndarray, batch_size: int, seed: int) -> None:
        self.data, self.weights, self.batch_size, self.seed = data, weights, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size) * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        pools = [rng.permutation(len(f)) for f in self.data.features]
        cursors = [0] * len(pools)
        for _ in range(len(self) // self.batch_size):
            member = int(rng.choice(len(pools), p=self.weights))
            for _ in range(self.batch_size):
                if cursors[member] == len(pools[member]):
                    pools[member], cursors[member] = rng.permutation(len(pools[member])), 0
                yield int(self.data.offsets[member] + pools[member][cursors[member]])
                cursors[member] += 1


def _multitask_model() -> type:
    import torch

    class MultiTaskModel(torch.nn.Module):
        """The shared encoder and each member's head; ``forward`` runs the batch's member.

        Member models are kept unregistered (their encoder is the shared one, so registering
        them would list its weights again): the encoder and the heads are what is saved."""

        # The Trainer must not pass its loss arguments through to the member's forward.
        accepts_loss_kwargs = False

        def __init__(self, encoder: PreTrainedModel, members: dict[str, PreTrainedModel]) -> None:
            super().__init__()
            self.encoder = encoder
            self.members = members
            self.heads = torch.nn.ModuleDict(
                {
                    name: torch.nn.ModuleDict(
                        {part: module for part, module in model.named_children() if part != model.base_model_prefix}
                    )
                    for name, model in members.items()
                }
            )
            self.order = list(members)

        @property
        def base_model(self) -> PreTrainedModel:
            return self.encoder

        @property
        def config(self):
            return self.encoder.config

        def forward(self, task_index: torch.Tensor, **inputs):
            return self.members[self.order[int(task_index[0])]](**inputs)

    return MultiTaskModel


def training_features(task: Task, data: str, tokenizer) -> MultiTaskFeatures:
    """Each member's training features, encoded by its own family at its own recipe's length
    (SQuAD's windows are 384 tokens, MNLI's pairs 256)."""
    features = []
    for member in member_tasks(task):
        # A member with two stages (none of the nine has) would train on its first only.
        rows = load_training_stages(member, data)[0]
        features.append(_family(member).encode(rows, member, tokenizer, member.recipe.max_length))
    return MultiTaskFeatures(features)


def train_sampler(task: Task, dataset: MultiTaskFeatures, batch_size: int, seed: int) -> HomogeneousBatches:
    weights = sampling_weights(
        [len(f) for f in dataset.features],
        task.settings.get("sampling", "temperature"),
        float(task.settings.get("temperature", DEFAULT_TEMPERATURE)),
    )
    return HomogeneousBatches(dataset, weights, batch_size, seed)


def collator(task: Task, tokenizer: PreTrainedTokenizerBase) -> Callable:
    """Each batch through its member's own collator, with the member's index added."""
    collators = [_family(member).collator(tokenizer) for member in member_tasks(task)]

    def collate(features: list[dict]) -> dict:
        import torch

        member = features[0][TASK_INDEX]
        batch = collators[member]([{k: v for k, v in f.items() if k != TASK_INDEX} for f in features])
        return {**batch, TASK_INDEX: torch.full((len(features),), member, dtype=torch.long)}

    return collate


def build_model(encoder_path: str, task: Task):
    """Every member's own model on one shared encoder."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(encoder_path)
    members = {}
    for member in member_tasks(task):
        model = _family(member).build_model(encoder_path, member)
        setattr(model, model.base_model_prefix, encoder)  # every head reads the shared encoder
        members[member.name] = model
    return _multitask_model()(encoder, members)


def _family(task: Task) -> TaskFamily | MaskedLM:
    from tasks.families import family_of

    return MaskedLM() if task.family == MLM else family_of(task.family)


def is_multitask(task: Task) -> bool:
    return task.family == MULTITASK
