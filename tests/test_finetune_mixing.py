"""Compression fine-tunes train on real images unless asked to mix batches.

A run trained with mixup hands its recipe to every fine-tune; a 90%-pruned Tiny
ImageNet model kept more top-1 when the fine-tune kept the recipe's crops and flips but
dropped the mixing, so unmixed is the default and ``--finetune-mixing`` restores it.
"""

from __future__ import annotations

import dataclasses

import pytest
from compress_helpers import tiny_finetune_data, tiny_model

from alexedge.compress.config import CompressConfig
from alexedge.train.config import Augmentation


class _Stop(Exception):
    pass


@pytest.mark.parametrize("mixing", [False, True])
def test_the_fine_tune_mixes_batches_only_when_asked(monkeypatch, mixing: bool) -> None:
    from alexedge.compress.techniques import finetune as module

    seen = []

    def capture(split, num_classes, size, batch, stats, augmentation, seed, **kwargs):
        seen.append(augmentation)
        raise _Stop

    monkeypatch.setattr(module, "train_dataset", capture)
    data = tiny_finetune_data(n=16)
    mixed = Augmentation(mixup=0.2, cutmix=1.0, erasing=0.25)
    recipe = data.train_config.replace(augmentation=mixed)
    data = dataclasses.replace(data, train_config=recipe)
    with pytest.raises(_Stop):
        module.finetune(tiny_model(data), data, CompressConfig(finetune_mixing=mixing))
    (augmentation,) = seen
    expected = recipe.augmentation
    if not mixing:
        expected = dataclasses.replace(expected, mixup=0.0, cutmix=0.0)
    assert augmentation == expected
    assert augmentation.erasing == 0.25, "the per-image augmentation stays the recipe's"


def test_unmixed_is_the_default() -> None:
    assert CompressConfig().finetune_mixing is False
