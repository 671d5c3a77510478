"""``search_run``: the search on a real run, with the techniques ``alexedge compress`` has.

A candidate's recipe is built by the same functions the compress family uses (the
``prune``, ``cluster`` and ``qat4`` rows of ``techniques.table.TECHNIQUES``, the
converter's ``exporter``, ``calibrate`` and ``export_with_float_layers`` for float
fallback) and measured by the same ``measure_variant``, but on the selection images only.
Fine-tuned Keras models and their saved graphs are kept for the whole search, so the int8
and int4 files of one pruned model, and the clustering and int4-aware fine-tune on top of
it, pay for its pruning once. Candidate files live in a temporary folder; only the
selected file and the float32 reference are written to ``RUN/variants/``, measured on the
reporting images, and ``RUN/variants.json`` holds those two rows and the ``search``
record of every candidate tried (an earlier compress's rows, measured on other images,
are not carried over).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import alexedge.progress as progress
from alexedge.atomic import write_bytes, write_json
from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.measure import VariantMeasurement, measure_variant
from alexedge.compress.family import (
    predict_probs,
    start_variants_folder,
    variants_document,
    with_metadata,
)
from alexedge.compress.inputs import RunInputs, load_run_inputs
from alexedge.compress.planner import read_variants_doc
from alexedge.compress.search.config import SearchConfig
from alexedge.compress.search.images import Half, SearchImages, search_images
from alexedge.compress.search.record import search_record
from alexedge.compress.search.search import Result, SearchOutcome, run_search
from alexedge.compress.search.selection import worst_class
from alexedge.compress.search.space import Candidate, Recipe, ladder_stages
from alexedge.compress.techniques.table import TECHNIQUES
from alexedge.config import config_to_dict
from alexedge.data.decode import DecodedSplit
from alexedge.metrics import ranked_classes, top_k_scores
from alexedge.modes import MODES
from alexedge.run import VARIANTS_DIR, VARIANTS_JSON

__all__ = ["SearchRunResult", "search_run"]

Say = Callable[[str], None]
MEASURED_ON = "reporting"  # the ``measured_on`` of the rows a search writes
REFERENCE = "float32"


@dataclass(frozen=True)
class SearchRunResult:
    run_dir: Path
    doc: dict[str, Any]
    outcome: SearchOutcome

    @property
    def selected(self) -> str | None:
        return self.outcome.selected


def search_run(
    run_dir: Path,
    config: CompressConfig,
    search: SearchConfig,
    *,
    representative: Path | None = None,
    data_root: Path | None = None,
    say: Say = progress.say,
    decoded: tuple[DecodedSplit, DecodedSplit] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchRunResult:
    """Search the ladder of ``search`` for the best file within its limits; write it.

    Args:
        config: how each technique runs (fine-tune epochs, skipped layers, calibration,
            I/O type), as for ``compress_run``.
        representative, data_root, decoded: as for ``compress_run``.
        clock: seconds, read for the budget and the time of each candidate.
    """
    inputs = load_run_inputs(
        run_dir, config.calibration_images, config.seed, representative, data_root, decoded
    )
    images = search_images(inputs, search.selection_data, config.seed)
    say(images.describe(search.max_loss))
    start_variants_folder(inputs, config)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alexedge-search-")))
        evaluator = _Evaluator(inputs, config, images, scratch, stack, say)
        outcome = run_search(
            ladder_stages(search.ladder),
            evaluator,
            search.limits(),
            60 * search.budget_minutes,
            clock,
        )
        say(_summary(outcome, search))
        doc = _write_document(inputs, config, search, images, evaluator, outcome, say)
    return SearchRunResult(run_dir, doc, outcome)


class _Evaluator:
    """``evaluate(candidate) -> Result`` on the selection images; keeps what it built."""

    def __init__(
        self,
        inputs: RunInputs,
        config: CompressConfig,
        images: SearchImages,
        scratch: Path,
        stack: contextlib.ExitStack,
        say: Say,
    ) -> None:
        self.inputs, self.config, self.images = inputs, config, images
        self.scratch, self.stack, self.say = scratch, stack, say
        self.models: dict[str, Any] = {"float": inputs.model}
        self.exports: dict[str, Any] = {}
        self.keras: dict[str, np.ndarray] = {}  # top-1 per selection image, per source
        self.float_layers: dict[str, tuple[str, ...]] = {}

    def __call__(self, candidate: Candidate) -> Result:
        recipe = candidate.recipe
        model = self.model(recipe)
        data = self.convert(recipe, model)
        data = with_metadata(data, candidate.name, self.inputs)
        path = write_bytes(self.scratch / f"{candidate.name}.tflite", data)
        keras = self.keras_top1(recipe.source, model)
        m, top1 = self._measure(recipe, path, self.images.selection, keras, candidate.name)
        result = self._result(recipe, m, top1)
        self.say(_line(candidate, result))
        return result

    def model(self, recipe: Recipe) -> Any:
        """The Keras model of ``recipe.source``, fine-tuned once and kept."""
        if recipe.source in self.models:
            return self.models[recipe.source]
        pruned = Recipe(recipe.mode, recipe.sparsity).source
        if pruned not in self.models:
            self.say(f"{pruned}: prune + fine-tune from float ...")
            self.models[pruned] = self._make("prune", "float", recipe)
        model = self.models[pruned]
        if recipe.clusters or recipe.qat4:
            self.say(f"{recipe.source}: fine-tune from {pruned} ...")
            model = self._make("cluster" if recipe.clusters else "qat4", pruned, recipe)
        self.models[recipe.source] = model
        return model

    def _make(self, technique: str, parent: str, recipe: Recipe) -> Any:
        """``technique``'s row of ``TECHNIQUES`` on a kept model, as ``compress`` makes a
        source: the pruning target also tells clustering and int4 QAT to keep zeros."""
        from alexedge.compress.techniques.finetune import FinetuneData

        inputs = self.inputs
        data = FinetuneData(
            inputs.train_split(), inputs.dataset.num_classes, inputs.stats, inputs.train_config
        )
        config = replace(self.config, clusters=recipe.clusters) if recipe.clusters else self.config
        make = TECHNIQUES[technique].make
        return make(self.models[parent], data, config, recipe.sparsity)

    def convert(self, recipe: Recipe, model: Any) -> bytes:
        config, mode = self.config, recipe.mode
        calibration = self.inputs.calibration if MODES[mode].needs_calibration else None
        if recipe.float_worst:
            return self._with_float_layers(recipe, model, calibration)
        if recipe.source not in self.exports:
            from alexedge.compress.export.convert import exporter

            self.exports[recipe.source] = self.stack.enter_context(exporter(model))
        return self.exports[recipe.source](mode, calibration, config.io_type, config.per_channel)

    def _with_float_layers(self, recipe: Recipe, model: Any, calibration: Any) -> bytes:
        """The K worst layers of the per-layer error report (``--auto-float K``) in float."""
        from alexedge.compress.diagnostics.layer_errors import calibrate, layer_errors
        from alexedge.compress.export.float_layers import (
            auto_float_layers,
            export_with_float_layers,
        )

        config = self.config
        calibrated = calibrate(model, recipe.mode, calibration, config.io_type, config.per_channel)
        layers = auto_float_layers(layer_errors(calibrated), recipe.float_worst)
        self.float_layers[recipe.name] = layers
        return export_with_float_layers(calibrated, layers)

    def keras_top1(self, source: str, model: Any) -> np.ndarray:
        if source not in self.keras:
            self.keras[source] = _top1(model, self.images.selection.crops)
        return self.keras[source]

    def _measure(
        self, recipe: Recipe, path: Path, half: Half, keras: np.ndarray, name: str
    ) -> tuple[VariantMeasurement, np.ndarray]:
        keras_top1 = float(np.mean(keras == half.labels))
        return measure_variant(
            name,
            path,
            recipe.source,
            recipe.mode,
            half.crops,
            half.labels,
            keras,
            keras_top1,
            sparsity_target=recipe.sparsity,
            qat=recipe.qat4,
            clusters=recipe.clusters,
            per_channel=self.config.per_channel,
        )

    def _result(self, recipe: Recipe, m: VariantMeasurement, top1: np.ndarray) -> Result:
        half = self.images.selection
        correct = top1 == half.labels
        worst, worst_loss = worst_class(
            half.labels, half.float_correct, correct, self.images.num_classes
        )
        return Result(
            top1=m.top1,
            loss=100.0 * (half.float_top1 - m.top1),
            worst_class=self.images.class_names[worst],
            worst_class_loss=worst_loss,
            bytes=m.bytes,
            gzip_bytes=m.gzip_bytes,
            latency_ms=m.latency_ms_1_thread,
            verified=m.status == "ok",
            error=m.error,
            float_layers=self.float_layers.get(recipe.name, ()),
        )

    def report(
        self, candidate: Candidate, name: str
    ) -> tuple[VariantMeasurement, np.ndarray, dict[str, Any]]:
        """The candidate written to ``RUN/variants/NAME.tflite`` and measured on the
        reporting images; also its Keras model's scores there."""
        recipe = candidate.recipe
        scratch = self.scratch / f"{candidate.name}.tflite"
        if not scratch.is_file():
            self(candidate)
        data = with_metadata(scratch.read_bytes(), name, self.inputs)
        path = write_bytes(self.inputs.run_dir / VARIANTS_DIR / f"{name}.tflite", data)
        half = self.images.reporting
        probs = predict_probs(self.model(recipe), half.crops)
        keras = ranked_classes(probs, 1)[:, 0]
        m, top1 = self._measure(recipe, path, half, keras, name)
        scores = {
            **top_k_scores(probs, half.labels),
            "sparsity_target": recipe.sparsity,
            "clusters": recipe.clusters,
            "qat": recipe.qat4,
        }
        return m, top1, scores


