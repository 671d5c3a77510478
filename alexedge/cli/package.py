"""``alexedge package RUN``: one variant of a run as the folder a phone app ships.

Options default to None, "not given", and then take ``PackageConfig``'s (or
``EmbedderConfig``'s) default; ``--help`` does not show those, as importing the bundle
writer would cost every command's start-up a third of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors
from alexedge.cli.options import given
from alexedge.errors import ConfigError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("package")(handle_errors(package))


def package(
    run: Annotated[Path, typer.Argument(help="A run folder with variants (after compress).")],
    variant: Annotated[
        str | None,
        typer.Option(
            help="The variant to ship (see RUN/variants.json). Default: the smallest one "
            "that passed verification and takes uint8 input."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="android or ios: whose code USAGE.md shows first (and the folder name)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Bundle folder. Default: RUN/android_assets or RUN/ios_assets."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty bundle folder.")] = False,
    author: Annotated[str | None, typer.Option(help="Author, in the model's metadata.")] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="License, in the model's metadata.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--model-version", help="Model version, in the metadata.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Where the run's dataset is now, if it moved.")
    ] = None,
    embedder: Annotated[
        bool,
        typer.Option(
            "--embedder",
            help="Bundle the run's feature extractor for MediaPipe's ImageEmbedder instead of "
            "a classifier variant (default folder RUN/android_embedder); see --layer.",
        ),
    ] = False,
    layer: Annotated[
        str | None,
        typer.Option(
            help="With --embedder: the layer whose output is the vector (fc7, conv5, ...; a "
            "conv map is global-average-pooled). Default: the input of fc8."
        ),
    ] = None,
    embedder_mode: Annotated[
        str | None, typer.Option(help="With --embedder: float32 (default) or int8 (uint8 I/O).")
    ] = None,
) -> None:
    """Write a phone app's bundle of one variant, with metadata MediaPipe Tasks reads.

    model.tflite with embedded TFLite metadata (labels, normalization), labels.txt,
    manifest.json, USAGE.md (Kotlin and Swift) and golden/ (validation images with the
    expected top-5, for the app's own test of its preprocessing). With --embedder: the
    network cut at --layer for MediaPipe's ImageEmbedder, checked against the Keras model.
    """
    if not embedder and (layer is not None or embedder_mode is not None):
        raise ConfigError("--layer and --embedder-mode describe an embedder: add --embedder")
    if embedder:
        if variant is not None:
            raise ConfigError("--embedder bundles the Keras feature extractor, not a --variant")
        metadata = given(author=author, license=license, version=version)
        _package_embedder(run, layer, embedder_mode, out, force, metadata, data)
        return
    from alexedge.android_assets import PackageConfig, package_run

    config = PackageConfig(
        force=force,
        **given(
            variant=variant,
            target=target,
            out=out,
            author=author,
            license=license,
            version=version,
            data_root=data,
        ),
    )
    bundle = package_run(run, config)
    typer.echo(
        f"packaged {bundle.variant} ({bundle.model_bytes:,} bytes, "
        f"{bundle.model_bytes / 1e6:.3f} MB, sha256 {bundle.sha256[:12]}) for "
        f"{bundle.target} with {bundle.golden_images} golden images: {bundle.folder}"
    )
    for note in bundle.notes:
        typer.echo(f"note: {note}")


def _package_embedder(
    run: Path,
    layer: str | None,
    mode: str | None,
    out: Path | None,
    force: bool,
    metadata: dict[str, str],
    data: Path | None,
) -> None:
    from alexedge.android_assets.embedder import MIN_COSINE, EmbedderConfig, package_embedder
    from alexedge.android_assets.package import PackageConfig

    shared = PackageConfig(force=force, **metadata, **given(out=out, data_root=data))
    config = EmbedderConfig(bundle=shared, **given(layer=layer, mode=mode))
    bundle = package_embedder(run, config)
    agreement = bundle.agreement
    typer.echo(
        f"packaged the {bundle.layer} embedder ({bundle.mode}, {bundle.dimensions} values, "
        f"{bundle.model_bytes:,} bytes, sha256 {bundle.sha256[:12]}): {bundle.folder}\n"
        f"cosine to the Keras vectors on {agreement.images} validation images: median "
        f"{agreement.median:.4f}, lowest {agreement.min:.4f}, {agreement.below_floor} below "
        f"{MIN_COSINE}"
    )
