"""``alexedge pipeline --max-loss``: the search replaces the family and its selected file is
the bundle; a tiny ladder keeps it to conversions (no fine-tune)."""

from __future__ import annotations

import json
from pathlib import Path

from train_data import write_colour_dataset

from alexedge.compress.config import CompressConfig
from alexedge.compress.search.config import SearchConfig
from alexedge.compress.search.space import Ladder
from alexedge.pipeline import PipelineConfig, run_pipeline
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import DataConfig

TRAIN = TrainConfig(
    input_size=32,
    epochs=3,
    batch_size=16,
    learning_rate=0.05,
    model_options={"width": 1 / 16, "fc_units": 16},
)
LADDER = Ladder(dense_modes=("int8", "float32"), sparsities=(), clusters=(), qat4=False)


def test_the_pipeline_searches_and_packages_the_selected_file(tmp_path: Path) -> None:
    data = write_colour_dataset(tmp_path / "data", 3, per_class=32, val_per_class=20, size=32)
    config = PipelineConfig(
        out=tmp_path / "run",
        data=DataConfig(data),
        train=TRAIN,
        compress=CompressConfig(calibration_images=16),
        search=SearchConfig(max_loss=5.0, ladder=LADDER),
    )
    result = run_pipeline(config)
    selected = result.doc["search"]["selected"]
    assert selected is not None
    assert {v["name"] for v in result.doc["variants"]} == {"float32", selected}
    manifest = json.loads((result.out / "android_assets" / "manifest.json").read_text())
    assert manifest["variant"] == selected
    assert "## Compression search" in (result.out / "REPORT.md").read_text()
    marker = json.loads((result.out / "pipeline.json").read_text())
    assert marker["config"]["search"]["max_loss"] == 5.0
