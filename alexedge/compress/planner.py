"""``alexedge compress RUN``: a family of verified, measured TFLite variants from one run.

The family is planned first (pure, from the config): Keras *sources* (the trained
model, one pruned model per sparsity target, optionally a QAT model of each, and a
clustered model of each pruned one, or of the trained one when nothing is pruned),
and for each source the TFLite modes to export. Then every source
goes through the chain ``wrap -> fine-tune -> strip`` (``prune``/``cluster``/``qat``)
and every variant through ``convert -> write -> measure -> verify``. ``variants.json``
is rewritten after each source, so an interrupted run keeps what it measured.

Variant names are ``<mode>`` for the trained model (``float32``, ``int8``) and
``<source>-<mode>`` otherwise (``pruned90-int8``, ``pruned90-qat-int8``,
``pruned90-clustered16-int8``, ``pruned90-qat4-int4``: trained on the int4 grid). Each
post-training int8 variant gets a per-layer error report (``layer_errors``, isolated:
the quantization debugger) in its row, and ``--float-layers`` / ``--auto-float`` add
siblings with some layers left in float (``int8-float-conv1-fc8``, ``int8-autofloat2``,
``float_layers``). int16x8 and int4 variants get an accumulated one (``tensor_errors``:
the file against its source's float32 file); ``layer_errors=False`` turns both off.
``alexedge pipeline`` calls the same ``compress_run``.
Every model's and variant's top-1 per validation image goes to ``RUN/predictions.npz``
(``alexedge.predictions``): the report's per-class damage and confusion come from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alexedge import progress
from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.measure import VariantMeasurement, measure_variant
from alexedge.compress.diagnostics.verify import raise_for_failures
from alexedge.compress.inputs import RunInputs, load_run_inputs
from alexedge.compress.schema import SCHEMA_VERSION, merge_variants_doc, validate_variants_doc
from alexedge.config import config_to_dict
from alexedge.data.decode import DecodedSplit
from alexedge.errors import AlexEdgeError
from alexedge.metrics import ranked_classes, top_k_scores
from alexedge.modes import ACCUMULATED, ISOLATED, MODES, QUANTIZATION_MODES
from alexedge.predictions import read_predictions, write_predictions
from alexedge.preprocess import MODEL_INPUT_MEAN, MODEL_INPUT_STD, center_crops
from alexedge.run import BEST_MODEL, LABELS, PREDICTIONS, VARIANTS_DIR, VARIANTS_JSON

if TYPE_CHECKING:
    from alexedge.compress.export.convert import Export

__all__ = ["CompressResult", "SourcePlan", "compress_run", "plan_family", "variant_name"]

Say = Callable[[str], None]
_LRN = "LOCAL_RESPONSE_NORMALIZATION"


@dataclass(frozen=True)
class SourcePlan:
    """A Keras model of the family: how it is made from ``parent`` and what it exports."""

    name: str
    parent: str | None  # None: the trained model itself
    technique: str  # "trained", "prune", "cluster", "qat" or "qat4"
    modes: tuple[str, ...]
    sparsity_target: float = 0.0
    clusters: int = 0
    qat: bool = False


@dataclass(frozen=True)
class CompressResult:
    run_dir: Path
    doc: dict[str, Any]
    measured: tuple[VariantMeasurement, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.measured if m.status != "ok")

    def raise_for_failures(self) -> None:
        """``AgreementError`` naming every variant made now that failed verification."""
        raise_for_failures(m.to_dict() for m in self.measured)


def variant_name(source: str, mode: str, per_channel: bool = True) -> str:
    """``int8``, ``pruned90-int8``; ``-per-tensor`` marks weights with one scale each."""
    name = mode if source == "float" else f"{source}-{mode}"
    return name if per_channel or not MODES[mode].integer_weights else f"{name}-per-tensor"


def _percent(target: float) -> str:
    return f"{100 * target:.4g}"


def plan_family(config: CompressConfig) -> list[SourcePlan]:
    """Sources in build order; each parent is planned before its children."""
    modes = tuple(m for m in QUANTIZATION_MODES if m in config.quantize)
    # float32 of the trained model is always made: every size ratio is against it.
    float_modes = ("float32", *(m for m in modes if m != "float32"))
    plans = [SourcePlan("float", None, "trained", float_modes)]
    for target in config.pruning_targets:
        name = f"pruned{_percent(target)}"
        plans.append(SourcePlan(name, "float", "prune", modes, sparsity_target=target))
        plans += _derived(name, target, modes, config, cluster=True)
    # Clustering follows pruning when there is pruning (Deep Compression's order):
    # clustering the dense model as well would double the fine-tuning for a variant
    # that cannot beat its pruned sibling on size.
    return plans + _derived("float", 0.0, modes, config, cluster=not config.pruning_targets)


def _derived(
    parent: str, target: float, modes: tuple[str, ...], config: CompressConfig, cluster: bool
) -> list[SourcePlan]:
    prefix = "" if parent == "float" else f"{parent}-"
    plans = []
    if config.qat:
        # QAT trains for integer arithmetic: only the full-integer modes are worth exporting.
        integer = tuple(m for m in modes if MODES[m].integer_io)
        plans.append(SourcePlan(f"{prefix}qat", parent, "qat", integer, target, qat=True))
    if config.qat_int4:
        plans.append(SourcePlan(f"{prefix}qat4", parent, "qat4", ("int4",), target, qat=True))
    if config.clusters and cluster:
        name = f"{prefix}clustered{config.clusters}"
        plans.append(SourcePlan(name, parent, "cluster", modes, target, clusters=config.clusters))
    return plans


def compress_run(
    run_dir: Path,
    config: CompressConfig,
    *,
    representative: Path | None = None,
    data_root: Path | None = None,
    strict: bool = True,
    say: Say = progress.say,
    decoded: tuple[DecodedSplit, DecodedSplit] | None = None,
) -> CompressResult:
    """Make, write, measure and verify every planned variant of the run in ``run_dir``.

    Args:
        representative: folder of images for int8 calibration (default: the run's
            training images), all through the evaluation preprocessing.
        data_root: where the run's dataset lives now, if it moved.
        strict: raise ``AgreementError`` (after writing ``variants.json``) when a
            variant fails verification; ``False`` leaves it to the caller.
        decoded: the run's (train, val) splits already decoded in memory (the pipeline
            hands over what training decoded), instead of decoding them again.
    """
    plans = plan_family(config)
    inputs = load_run_inputs(
        run_dir, config.calibration_images, config.seed, representative, data_root, decoded
    )
    if config.float_layers:
        from alexedge.compress.export.float_layers import check_model_float_layers

        # Before the first write: a mistyped layer name leaves the run folder as it was.
        check_model_float_layers(inputs.model, config.float_layers, str(run_dir / BEST_MODEL))
    folder = run_dir / VARIANTS_DIR
    write_text(folder / LABELS, "".join(f"{n}\n" for n in inputs.dataset.class_names))
    write_json(folder / "config.json", config_to_dict(config))
    previous = _read_previous(run_dir)
    crops = _val_crops(inputs)
    models: dict[str, Any] = {"float": inputs.model}
    keras: dict[str, dict[str, Any]] = {}
    measured: list[VariantMeasurement] = []
    extras: dict[str, dict[str, Any]] = {}  # per variant name: layer_errors, float_layers
    top1 = _Top1(run_dir, inputs.val_split.labels)
    for i, plan in enumerate(plans):
        first = len(measured)
        model = models[plan.name] = _build(plan, models, inputs, config, say)
        predictions, keras[plan.name] = _score_keras(plan, model, crops, inputs, config)
        top1.keras[plan.name] = predictions
        _report_source(plan.name, keras[plan.name], say)
        from alexedge.compress.export.convert import exporter  # TensorFlow

        with exporter(model) as export:
            for mode in plan.modes:
                m, variant_top1 = _variant(
                    plan, mode, export, crops, predictions, keras, inputs, config, say
                )
                measured.append(m)
                top1.variants[m.name] = variant_top1
            _accumulated_layer_errors(plan, model, export, inputs, config, say, extras)
        for m, variant_top1 in _layer_variants(
            plan, model, crops, predictions, keras, inputs, config, say, extras
        ):
            measured.append(m)
            top1.variants[m.name] = variant_top1
        _fail_collapsed(plan, keras, inputs, measured, first, say)
        _release(models, plans[i + 1 :])
        doc = _document(inputs, config, keras, measured, previous, extras)
        write_json(run_dir / VARIANTS_JSON, doc)
        top1.write()
    result = CompressResult(run_dir, doc, tuple(measured))
    if strict:
        result.raise_for_failures()
    return result


def _build(
    plan: SourcePlan, models: dict[str, Any], inputs: RunInputs, config: CompressConfig, say: Say
) -> Any:
    if plan.parent is None:
        return inputs.model
    from alexedge.compress.techniques.finetune import FinetuneData

    data = FinetuneData(
        inputs.train_split(), inputs.dataset.num_classes, inputs.stats, inputs.train_config
    )
    parent = models[plan.parent]
    say(f"{plan.name}: {plan.technique} + fine-tune from {plan.parent} ...")
    if plan.technique == "prune":
        from alexedge.compress.techniques.prune import prune

        return prune(parent, data, config, plan.sparsity_target)
    if plan.technique == "cluster":
        from alexedge.compress.techniques.cluster import cluster

        keep_zeros = config.preserve_sparsity and plan.sparsity_target > 0
        return cluster(parent, data, config, preserve_sparsity=keep_zeros)
    if plan.technique == "qat4":
        from alexedge.compress.techniques.qat4 import qat4_finetune

        return qat4_finetune(parent, data, config, keep_zeros=plan.sparsity_target > 0)
    from alexedge.compress.techniques.qat import qat_finetune

    return qat_finetune(parent, data, config, preserve_sparsity=plan.sparsity_target > 0)


def _fail_collapsed(
    plan: SourcePlan,
    keras: dict[str, dict[str, Any]],
    inputs: RunInputs,
    measured: list[VariantMeasurement],
    first: int,
    say: Say,
) -> None:
    """Fail every variant of a clustered model far below its parent (``collapse_error``):
    its files agree with it, so verification alone would pass a chance-level model."""
    if plan.technique != "cluster" or plan.parent is None:
        return
    from alexedge.compress.techniques.cluster import collapse_error

    error = collapse_error(
        plan.name,
        keras[plan.name]["top1"],
        plan.parent,
        keras[plan.parent]["top1"],
        inputs.dataset.num_classes,
    )
    if error is None:
        return
    say(f"FAILED: {error}")
    for j in range(first, len(measured)):
        m = measured[j]  # an agreement failure keeps its own reason too
        measured[j] = replace(m, status="failed", error="; ".join(filter(None, (m.error, error))))


def _release(models: dict[str, Any], later: list[SourcePlan]) -> None:
    """Drop the Keras models no later source derives from (the paper model is 240 MB)."""
    needed = {"float"} | {p.parent for p in later if p.parent}
    for name in [n for n in models if n not in needed]:
        del models[name]


def _val_crops(inputs: RunInputs) -> np.ndarray:
    size = inputs.train_config.input_size
    return center_crops(inputs.val_split.images, size)


def _predict(model: Any, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    # Batches of uint8 cast one at a time: the paper model's float val set is 600 MB.
    parts = [
        np.asarray(model(crops[i : i + batch].astype(np.float32), training=False))
        for i in range(0, len(crops), batch)
    ]
    return np.concatenate(parts)


def _score_keras(
    plan: SourcePlan, model: Any, crops: np.ndarray, inputs: RunInputs, config: CompressConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    probs = _predict(model, crops)
    entry: dict[str, Any] = {
        **top_k_scores(probs, inputs.val_split.labels),
        "sparsity_target": plan.sparsity_target,
        "clusters": plan.clusters,
        "qat": plan.qat,
    }
    if plan.technique in ("prune", "cluster", "qat4"):
        entry.update(_sparsity_entry(plan, model, config))
    return ranked_classes(probs, 1)[:, 0], entry


def _sparsity_entry(plan: SourcePlan, model: Any, config: CompressConfig) -> dict[str, Any]:
    from alexedge.compress.techniques.prune import layer_sparsity, overall_sparsity

    rows = layer_sparsity(model)
    return {
        "sparsity": round(overall_sparsity(rows, config.skip_layers), 4),
        "layers": [r.to_dict() for r in rows],
    }


def _variant(
    plan: SourcePlan,
    mode: str,
    export: Export,
    crops: np.ndarray,
    predictions: np.ndarray,
    keras: dict[str, dict[str, Any]],
    inputs: RunInputs,
    config: CompressConfig,
    say: Say,
) -> tuple[VariantMeasurement, np.ndarray]:
    """convert -> write -> measure -> verify one variant; also its top-1 per val image."""
    name = variant_name(plan.name, mode, config.per_channel)
    calibration = inputs.calibration if MODES[mode].needs_calibration else None
    data = export(mode, calibration, config.io_type, config.per_channel)
    return _finish_variant(plan, mode, name, data, crops, predictions, keras, inputs, config, say)


def _finish_variant(
    plan: SourcePlan,
    mode: str,
    name: str,
    data: bytes,
    crops: np.ndarray,
    predictions: np.ndarray,
    keras: dict[str, dict[str, Any]],
    inputs: RunInputs,
    config: CompressConfig,
    say: Say,
) -> tuple[VariantMeasurement, np.ndarray]:
    """write -> measure -> verify one converted variant; also its top-1 per val image."""
    data = _with_metadata(data, name, inputs)
    path = write_bytes(inputs.run_dir / VARIANTS_DIR / f"{name}.tflite", data)
    m, variant_top1 = measure_variant(
        name,
        path,
        plan.name,
        mode,
        crops,
        inputs.val_split.labels,
        predictions,
        keras[plan.name]["top1"],
        sparsity_target=plan.sparsity_target,
        qat=plan.qat,
        clusters=plan.clusters,
        per_channel=config.per_channel,
    )
    if MODES[mode].integer_io and m.io != config.io_type and m.status == "ok":
        m = replace(m, status="failed", error=f"{name}: I/O is {m.io}, not --io {config.io_type}")
    _report(m, say)
    return m, variant_top1


def _layer_variants(
    plan: SourcePlan,
    model: Any,
    crops: np.ndarray,
    predictions: np.ndarray,
    keras: dict[str, dict[str, Any]],
    inputs: RunInputs,
    config: CompressConfig,
    say: Say,
    extras: dict[str, dict[str, Any]],
) -> list[tuple[VariantMeasurement, np.ndarray]]:
    """The per-layer error report of each post-training integer variant (into ``extras``)
    and its ``--float-layers`` / ``--auto-float`` siblings, measured like any variant."""
    modes = [m for m in plan.modes if MODES[m].error_report == ISOLATED]
    wanted = config.layer_errors or config.float_layers or config.auto_float
    if plan.qat or not modes or not wanted:  # QAT models carry their own ranges
        return []
    from alexedge.compress.diagnostics.layer_errors import (
        calibrator,
        format_layer_errors,
        layer_errors,
    )
    from alexedge.compress.export.float_layers import export_with_float_layers

    results = []
    with calibrator(model) as calibrate:
        for mode in modes:
            base = variant_name(plan.name, mode, config.per_channel)
            calibrated = calibrate(mode, inputs.calibration, config.io_type, config.per_channel)
            errors = layer_errors(calibrated)
            extras[base] = {"layer_errors": [e.to_dict() for e in errors]}
            say(f"{base}: per-layer error, worst first: {format_layer_errors(errors, 4)}")
            choices = _float_choices(base, errors, calibrated.layers, config)
            for name, layers in choices:
                data = export_with_float_layers(calibrated, layers)
                results.append(
                    _finish_variant(
                        plan, mode, name, data, crops, predictions, keras, inputs, config, say
                    )
                )
                extras[name] = {"float_layers": list(layers)}
    return results


def _accumulated_layer_errors(
    plan: SourcePlan,
    model: Any,
    export: Export,
    inputs: RunInputs,
    config: CompressConfig,
    say: Say,
    extras: dict[str, dict[str, Any]],
) -> None:
    """The accumulated per-layer error of each int16x8/int4 variant just written (into
    ``extras``): the debugger the int8 report uses takes neither mode."""
    modes = [m for m in plan.modes if MODES[m].error_report == ACCUMULATED]
    if not modes or not config.layer_errors:
        return
    from alexedge.compress.diagnostics.layer_errors import weight_layers
    from alexedge.compress.diagnostics.tensor_errors import (
        accumulated_errors,
        format_accumulated_errors,
    )

    folder = inputs.run_dir / VARIANTS_DIR
    # The source's own float32 file when it was exported, else the same conversion.
    if "float32" in plan.modes:
        reference = (folder / f"{variant_name(plan.name, 'float32')}.tflite").read_bytes()
    else:
        reference = export("float32", None, config.io_type, config.per_channel)
    for mode in modes:
        name = variant_name(plan.name, mode, config.per_channel)
        variant = (folder / f"{name}.tflite").read_bytes()
        errors = accumulated_errors(variant, reference, weight_layers(model), inputs.calibration)
        extras.setdefault(name, {})["layer_errors"] = [e.to_dict() for e in errors]
        say(
            f"{name}: per-layer error (accumulated), worst first: "
            f"{format_accumulated_errors(errors, 4)}"
        )


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


def _with_metadata(data: bytes, name: str, inputs: RunInputs) -> bytes:
    """Every variant carries its labels and input normalization (TFLite metadata), so
    ``alexedge classify`` and MediaPipe name the classes and feed raw pixels unasked.
    ``alexedge package`` rewrites it with the full description for the phone."""
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata

    labels = "".join(f"{n}\n" for n in inputs.dataset.class_names).encode()
    metadata = ModelMetadata(
        name=f"{inputs.train_config.model} {name}",
        description=f"alexedge variant {name} of {inputs.run_dir.name}",
        input=ImageInputMetadata(mean=MODEL_INPUT_MEAN, std=MODEL_INPUT_STD),
    )
    return write_metadata(data, metadata, {metadata.output.labels_file: labels})


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


def _read_previous(run_dir: Path) -> dict[str, Any] | None:
    import json

    path = run_dir / VARIANTS_JSON
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("variants"), list) else None


def _document(
    inputs: RunInputs,
    config: CompressConfig,
    keras: dict[str, dict[str, Any]],
    measured: list[VariantMeasurement],
    previous: dict[str, Any] | None,
    extras: dict[str, dict[str, Any]],
) -> dict[str, Any]:
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
        "keras": keras,
        "variants": [{**m.to_dict(), **extras.get(m.name, {})} for m in measured],
        "compress": config_to_dict(config),
    }
    doc = merge_variants_doc(new, previous, inputs.run_dir / VARIANTS_DIR)
    validate_variants_doc(doc)
    return doc
