"""The selection split and the noise figures: which images choose, which report."""

from __future__ import annotations

import numpy as np
import pytest

from alexedge.compress.search.selection import (
    binomial_se_points,
    class_losses,
    paired_flips,
    split_selection,
    worst_class,
)


def test_the_halves_are_disjoint_stratified_and_cover_the_split() -> None:
    labels = np.repeat(np.arange(4), [10, 11, 1, 6])
    split = split_selection(labels, seed=3)
    assert not set(split.selection) & set(split.reporting)
    assert sorted([*split.selection, *split.reporting]) == list(range(len(labels)))
    for c, n in enumerate([10, 11, 1, 6]):
        assert np.sum(labels[split.selection] == c) == n // 2
        assert np.sum(labels[split.reporting] == c) == n - n // 2


def test_the_split_is_fixed_by_its_seed() -> None:
    labels = np.repeat(np.arange(3), 20)
    a, b = split_selection(labels, 0), split_selection(labels, 0)
    assert np.array_equal(a.selection, b.selection)
    assert not np.array_equal(a.selection, split_selection(labels, 1).selection)


def test_paired_flips_count_the_images_whose_correctness_changed() -> None:
    reference = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], bool)
    candidate = np.array([1, 0, 0, 1, 0, 1, 1, 1, 1, 1], bool)
    flips = paired_flips(reference, candidate)
    assert (flips.lost, flips.gained, flips.images) == (2, 1, 10)
    assert flips.loss_points == pytest.approx(10.0)
    # McNemar: sqrt(b + c - (b - c)^2 / n) / n = sqrt(3 - 0.1) / 10
    assert flips.se_points == pytest.approx(100 * np.sqrt(2.9) / 10)
    assert paired_flips(reference, reference).se_points == 0.0


def test_binomial_error_and_class_losses() -> None:
    assert binomial_se_points(0.75, 300) == pytest.approx(100 * np.sqrt(0.75 * 0.25 / 300))
    labels = np.array([0, 0, 1, 1])
    losses = class_losses(labels, np.array([1, 1, 1, 0]), np.array([1, 0, 1, 1]), 3)
    assert list(losses) == [50.0, -50.0, 0.0]


def test_the_worst_class_is_the_one_that_loses_most_the_first_on_a_tie() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    reference = np.array([1, 1, 1, 1, 1, 1])
    assert worst_class(labels, reference, np.array([1, 1, 0, 1, 0, 0]), 3) == (2, 100.0)
    assert worst_class(labels, reference, np.array([0, 1, 0, 1, 1, 1]), 3) == (0, 50.0)


def test_the_records_say_how_noisy_a_decision_is() -> None:
    from alexedge.compress.search.images import Half, SearchImages

    labels = np.repeat([0, 1], 50)
    perfect = np.eye(2)[labels]  # the float model is right on every image
    half = Half(np.zeros((100, 1, 1, 3), np.uint8), labels, tuple(map(str, range(100))), perfect)
    images = SearchImages(half, half, ("a", "b"), "validation split", 0, "rule")
    record = images.selection_record(max_loss=1.0)
    # At the limit the top-1 is 99%: sqrt(0.99 * 0.01 / 100), not the float model's 0.
    assert record["binomial_se_points"] == pytest.approx(100 * np.sqrt(0.99 * 0.01 / 100), 1e-3)
    assert record["points_per_image"] == 1.0
    winner = labels.copy()
    winner[:3] = 1  # three images of class "a" now wrong
    reporting = images.reporting_record("w", {"w": winner})
    assert reporting["flips"]["lost"] == 3 and reporting["loss"] == pytest.approx(3.0)
    assert reporting["worst_class"] == "a" and reporting["worst_class_loss"] == pytest.approx(6.0)
