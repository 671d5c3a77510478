"""``alexedge package RUN``: one variant of a run as the folder a phone app ships."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors

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
        str,
        typer.Option(help="android or ios: whose code USAGE.md shows first (and the folder name)."),
    ] = "android",
    out: Annotated[
        Path | None,
        typer.Option(help="Bundle folder. Default: RUN/android_assets or RUN/ios_assets."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty bundle folder.")] = False,
    author: Annotated[str, typer.Option(help="Author, in the model's metadata.")] = "alexedge",
    license: Annotated[
        str, typer.Option("--license", help="License, in the model's metadata.")
    ] = "unspecified",
    version: Annotated[
        str, typer.Option("--model-version", help="Model version, in the metadata.")
    ] = "1",
    data: Annotated[
        Path | None, typer.Option(help="Where the run's dataset is now, if it moved.")
    ] = None,
) -> None:
    """Write a phone app's bundle of one variant, with metadata MediaPipe Tasks reads.

    model.tflite with embedded TFLite metadata (labels, normalization), labels.txt,
    manifest.json, USAGE.md (Kotlin and Swift) and golden/ (validation images with the
    expected top-5, for the app's own test of its preprocessing).
    """
    from alexedge.android_assets import PackageConfig, package_run

    config = PackageConfig(
        variant=variant,
        target=target,
        out=out,
        force=force,
        author=author,
        license=license,
        version=version,
        data_root=data,
    )
    bundle = package_run(run, config)
    typer.echo(
        f"packaged {bundle.variant} ({bundle.model_bytes:,} bytes, "
        f"{bundle.model_bytes / 1e6:.3f} MB, sha256 {bundle.sha256[:12]}) for "
        f"{bundle.target} with {bundle.golden_images} golden images: {bundle.folder}"
    )
    for note in bundle.notes:
        typer.echo(f"note: {note}")
