"""Tuned recipes, by name: ``alexedge train --preset NAME``.

Each preset is a full ``TrainConfig``; options given on the command line override it.
The numbers behind each are in ``benchmarks/`` and the README.
"""

from __future__ import annotations

from alexedge.errors import ConfigError
from alexedge.train.config import TrainConfig

__all__ = ["PRESETS", "get_preset"]

PRESETS: dict[str, TrainConfig] = {
    # 20 Tiny ImageNet classes (500 train / 50 val images of 64x64 each) in under 30
    # minutes on a 2-core CPU; measured in benchmarks/bench_train_tiny_imagenet.py.
    # - input 56: its base image is 64 (round(56 * 256 / 224)), the files' own size, so
    #   training crops 56 of 64 with no resampling and evaluation takes the centre 56.
    # - mixed_bfloat16: 2.4x the float32 throughput on this AVX512-BF16 CPU (456 vs 188
    #   img/s for one train step), which buys epochs; use --precision float32 on CPUs
    #   without bf16 instructions, where it is emulated and slow.
    # - width 0.5 (1.5M parameters) so that 50 epochs fit the budget (~30 s each here):
    #   with 500 images per class, passes over augmented data are worth more than
    #   capacity (not compared against wider nets within the budget); dropout 0.5 on the
    #   FC layers, label smoothing 0.1, PCA lighting and weight decay 5e-4 regularize.
    "tiny-imagenet": TrainConfig(
        model="alexnet-reduced",
        input_size=56,
        model_options={"width": 0.5, "fc_units": 512, "dropout": 0.5},
        epochs=50,
        batch_size=128,
        learning_rate=0.1,
        warmup_epochs=2,
        label_smoothing=0.1,
        pca_lighting=0.1,
        precision="mixed_bfloat16",
    ),
}


def get_preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None
