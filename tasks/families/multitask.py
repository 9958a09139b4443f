"""Multi-task training (the ``all`` intermediate): one encoder, a head per member task,
each batch drawn from one member.

A member keeps its own family: its features, collator, head and metric. The model is each
member's own model (``AutoModelFor...`` of its family) with the encoder swapped for one
shared encoder, so a member evaluates like the task trained alone and what passes to the
target stage is the shared encoder. Batches are homogeneous; which member a batch comes
from is drawn with probability proportional to ``n_i ** (1 / T)`` for member sizes ``n_i``
(``settings.sampling``: ``"temperature"`` with ``settings.temperature`` (T, default 2),
``"proportional"``, T = 1, or ``"uniform"``), so that small tasks are not drowned by MNLI and QQP.

``settings.members`` lists the tasks (registry names in the catalog); ``resolve`` keeps those
whose English training and dev data are present, each resolved by its own family.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from tasks.batching import GROUPED, Batching, grouped_order
from tasks.data import is_present, load_training_stages, training_sources
from tasks.families._base import EvaluateAlone, Evaluation, Infer, TaskFamily
from tasks.registry import get_task
from tasks.task import Source, Task

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

TASK_INDEX = "task_index"


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
    member, examples go round in a fresh order each time it is used up: shuffled, or, given
    each member's feature ``lengths``, in batches of similar length (``tasks.batching``)."""

    def __init__(
        self,
        data: MultiTaskFeatures,
        weights: np.ndarray,
        batch_size: int,
        seed: int,
        lengths: Sequence[np.ndarray] | None = None,
    ) -> None:
        self.data, self.weights, self.batch_size, self.seed = data, weights, batch_size, seed
        self.lengths = lengths
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size) * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        pools = [self._order(member, rng) for member in range(len(self.data.features))]
        cursors = [0] * len(pools)
        for _ in range(len(self) // self.batch_size):
            member = int(rng.choice(len(pools), p=self.weights))
            for _ in range(self.batch_size):
                if cursors[member] == len(pools[member]):
                    pools[member], cursors[member] = self._order(member, rng), 0
                yield int(self.data.offsets[member] + pools[member][cursors[member]])
                cursors[member] += 1

    def _order(self, member: int, rng: np.random.Generator) -> np.ndarray:
        if self.lengths is None:
            return rng.permutation(len(self.data.features[member]))
        return grouped_order(self.lengths[member], self.batch_size, rng)


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


class MultiTask(TaskFamily):
    """A run over several member tasks; every hook goes through the members' own families."""

    forwards_whole_batches = True
    reads_members_splits = True

    def __init__(self, family_of: Callable[[str], TaskFamily]) -> None:
        # The members' families come from the table this family is itself part of.
        self._family_of = family_of

    def _family(self, member: Task) -> TaskFamily:
        return self._family_of(member.family)

    def members(self, task: Task) -> tuple[Task, ...]:
        return tuple(get_task(member) if isinstance(member, str) else member for member in task.settings.members)

    def resolve(self, task: Task, data: str) -> Task:
        """The members whose English training data (and English dev, where a member is
        evaluated at all) exist, each resolved by its family; the others are ``left_out``."""
        members = self.members(task)
        present = [member for member in members if _has_data(member, data)]
        resolved = tuple(self._family(member).resolve(member, data) for member in present)
        left_out = tuple(member for member in members if member not in present)
        settings = dataclasses.replace(task.settings, members=resolved, left_out=left_out)
        return dataclasses.replace(task, settings=settings)

    def split_readers(self, task: Task, languages: Iterable[str] | None = None) -> list[tuple[Task, Source]]:
        # Each member's English splits: a multi-task run selects on its members' English dev.
        return [pair for member in self.members(task) for pair in self._family(member).split_readers(member, ("en",))]

    def training_data_problem(self, task: Task, data: str) -> str | None:
        if self.members(task):
            return None
        expected = ", ".join(member.train.local_path(data) for member in task.settings.left_out if member.train)
        return f"{task.name} trains on its members' data, none present; expected {expected}"

    def training_stages(
        self, task: Task, data: str, tokenizer: PreTrainedTokenizerBase, max_length: int
    ) -> list[Callable[[], MultiTaskFeatures]]:
        return [lambda: self._training_features(task, data, tokenizer)]

    def _training_features(self, task: Task, data: str, tokenizer: PreTrainedTokenizerBase) -> MultiTaskFeatures:
        """Each member's training features, encoded by its own family at its own recipe's
        length (SQuAD's windows are 384 tokens, MNLI's pairs 256)."""
        features = []
        for member in self.members(task):
            # A member with two stages (none of the nine has) would train on its first only.
            rows = load_training_stages(member, data)[0]
            features.append(self._family(member).encode(rows, member, tokenizer, member.recipe.max_length))
        return MultiTaskFeatures(features)

    def train_sampler(self, task: Task, features: MultiTaskFeatures, batching: Batching) -> HomogeneousBatches:
        sizes = [len(f) for f in features.features]
        weights = sampling_weights(sizes, task.settings.sampling, task.settings.temperature)
        lengths = None
        if batching.order == GROUPED:
            members = zip(self.members(task), features.features, strict=True)
            lengths = [self._family(member).train_lengths(own) for member, own in members]
        return HomogeneousBatches(features, weights, batching.batch_size, batching.seed, lengths)

    def training_collator(self, task: Task, tokenizer: PreTrainedTokenizerBase) -> Callable:
        """Each batch through its member's own collator, with the member's index added."""
        collators = [self._family(member).collator(tokenizer) for member in self.members(task)]

        def collate(features: list[dict]) -> dict:
            import torch

            member = features[0][TASK_INDEX]
            batch = collators[member]([{k: v for k, v in f.items() if k != TASK_INDEX} for f in features])
            return {**batch, TASK_INDEX: torch.full((len(features),), member, dtype=torch.long)}

        return collate

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        """Every member's own model on one shared encoder."""
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(encoder_path)
        members = {}
        for member in self.members(task):
            model = self._family(member).build_model(encoder_path, member)
            setattr(model, model.base_model_prefix, encoder)  # every head reads the shared encoder
            members[member.name] = model
        return _multitask_model()(encoder, members)

    def evaluate(
        self,
        task: Task,
        model: PreTrainedModel,
        alone: EvaluateAlone,
        languages: Iterable[str],
        splits: Iterable[str],
        max_length: int,
    ) -> Evaluation:
        """Each member on its English dev, as its own family scores it at its own length
        (``dev/<member>_<metric>/en``), and their mean (``dev/score/en``): what ``all`` selects on."""
        evaluation = Evaluation()
        scores = []
        for member in self.members(task):
            if not self._family(member).evaluated:
                continue  # trained, never selected on: continued MLM
            own = alone(member, model.members[member.name], ("en",), ("dev",), member.recipe.max_length)
            for key, value in own.metrics.items():
                split, metric, lang = key.split("/")
                evaluation.metrics[f"{split}/{member.name}_{metric}/{lang}"] = value
            evaluation.predictions.update({(f"{member.name}_{s}", lang): p for (s, lang), p in own.predictions.items()})
            scores.append(own.metrics[f"dev/{member.metric}/en"])
        evaluation.metrics[f"dev/{task.metric}/en"] = sum(scores) / len(scores)
        return evaluation

    def with_translations(self, task: Task, translations: Callable[[Task], tuple[Source, ...]]) -> Task:
        members = tuple(self._family(member).with_translations(member, translations) for member in self.members(task))
        return dataclasses.replace(task, settings=dataclasses.replace(task.settings, members=members))

    def with_local_data(self, task: Task, root: str) -> Task:
        members = tuple(self._family(member).with_local_data(member, root) for member in self.members(task))
        return dataclasses.replace(task, settings=dataclasses.replace(task.settings, members=members))

    def with_mlm(self, task: Task, mlm: Task) -> Task:
        members = (*self.members(task), mlm)
        return dataclasses.replace(task, settings=dataclasses.replace(task.settings, members=members))

    def encode(self, rows: Dataset, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int) -> NoReturn:
        raise _through_members(task)

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> NoReturn:
        raise _through_members(task)

    def gold(self, rows: Dataset, task: Task) -> NoReturn:
        raise _through_members(task)

    def score(self, predictions: Sequence, gold: Sequence, task: Task, language: str) -> NoReturn:
        raise _through_members(task)


def _has_data(member: Task, data: str) -> bool:
    """English training data present, and English dev where the member is evaluated at all."""
    if member.dev and "en" not in member.dev:
        return False
    needed = [*training_sources(member), *([member.dev["en"]] if member.dev else [])]
    return all(is_present(source, data) for source in needed)


def _through_members(task: Task) -> TypeError:
    return TypeError(f"{task.name}: a multi-task run is encoded and scored through its members' families")
