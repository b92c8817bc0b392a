"""Training a supernet with the sandwich rule and in-place distillation, and supernet files.

Each step (BigNAS, Yu et al. 2020; OFA, Cai et al. 2020) trains the largest subnet on the labels,
then the smallest and ``random_subnets`` uniformly sampled subnets on the largest's soft targets
(its detached logits, :func:`edgeopt.distill.losses.soft_target_loss`), all on the same batch, and
takes one optimizer step on the summed loss (the same gradients as accumulating them subnet by
subnet). The step runs inside :func:`edgeopt.train.fit` as its loss, so data loading, the seeded
shuffle, augmentation, the optimizer, the lr schedule and the progress bar are the train package's.

Example:
    >>> supernet = Supernet(get_space("mnist"))
    >>> history = train_supernet(supernet, load_dataset("mnist"), epochs=5)
    >>> save_supernet("out/supernet.pt", supernet)
    >>> supernet = load_supernet("out/supernet.pt", get_space("mnist"))
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgeopt.data import DatasetSplits
from edgeopt.distill.losses import soft_target_loss
from edgeopt.errors import EdgeoptError
from edgeopt.models.spaces import SearchSpace
from edgeopt.models.weights import load_state_checked, load_torch_bytes
from edgeopt.search.supernet import Supernet
from edgeopt.train import LossFn, LossOutput, TrainConfig, fit
from edgeopt.train.loop import EpochRow
from edgeopt.utils import atomic_path

__all__ = ["load_supernet", "sandwich_loss", "save_supernet", "train_supernet"]

FORMAT = "edgeopt-supernet"
VERSION = 1


def sandwich_loss(supernet: Supernet, rng: random.Random, random_subnets: int = 2,
                  temperature: float = 1.0) -> LossFn:
    """The loss of one sandwich step, as a :class:`~edgeopt.train.LossFn` for :func:`fit`.

    Args:
        supernet: The supernet (the model ``fit`` passes in must be it).
        rng: Draws the random subnets (seeded by the caller: runs repeat).
        random_subnets: Uniformly sampled subnets per step, besides the largest and smallest.
        temperature: Softening of the largest's soft targets (1: plain probabilities, as OFA).

    Returns:
        A loss returning the summed loss and the largest subnet's logits (the training accuracy
        ``fit`` reports is the largest's); the supernet is left active on the largest.
    """
    space = supernet.space
    largest, smallest = space.largest(), space.smallest()

    def loss_fn(model: nn.Module, inputs: Tensor, targets: Tensor) -> LossOutput:
        supernet.set_active(largest)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        teacher = logits.detach()  # in-place distillation: no gradient through the soft targets
        for arch in [smallest, *(space.sample(rng) for _ in range(random_subnets))]:
            supernet.set_active(arch)
            loss = loss + soft_target_loss(model(inputs), teacher, temperature)
        supernet.set_active(largest)  # fit evaluates and callers expect the largest
        return LossOutput(loss, logits)

    return loss_fn


def train_supernet(supernet: Supernet, splits: DatasetSplits, *, epochs: int, batch_size: int = 128,
                   lr: float = 3e-3, random_subnets: int = 2, seed: int = 0, progress: bool = True,
                   augment_shift: int = 0, temperature: float = 1.0) -> list[EpochRow]:
    """Train ``supernet`` in place on ``splits.train`` with the sandwich rule.

    AdamW with a cosine schedule (the train package's defaults otherwise). Deterministic on CPU
    for a given ``seed``: it seeds torch's shuffle and augmentation as :func:`fit` does, and the
    subnets are drawn from a ``random.Random(seed)``.

    Args:
        supernet: The supernet; its weights change; it ends active on the largest subnet.
        splits: The dataset (only the train split is used: judge subnets with
            :func:`edgeopt.search.subnet_eval.subnet_accuracy`, which re-estimates BatchNorm).
        epochs: Passes over the train split.
        batch_size: Images per step (every subnet of the sandwich sees the same batch).
        lr: Peak learning rate.
        random_subnets: Random subnets per step besides the largest and the smallest.
        seed: Seed of the shuffle, the augmentation and the subnet sampling.
        progress: Show the train package's progress bar on a terminal.
        augment_shift: Random shift of up to this many pixels (the train package's augmentation).
        temperature: Softening of the soft targets.

    Returns:
        One row per epoch (``train_loss`` is the sandwich's summed loss, ``train_acc`` the
        largest subnet's; no validation columns).

    Raises:
        EdgeoptError: The dataset does not fit the space (channels, classes), or bad options.
    """
    space = supernet.space
    splits.check_model_input(space.in_chans, space.num_classes)
    if random_subnets < 0:
        raise EdgeoptError(f"random_subnets must be 0 or more, got {random_subnets}", hint="2 is usual")
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                         augment_shift=augment_shift, restore_best=False)
    loss_fn = sandwich_loss(supernet, random.Random(seed), random_subnets, temperature)
    # No val data: the shared BatchNorm statistics are a mix of all subnets', so a validation
    # accuracy here would understate every subnet's until they are re-estimated.
    return fit(supernet, splits.train, None, config, loss_fn=loss_fn).history


def save_supernet(path: str | os.PathLike[str], supernet: Supernet) -> Path:
    """Write the supernet's weights with its space (JSON and fingerprint) atomically.

    A plain-data ``torch.save`` file: :func:`load_supernet` reads it with ``weights_only=True``
    after checking its pickle names nothing but tensors (as checkpoints are read).
    """
    space = supernet.space
    payload = {"format": FORMAT, "version": VERSION, "space": space.model_dump_json(),
               "space_name": space.name, "fingerprint": space.fingerprint(),
               "state_dict": dict(supernet.state_dict())}
    target = Path(path)
    with atomic_path(target) as tmp:
        torch.save(payload, tmp)
    return target


def load_supernet(path: str | os.PathLike[str], space: SearchSpace) -> Supernet:
    """A supernet of ``space`` with the weights saved in ``path``.

    Raises:
        EdgeoptError: The file is missing, corrupt or not a supernet file, or it was saved for
            another space (both spaces are named with their fingerprints).
    """
    source = Path(path)
    if not source.is_file():
        raise EdgeoptError(f"supernet file {source} does not exist", hint="train and save a supernet first")
    what = f"supernet file {source}"
    payload: Any = load_torch_bytes(source.read_bytes(), what)  # raises one-line errors on corrupt files
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not isinstance(
            payload.get("state_dict"), dict):
        raise EdgeoptError(f"{source} is not an edgeopt supernet file", hint="save it with save_supernet")
    if payload.get("fingerprint") != space.fingerprint():
        raise EdgeoptError(
            f"{what} was saved for space {payload.get('space_name')!r} ({payload.get('fingerprint')}), "
            f"not for space {space.name!r} ({space.fingerprint()})",
            hint="load it with the space it was trained on")
    supernet = Supernet(space)
    load_state_checked(supernet, payload["state_dict"], source=what)
    return supernet
