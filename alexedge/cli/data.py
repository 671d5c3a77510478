"""``alexedge data synth|check|fetch``: make, check and download datasets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors
from alexedge.errors import AlexEdgeError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Make, check and download datasets.", no_args_is_help=True)
    data_app.command("synth")(handle_errors(synth))
    data_app.command("check")(handle_errors(check))
    data_app.command("fetch")(handle_errors(fetch))
    app.add_typer(data_app, name="data")


def synth(
    out: Annotated[
        Path, typer.Argument(help="Folder to create (OUT/train/<class>, OUT/val/<class>).")
    ],
    classes: Annotated[int, typer.Option(help="Number of classes.")] = 20,
    per_class: Annotated[int, typer.Option(help="Training images per class.")] = 400,
    val_per_class: Annotated[int, typer.Option(help="Validation images per class.")] = 50,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
    seed: Annotated[int, typer.Option(help="Same seed, byte-identical dataset.")] = 0,
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Write the built-in procedurally generated dataset as real JPEG files."""
    from alexedge.data.synth import SynthConfig, synthesize_dataset

    config = SynthConfig(
        classes=classes, per_class=per_class, val_per_class=val_per_class, size=size, seed=seed
    )
    if force and out.is_dir() and any(out.iterdir()):
        if not (out / "synth_config.json").is_file():
            raise AlexEdgeError(f"{out}: not a synthesized dataset; refusing to delete it")
        shutil.rmtree(out)
    path = synthesize_dataset(config, out)
    typer.echo(f"wrote {classes} classes x ({per_class} train + {val_per_class} val) to {path}")


def check(
    folder: Annotated[Path, typer.Argument(help="Folder to scan (recursively) for image files.")],
    workers: Annotated[int | None, typer.Option(help="Parallel decoders.")] = None,
) -> None:
    """Decode every image file and list the unreadable ones with the reason (exit 1 if any)."""
    from alexedge.data.check import check_images, format_check_report

    report = check_images(folder, workers)
    typer.echo(format_check_report(report))
    if not report.ok:
        raise typer.Exit(1)


def fetch(
    lists: Annotated[Path, typer.Argument(help="Folder of <class>.txt files, one URL a line.")],
    out: Annotated[Path, typer.Argument(help="Destination: OUT/<class>/<file>.")],
    workers: Annotated[int, typer.Option(help="Parallel downloads.")] = 8,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect.")] = 5.0,
    read_timeout: Annotated[float, typer.Option(help="Seconds of silence while reading.")] = 15.0,
    retries: Annotated[int, typer.Option(help="Retries for timeouts, 5xx and 429.")] = 3,
    max_bytes: Annotated[int, typer.Option(help="Abort files larger than this.")] = 20_000_000,
    min_bytes: Annotated[int, typer.Option(help="Drop files smaller than this.")] = 5_000,
    retry_failed: Annotated[
        bool, typer.Option(help="Retry URLs that failed in an earlier run.")
    ] = False,
    deadline: Annotated[
        float,
        typer.Option(help="Seconds one URL may take, retries included; slower: too_slow."),
    ] = 300.0,
    min_rate: Annotated[
        float,
        typer.Option(
            help="Bytes per second a download must average after --read-timeout seconds, "
            "else too_slow."
        ),
    ] = 1000.0,
    allow_private_hosts: Annotated[
        bool,
        typer.Option(
            help="Let listed URLs reach loopback and private-network addresses (a local "
            "mirror); redirects from public hosts into them stay refused."
        ),
    ] = False,
) -> None:
    """Download images from per-class URL lists; resumable, placeholder-aware.

    Connections to loopback, private, link-local, multicast and reserved addresses
    (checked after DNS, at every redirect) fail as blocked_address.
    """
    from alexedge.data.fetch import FetchConfig, fetch_dataset, format_summary

    summary = fetch_dataset(
        FetchConfig(
            lists=lists,
            out=out,
            workers=workers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            max_bytes=max_bytes,
            min_bytes=min_bytes,
            retry_failed=retry_failed,
            deadline=deadline,
            min_rate=min_rate,
            allow_private_hosts=allow_private_hosts,
        )
    )
    typer.echo(format_summary(summary))
