"""Verification of exported variants: a broken export must fail loudly, not ship quietly.

A variant is checked against the Keras model it was converted from: the share of
validation images with the same top-1 must reach the floor of its quantization
mode (``alexedge.modes``). A failed variant keeps its measurements (marked
``status: "failed"`` in ``variants.json``) so a person can see how far off it is;
``raise_for_failures`` then turns the failures into one error and a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alexedge.errors import ModelError
from alexedge.modes import MODES

__all__ = ["AgreementCheck", "AgreementError", "check_agreement", "raise_for_failures"]


class AgreementError(ModelError):
    """One or more variants disagree with their Keras model more than their floor allows."""

    def __init__(self, message: str, failed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass(frozen=True)
class AgreementCheck:
    name: str
    quantization: str
    agreement: float
    floor: float

    @property
    def ok(self) -> bool:
        return self.agreement >= self.floor

    @property
    def message(self) -> str | None:
        if self.ok:
            return None
        return (
            f"{self.name}: top-1 agrees with its Keras model on {100 * self.agreement:.1f}% "
            f"of validation images, below the {100 * self.floor:.1f}% floor for "
            f"{self.quantization}: the export is broken"
        )


def check_agreement(name: str, quantization: str, agreement: float) -> AgreementCheck:
    """Compare ``agreement`` (a share in [0, 1]) with the floor of ``quantization``."""
    if quantization not in MODES:
        raise ModelError(f"{name}: no agreement floor for quantization {quantization!r}")
    return AgreementCheck(name, quantization, agreement, MODES[quantization].agreement_floor)


def raise_for_failures(rows: Iterable[Mapping[str, object]]) -> None:
    """Raise ``AgreementError`` naming every row whose ``status`` is ``failed``."""
    failed = [r for r in rows if r.get("status") == "failed"]
    if not failed:
        return
    names = tuple(str(r["name"]) for r in failed)
    details = "; ".join(str(r.get("error") or r["name"]) for r in failed)
    raise AgreementError(
        f"{len(failed)} variant(s) failed verification: {details}. "
        "Their measurements are in variants.json with status 'failed'.",
        names,
    )
