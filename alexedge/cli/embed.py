"""``alexedge embed`` and ``alexedge probe``: a trained network's features, and a linear
classifier on them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alexedge.cli.errors import handle_errors

if TYPE_CHECKING:
    from alexedge.transfer.feature_file import Features

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("embed")(handle_errors(embed))
    app.command("probe")(handle_errors(probe))


def embed(
    model: Annotated[
        Path,
        typer.Argument(
            help="A run folder (its best.keras), a .keras model, or an embedder .tflite "
            "(alexedge package RUN --embedder; no TensorFlow needed)."
        ),
    ],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="One dataset folder (labels from its class folders) or image files (no "
            "labels). Default: the run's own dataset."
        ),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(
            help="The layer whose output is the vector, by its paper name (fc7, fc6, conv5, "
            "...): the block's output after batch norm and ReLU. A conv layer's map is "
            "global-average-pooled to one value per channel. Default: the input of the "
            "classifier head fc8 (fc7). Fixed in an embedder .tflite."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="Split of a dataset folder: train, val (default), test or all."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="The features file (features, labels, files, class names).")
    ] = Path("features.npz"),
    clusters: Annotated[
        bool,
        typer.Option(
            "--clusters",
            help="Also cluster the vectors (PCA, then k-means with k = the number of "
            "classes) and score them against the labels: clusters.json, clusters.npz and "
            "clusters.png in the run folder (beside --out for a model file), shown by "
            "alexedge report.",
        ),
    ] = False,
    pca_dims: Annotated[
        int | None, typer.Option(help="PCA components before k-means (default 50).")
    ] = None,
    clusters_k: Annotated[
        int | None, typer.Option(help="k of k-means (default: the number of classes).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of PCA and k-means (default 0).")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per forward pass (default 64).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Interpreter threads (.tflite).")] = None,
) -> None:
    """Write one feature vector per image, with its label and file name, to --out.

    The images go through the same preprocessing as validation in training (shorter side
    resized, centre crop). A .tflite embedder gives the vectors a phone computes.
    """
    from alexedge.transfer.embedding import EmbedConfig
    from alexedge.transfer.embedding import embed as embed_images
    from alexedge.transfer.feature_file import write_features

    config = EmbedConfig(**_given(layer=layer, split=split, batch_size=batch_size, threads=threads))
    features = embed_images(model, list(inputs or []), config)
    write_features(out, features)
    count, dims = features.features.shape
    known = int(features.labelled.sum())
    typer.echo(
        f"embedded {count} images ({known} labelled) at layer {features.layer}: "
        f"{dims} values each -> {out}"
    )
    if clusters:
        options = _given(pca_dims=pca_dims, clusters=clusters_k, seed=seed)
        _cluster(features, model if model.is_dir() else out.parent, options)


def _given(**options: Any) -> dict[str, Any]:
    """Options given on the command line: the rest keep their config's default."""
    return {name: value for name, value in options.items() if value is not None}


def _cluster(features: Features, folder: Path, options: dict[str, Any]) -> None:
    from alexedge.report.figures import have_matplotlib
    from alexedge.transfer.clusters import (
        CLUSTERS_FIGURE,
        ClusterConfig,
        cluster_features,
        write_clusters,
    )

    result = cluster_features(features, ClusterConfig(**options))
    scores_path, _ = write_clusters(folder, result)
    line = f"clusters: k={result.clusters} on {result.pca_dims} PCA components"
    if result.ami is not None:
        line += (
            f", AMI {result.ami:.3f}, adjusted Rand {result.ari:.3f}, purity {result.purity:.3f}"
        )
    typer.echo(f"{line} -> {scores_path}")
    if have_matplotlib():
        from alexedge.report.clusters_plot import plot_clusters

        typer.echo(f"figure: {plot_clusters(result, folder / CLUSTERS_FIGURE)}")


def probe(
    train_features: Annotated[
        Path, typer.Argument(help="features.npz of the training images (alexedge embed).")
    ],
    val_features: Annotated[
        Path, typer.Argument(help="features.npz of the validation images, same layer.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Results as JSON. Default: probe.json beside the validation file."),
    ] = None,
    c: Annotated[
        float | None,
        typer.Option("--c", help="Inverse L2 regularization strength, C (default 1.0)."),
    ] = None,
    max_iter: Annotated[
        int | None, typer.Option(help="L-BFGS iterations at most (default 1000).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the solver (default 0).")] = None,
) -> None:
    """Linear probe: logistic regression on standardized frozen features.

    Trained on the first file's vectors, scored on the second's with the same top-1/top-5
    as every alexedge evaluation: how much of the task the representation already solves.
    """
    from alexedge.atomic import write_json
    from alexedge.transfer.feature_file import read_features
    from alexedge.transfer.probe import ProbeConfig, linear_probe

    config = ProbeConfig(**_given(c=c, max_iter=max_iter, seed=seed))
    result = linear_probe(read_features(train_features), read_features(val_features), config)
    path = write_json(out or val_features.with_name("probe.json"), result.to_dict())
    typer.echo(
        f"linear probe on {result.layer} ({result.dimensions} values, {result.train_images} "
        f"training images, {result.classes} classes): top-1 {100 * result.top1:.1f}%, "
        f"top-5 {100 * result.top5:.1f}% on {result.val_images} validation images "
        f"(training top-1 {100 * result.train_top1:.1f}%) -> {path}"
    )
    if not result.converged:
        typer.echo(
            f"note: the solver stopped at {config.max_iter} iterations before converging "
            "(raise --max-iter)"
        )
