"""The family of one ``compress_run``: its sources, their variants, and what was measured.

A ``Family`` holds what every step of a source reads (the run's inputs, the config, the
validation crops, the models made so far and everything measured), so each step takes
a ``SourcePlan``, not the same ten values again. A source goes through the chain
``wrap -> fine-tune -> strip`` (its technique's row, ``techniques.table``) and every
variant through ``convert -> write -> measure -> verify``.

Each variant whose mode has an isolated error report (``alexedge.modes``: post-training
int8) gets one in its row (``layer_errors``), and ``--float-layers`` / ``--auto-float``
add siblings with some layers left in float (``int8-float-conv1-fc8``,
``int8-autofloat2``, ``float_layers``). Modes with an accumulated report (int16x8,
int4) get ``tensor_errors``' (the file against its source's float32 file);
``layer_errors=False`` turns both off. Every model's and variant's top-1 per validation
image goes to ``RUN/predictions.npz`` (``alexedge.predictions``): the report's
per-class damage and confusion come from it.

Variant names are ``<mode>`` for the trained model (``float32``, ``int8``) and
``<source>-<mode>`` otherwise (``pruned90-int8``, ``pruned90-qat-int8``,
``pruned90-clustered16-int8``, ``pruned90-qat4-int4``: trained on the int4 grid).

The compression search (``compress.search``) writes its files and document with the
same public helpers (``predict_probs``, ``with_metadata``, ``start_variants_folder``,
``variants_document``), so a searched file and a family variant carry the same metadata
and the same document header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.measure import VariantMeasurement, measure_variant
from alexedge.compress.inputs import RunInputs
from alexedge.compress.schema import SCHEMA_VERSION, merge_variants_doc, validate_variants_doc
from alexedge.compress.techniques.table import TECHNIQUES
from alexedge.config import config_to_dict
from alexedge.errors import AlexEdgeError
from alexedge.metrics import ranked_classes, top_k_scores
from alexedge.modes import ACCUMULATED, ISOLATED, MODES
from alexedge.predictions import read_predictions, write_predictions
from alexedge.preprocess import MODEL_INPUT_MEAN, MODEL_INPUT_STD, center_crops
from alexedge.run import LABELS, PREDICTIONS, VARIANTS_DIR

if TYPE_CHECKING:
    from alexedge.compress.export.convert import Export

__all__ = [
    "TRAINED",
    "Family",
    "SourcePlan",
    "predict_probs",
    "start_variants_folder",
    "variant_name",
    "variants_document",
    "with_metadata",
]

Say = Callable[[str], None]
_LRN = "LOCAL_RESPONSE_NORMALIZATION"
# The technique of the root source, the run's own model (no row in TECHNIQUES).
TRAINED = "trained"


@dataclass(frozen=True)
class SourcePlan:
    """A Keras model of the family: how it is made from ``parent`` and what it exports."""

    name: str
    parent: str | None  # None: the trained model itself
    technique: str  # TRAINED or a key of techniques.table.TECHNIQUES
    modes: tuple[str, ...]
    sparsity_target: float = 0.0
    clusters: int = 0
    qat: bool = False


def variant_name(source: str, mode: str, per_channel: bool = True) -> str:
    """``int8``, ``pruned90-int8``; ``-per-tensor`` marks weights with one scale each."""
    name = mode if source == "float" else f"{source}-{mode}"
    return name if per_channel or not MODES[mode].integer_weights else f"{name}-per-tensor"


@dataclass
class Family:
    """One ``compress_run`` in progress: what each source and variant is made from, and
    what has been measured so far (in build order, what ``variants.json`` lists).

    Attributes:
        crops: the validation images, centre-cropped once for every model and file.
        models: source name -> its Keras model, while a later source derives from it.
        keras: source name -> its Keras scores (the ``keras`` object of ``variants.json``).
        extras: variant name -> fields beside its measurement (``layer_errors``,
            ``float_layers``).
        top1: every model's and variant's top-1 per validation image.
    """

    inputs: RunInputs
    config: CompressConfig
    say: Say
    crops: np.ndarray
    top1: _Top1
    models: dict[str, Any] = field(default_factory=dict)
    keras: dict[str, dict[str, Any]] = field(default_factory=dict)
    measured: list[VariantMeasurement] = field(default_factory=list)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(cls, inputs: RunInputs, config: CompressConfig, say: Say) -> Family:
        """A family of the run's trained model alone, nothing measured yet."""
        crops = center_crops(inputs.val_split.images, inputs.train_config.input_size)
        top1 = _Top1(inputs.run_dir, inputs.val_split.labels)
        return cls(inputs, config, say, crops, top1, models={"float": inputs.model})

    def make(self, plan: SourcePlan) -> None:
        """The source of ``plan``, each of its variants and their error reports."""
        first = len(self.measured)
        model = self.models[plan.name] = self._build(plan)
        self._score_keras(plan, model)
        from alexedge.compress.export.convert import exporter  # TensorFlow

        with exporter(model) as export:
            for mode in plan.modes:
                self._variant(plan, mode, export)
            self._accumulated_layer_errors(plan, model, export)
        self._layer_variants(plan, model)
        self._fail_collapsed(plan, first)

    def release(self, later: list[SourcePlan]) -> None:
        """Drop the Keras models no later source derives from (the paper model is 240 MB)."""
        needed = {"float"} | {p.parent for p in later if p.parent}
        for name in [n for n in self.models if n not in needed]:
            del self.models[name]

    def document(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        """``variants.json`` with every row measured so far, merged into ``previous``."""
        return variants_document(
            self.inputs, self.config, self.keras, self.measured, self.extras, previous
        )

    def _build(self, plan: SourcePlan) -> Any:
        if plan.parent is None:
            return self.inputs.model
        from alexedge.compress.techniques.finetune import FinetuneData

        inputs = self.inputs
        data = FinetuneData(
            inputs.train_split(), inputs.dataset.num_classes, inputs.stats, inputs.train_config
        )
        self.say(f"{plan.name}: {plan.technique} + fine-tune from {plan.parent} ...")
        make = TECHNIQUES[plan.technique].make
        return make(self.models[plan.parent], data, self.config, plan.sparsity_target)

    def _score_keras(self, plan: SourcePlan, model: Any) -> None:
        probs = predict_probs(model, self.crops)
        entry: dict[str, Any] = {
            **top_k_scores(probs, self.inputs.val_split.labels),
            "sparsity_target": plan.sparsity_target,
            "clusters": plan.clusters,
            "qat": plan.qat,
        }
        technique = TECHNIQUES.get(plan.technique)
        if technique is not None and technique.reports_sparsity:
            entry.update(_sparsity_entry(model, self.config))
        self.keras[plan.name] = entry
        self.top1.keras[plan.name] = ranked_classes(probs, 1)[:, 0]
        _report_source(plan.name, entry, self.say)

    def _variant(self, plan: SourcePlan, mode: str, export: Export) -> None:
        """convert -> write -> measure -> verify one variant."""
        config = self.config
        name = variant_name(plan.name, mode, config.per_channel)
        calibration = self.inputs.calibration if MODES[mode].needs_calibration else None
        data = export(mode, calibration, config.io_type, config.per_channel)
        self._finish_variant(plan, mode, name, data)

    def _finish_variant(self, plan: SourcePlan, mode: str, name: str, data: bytes) -> None:
        """write -> measure -> verify one converted variant."""
        inputs, config = self.inputs, self.config
        data = with_metadata(data, name, inputs)
        path = write_bytes(inputs.run_dir / VARIANTS_DIR / f"{name}.tflite", data)
        m, variant_top1 = measure_variant(
            name,
            path,
            plan.name,
            mode,
            self.crops,
            inputs.val_split.labels,
            self.top1.keras[plan.name],
            self.keras[plan.name]["top1"],
            sparsity_target=plan.sparsity_target,
            qat=plan.qat,
            clusters=plan.clusters,
            per_channel=config.per_channel,
        )
        if MODES[mode].integer_io and m.io != config.io_type and m.status == "ok":
            error = f"{name}: I/O is {m.io}, not --io {config.io_type}"
            m = replace(m, status="failed", error=error)
        _report(m, self.say)
        self.measured.append(m)
        self.top1.variants[m.name] = variant_top1

    def _layer_variants(self, plan: SourcePlan, model: Any) -> None:
        """The isolated per-layer error report of each post-training variant (into
        ``extras``) and its ``--float-layers`` / ``--auto-float`` siblings, measured like
        any variant."""
        config = self.config
        modes = [m for m in plan.modes if MODES[m].error_report == ISOLATED]
        wanted = config.layer_errors or config.float_layers or config.auto_float
        if plan.qat or not modes or not wanted:  # QAT models carry their own ranges
            return
        from alexedge.compress.diagnostics.layer_errors import (
            calibrator,
            format_layer_errors,
            layer_errors,
        )
        from alexedge.compress.export.float_layers import export_with_float_layers

        with calibrator(model) as calibrate:
            for mode in modes:
                base = variant_name(plan.name, mode, config.per_channel)
                calibration = self.inputs.calibration
                calibrated = calibrate(mode, calibration, config.io_type, config.per_channel)
                errors = layer_errors(calibrated)
                self.extras[base] = {"layer_errors": [e.to_dict() for e in errors]}
                self.say(f"{base}: per-layer error, worst first: {format_layer_errors(errors, 4)}")
                for name, layers in _float_choices(base, errors, calibrated.layers, config):
                    data = export_with_float_layers(calibrated, layers)
                    self._finish_variant(plan, mode, name, data)
                    self.extras[name] = {"float_layers": list(layers)}

    def _accumulated_layer_errors(self, plan: SourcePlan, model: Any, export: Export) -> None:
        """The accumulated per-layer error of each variant just written whose mode has
        that report (into ``extras``): the debugger the isolated report uses takes none
        of those modes."""
        config = self.config
        modes = [m for m in plan.modes if MODES[m].error_report == ACCUMULATED]
        if not modes or not config.layer_errors:
            return
        from alexedge.compress.diagnostics.layer_errors import weight_layers
        from alexedge.compress.diagnostics.tensor_errors import (
            accumulated_errors,
            format_accumulated_errors,
        )

        folder = self.inputs.run_dir / VARIANTS_DIR
        # The source's own float32 file when it was exported, else the same conversion.
        if "float32" in plan.modes:
            reference = (folder / f"{variant_name(plan.name, 'float32')}.tflite").read_bytes()
        else:
            reference = export("float32", None, config.io_type, config.per_channel)
        calibration = self.inputs.calibration
        for mode in modes:
            name = variant_name(plan.name, mode, config.per_channel)
            variant = (folder / f"{name}.tflite").read_bytes()
            errors = accumulated_errors(variant, reference, weight_layers(model), calibration)
            self.extras.setdefault(name, {})["layer_errors"] = [e.to_dict() for e in errors]
            self.say(
                f"{name}: per-layer error (accumulated), worst first: "
                f"{format_accumulated_errors(errors, 4)}"
            )

    def _fail_collapsed(self, plan: SourcePlan, first: int) -> None:
        """Fail every variant of a model far below its parent (``collapse_error``) when
        its technique checks that: its files agree with it, so verification alone would
        pass a chance-level model."""
        technique = TECHNIQUES.get(plan.technique)
        if technique is None or not technique.checks_collapse or plan.parent is None:
            return
        from alexedge.compress.techniques.cluster import collapse_error

        error = collapse_error(
            plan.name,
            self.keras[plan.name]["top1"],
            plan.parent,
            self.keras[plan.parent]["top1"],
            self.inputs.dataset.num_classes,
        )
        if error is None:
            return
        self.say(f"FAILED: {error}")
        for j in range(first, len(self.measured)):
            m = self.measured[j]  # an agreement failure keeps its own reason too
            reasons = "; ".join(filter(None, (m.error, error)))
            self.measured[j] = replace(m, status="failed", error=reasons)


def predict_probs(model: Any, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """Class probabilities of a Keras model on uint8 crops.

    Batches are cast to float one at a time: the paper model's float val set is 600 MB.
    """
    parts = [
        np.asarray(model(crops[i : i + batch].astype(np.float32), training=False))
        for i in range(0, len(crops), batch)
    ]
    return np.concatenate(parts)


def with_metadata(data: bytes, name: str, inputs: RunInputs) -> bytes:
    """Every variant carries its labels and input normalization (TFLite metadata), so
    ``alexedge classify`` and MediaPipe name the classes and feed raw pixels unasked.
    ``alexedge package`` rewrites it with the full description for the phone."""
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata

    metadata = ModelMetadata(
        name=f"{inputs.train_config.model} {name}",
        description=f"alexedge variant {name} of {inputs.run_dir.name}",
        input=ImageInputMetadata(mean=MODEL_INPUT_MEAN, std=MODEL_INPUT_STD),
    )
    labels = _labels_text(inputs).encode()
    return write_metadata(data, metadata, {metadata.output.labels_file: labels})


def start_variants_folder(inputs: RunInputs, config: CompressConfig) -> None:
    """``RUN/variants/labels.txt`` and ``config.json``, written before the first variant:
    ``package`` and the report read the class names and the config beside the files."""
    folder = inputs.run_dir / VARIANTS_DIR
    write_text(folder / LABELS, _labels_text(inputs))
    write_json(folder / "config.json", config_to_dict(config))


def variants_document(
    inputs: RunInputs,
    config: CompressConfig,
    keras: Mapping[str, Any],
    measured: Sequence[VariantMeasurement],
    extras: Mapping[str, Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
    added: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's ``variants.json``, validated: these rows (each measurement with its
    ``extras``) and Keras scores merged into ``previous`` (None: nothing to merge; the
    merge still records the machine), with ``added`` top-level keys (the search's record).
    """
    train = inputs.decoded_train
    skipped = len(inputs.val_split.skipped) + (len(train.skipped) if train else 0)
    new = {
        "schema_version": SCHEMA_VERSION,
        "model": inputs.train_config.model,
        "input_size": inputs.train_config.input_size,
        "parameters": int(inputs.model.count_params()),
        "dataset": {
            "root": inputs.dataset.root,
            "classes": inputs.dataset.num_classes,
            "train_images": len(train) if train else len(inputs.dataset.train),
            "val_images": len(inputs.val_split),
            "skipped": skipped,
        },
        "keras": dict(keras),
        "variants": [{**m.to_dict(), **extras.get(m.name, {})} for m in measured],
        "compress": config_to_dict(config),
        **(added or {}),
    }
    doc = merge_variants_doc(new, previous, inputs.run_dir / VARIANTS_DIR)
    validate_variants_doc(doc)
    return doc


def _labels_text(inputs: RunInputs) -> str:
    return "".join(f"{n}\n" for n in inputs.dataset.class_names)


def _sparsity_entry(model: Any, config: CompressConfig) -> dict[str, Any]:
    from alexedge.compress.techniques.prune import layer_sparsity, overall_sparsity

    rows = layer_sparsity(model)
    return {
        "sparsity": round(overall_sparsity(rows, config.skip_layers), 4),
        "layers": [r.to_dict() for r in rows],
    }


def _float_choices(
    base: str, errors: list[Any], layers: tuple[str, ...], config: CompressConfig
) -> list[tuple[str, tuple[str, ...]]]:
    """(variant name, layers kept float) for ``--float-layers`` and ``--auto-float``."""
    from alexedge.compress.export.float_layers import (
        auto_float_layers,
        check_float_layers,
        float_variant_name,
    )

    where = f"the converted {base} model"
    choices = []
    if config.float_layers:
        named = check_float_layers(config.float_layers, layers, where)
        choices.append((float_variant_name(base, named), named))
    if config.auto_float:
        auto = check_float_layers(auto_float_layers(errors, config.auto_float), layers, where)
        choices.append((float_variant_name(base, auto, config.auto_float), auto))
    return choices


def _report_source(name: str, entry: dict[str, Any], say: Say) -> None:
    say(f"Keras {name}: top-1 {entry['top1']:.3f}, top-5 {entry['top5']:.3f}")
    if "layers" in entry:
        layers = ", ".join(f"{r['layer']} {100 * r['sparsity']:.0f}%" for r in entry["layers"])
        say(f"{name}: sparsity {100 * entry['sparsity']:.1f}% of pruned layers ({layers})")


def _report(m: VariantMeasurement, say: Say) -> None:
    status = "" if m.status == "ok" else f"  FAILED: {m.error}"
    say(
        f"{m.name}: {m.bytes:,} bytes (gzip {m.gzip_bytes:,}), zeros "
        f"{100 * (1 - m.nonzero_weights / max(1, m.weights)):.1f}%, top-1 {m.top1:.3f} "
        f"(Keras {m.keras_top1:.3f}), agreement {m.keras_agreement:.3f}, "
        f"{m.latency_ms_1_thread:.2f}/{m.latency_ms_2_threads:.2f} ms{status}"
    )
    if MODES[m.quantization].integer_io and m.float_ops:
        ops = ", ".join(f"{op} x{n}" for op, n in m.float_ops.items())
        hint = (
            " (TFLite has no integer LRN kernel); for full-int8 deployment use the "
            "batch-norm model alexnet-reduced, which has no LRN"
            if _LRN in m.float_ops
            else ""
        )
        say(f"{m.name}: ops left in float between DEQUANTIZE/QUANTIZE: {ops}{hint}")


class _Top1:
    """``RUN/predictions.npz`` (``alexedge.predictions``), rewritten with each source.

    What an earlier compress of the same run measured and this one did not is kept,
    as ``merge_variants_doc`` keeps its rows.
    """

    def __init__(self, run_dir: Path, labels: np.ndarray) -> None:
        self.run_dir, self.labels = run_dir, labels
        self.keras: dict[str, np.ndarray] = {}
        self.variants: dict[str, np.ndarray] = {}
        try:
            old = read_predictions(run_dir / PREDICTIONS)
        except AlexEdgeError:
            return
        if np.array_equal(old.labels, labels):
            self.keras, self.variants = old.keras, old.variants

    def write(self) -> None:
        write_predictions(self.run_dir, self.labels, self.keras, self.variants)