def _top1(model: Any, crops: np.ndarray) -> np.ndarray:
    return ranked_classes(predict_probs(model, crops), 1)[:, 0]


def _line(candidate: Candidate, r: Result) -> str:
    failed = "" if r.verified else f"  FAILED: {r.error}"
    return (
        f"{candidate.name}: top-1 loss {r.loss:+.2f} pt (worst class {r.worst_class} "
        f"{r.worst_class_loss:+.1f} pt), gzip {r.gzip_bytes:,} bytes, "
        f"{r.latency_ms:.2f} ms{failed}"
    )


def _summary(outcome: SearchOutcome, search: SearchConfig) -> str:
    tried = sum(t.result is not None for t in outcome.trials)
    skipped = len(outcome.trials) - tried
    stop = "budget spent" if outcome.stopped == "budget" else "ladder done"
    chosen = outcome.selected or f"nothing met --max-loss {search.max_loss:g}"
    return (
        f"search: {tried} candidates measured, {skipped} skipped, {outcome.seconds:.0f} s "
        f"({stop}); selected: {chosen}"
    )


def _write_document(
    inputs: RunInputs,
    config: CompressConfig,
    search: SearchConfig,
    images: SearchImages,
    evaluator: _Evaluator,
    outcome: SearchOutcome,
    say: Say,
) -> dict[str, Any]:
    """``variants.json``: the float32 reference and the selected file measured on the
    reporting images, their Keras scores and the ``search`` record.

    Unlike ``compress``, nothing of an earlier document is merged in: its rows were
    measured on the whole validation split and compared with the float model there, and
    one table must compare like with like. Their files stay in ``RUN/variants/``.
    """
    # Every size ratio is against the trained model's float32 file, named as compress does.
    written = [(Candidate(Recipe("float32"), "reference"), REFERENCE)]
    if outcome.selected is not None:
        written.append((outcome.trial(outcome.selected).candidate, outcome.selected))
    measured, keras, reported, extras = [], {}, {}, {}
    for candidate, name in written:
        m, top1, scores = evaluator.report(candidate, name)
        measured.append(m)
        reported[name] = top1
        keras[candidate.recipe.source] = scores
        extras[name] = {"measured_on": MEASURED_ON}
        if candidate.name in evaluator.float_layers:
            extras[name]["float_layers"] = list(evaluator.float_layers[candidate.name])
    record = search_record(
        outcome,
        config_to_dict(search),
        images.selection_record(search.max_loss),
        images.reporting_record(outcome.selected, reported),
    )
    doc = variants_document(inputs, config, keras, measured, extras, None, {"search": record})
    earlier = read_variants_doc(inputs.run_dir)
    if earlier and earlier["variants"]:
        rows = len(earlier["variants"])
        say(f"variants.json: its {rows} earlier rows are replaced (their files stay)")
    write_json(inputs.run_dir / VARIANTS_JSON, doc)
    return doc
