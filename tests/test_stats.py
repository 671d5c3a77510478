"""Streaming channel statistics equal numpy's on the same pixels held all at once."""

from __future__ import annotations

import numpy as np
import pytest

from alexedge.data.stats import ChannelStats, channel_stats


def _images() -> list[np.ndarray]:
    # Different shapes and a colour cast per channel, so a mix-up of axes shows.
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (16, 16), (3, 30), (9, 4)]
    return [
        np.clip(rng.normal([120, 80, 200], [40, 20, 30], (*s, 3)), 0, 255).astype(np.uint8)
        for s in shapes
    ]


def test_channel_stats_match_numpy() -> None:
    images = _images()
    pixels = np.concatenate([img.reshape(-1, 3) for img in images]).astype(np.float64)
    stats = channel_stats(iter(images))  # a one-pass iterator is enough
    assert stats.pixels == pixels.shape[0]
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(stats.std, pixels.std(axis=0), rtol=1e-8)
    cov = np.cov(pixels / 255.0, rowvar=False, bias=True)
    eigval = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(stats.pca_eigval, eigval, rtol=1e-6)
    vecs = np.asarray(stats.pca_eigvec)  # columns are eigenvectors, largest first
    np.testing.assert_allclose(cov @ vecs, vecs * np.asarray(stats.pca_eigval), atol=1e-10)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(3), atol=1e-10)


def test_stats_round_trip_and_empty_input() -> None:
    stats = channel_stats(_images())
    assert ChannelStats.from_dict(stats.to_dict()) == stats
    with pytest.raises(ValueError, match="no pixels"):
        channel_stats([])
