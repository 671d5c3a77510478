"""``alexedge embed`` from a Keras run: which layer, which images, what the file holds.

The vectors are checked against the run's model evaluated by hand (the layer's output,
pooled), so a wrong layer, a missing ReLU, an un-pooled map or a different
preprocessing fails here, not in a downstream probe that might still score well.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alexedge.cli import app
from alexedge.errors import ConfigError, DataError, ModelError
from alexedge.preprocess import eval_transform
from alexedge.run import BEST_MODEL, reload_dataset
from alexedge.transfer import EmbedConfig, Features, embed, read_features, write_features

sys.path.insert(0, str(Path(__file__).parent))
from compress_helpers import make_trained_run
from image_files import write_image


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_run(tmp_path_factory.mktemp("embed"), classes=3, per_class=12)


@pytest.fixture(scope="module")
def model(run: Path):
    from alexedge.train.loop import load_model

    return load_model(run / BEST_MODEL)


def _by_hand(model, layer: str, files: list[str]) -> np.ndarray:
    """``layer``'s output for the files through eval_transform, averaged over space."""
    import tf_keras as keras

    size = model.input_shape[1]
    pixels = np.stack([eval_transform(f, size) for f in files]).astype(np.float32)
    cut = keras.Model(model.input, model.get_layer(layer).output)
    out = np.asarray(cut(pixels, training=False))
    return out.mean(axis=(1, 2)) if out.ndim == 4 else out


def test_default_is_the_input_of_the_head_after_relu(run: Path, model) -> None:
    features = embed(run, [])
    val = reload_dataset(run).val
    assert features.layer == "fc7"
    assert features.files == tuple(s.path for s in val)
    assert features.labels.tolist() == [s.label for s in val]
    assert features.class_names == reload_dataset(run).class_names
    assert features.source == str(run / BEST_MODEL)
    expected = _by_hand(model, "fc7_relu", list(features.files))
    np.testing.assert_allclose(features.features, expected, rtol=1e-5, atol=1e-5)
    assert (features.features >= 0).all() and features.features.dtype == np.float32


def test_conv_layer_is_global_average_pooled(run: Path, model) -> None:
    features = embed(run, [], EmbedConfig(layer="conv5", split="train"))
    train = reload_dataset(run).train
    assert features.files == tuple(s.path for s in train)
    channels = model.get_layer("conv5").output.shape[-1]
    assert features.features.shape == (len(train), channels)
    expected = _by_hand(model, "conv5_relu", list(features.files))
    np.testing.assert_allclose(features.features, expected, rtol=1e-5, atol=1e-5)


def test_unknown_layer_is_one_error_listing_the_names(run: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        embed(run, [], EmbedConfig(layer="fc9"))
    message = str(raised.value)
    assert "'fc9'" in message
    assert all(name in message for name in ("conv1", "conv5", "pool5", "fc6", "fc7", "fc8"))
    assert "fc7_relu" not in message and "conv5_bn" not in message


def test_a_dataset_folder_gives_labels_image_files_do_not(run: Path, tmp_path: Path) -> None:
    data = Path(reload_dataset(run).root)
    labelled = embed(run / BEST_MODEL, [data], EmbedConfig(split="all"))
    assert len(labelled.files) == 3 * (12 + 20) and labelled.labelled.all()
    files = [write_image(tmp_path / f"{i}.jpg", size=50, seed=i) for i in range(3)]
    plain = embed(run, files)
    assert plain.labels.tolist() == [-1, -1, -1] and plain.class_names == ()
    assert plain.files == tuple(str(f) for f in files)
    with pytest.raises(DataError, match="one dataset folder"):
        embed(run, [data, files[0]])
    with pytest.raises(ModelError, match="run folder"):
        embed(tmp_path / "0.jpg", files)


def test_features_file_round_trip_and_damage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    features = Features(
        rng.normal(size=(4, 3)), [0, 1, -1, 1], ("a", "b", "c", "d"), ("x", "y"), "fc7", "m"
    )
    path = write_features(tmp_path / "f.bin", features)  # the name is kept as given
    assert path == tmp_path / "f.bin" and list(tmp_path.iterdir()) == [path]
    back = read_features(path)
    np.testing.assert_array_equal(back.features, features.features)
    assert back.labels.tolist() == [0, 1, -1, 1]
    assert (back.files, back.class_names, back.layer, back.source) == (
        features.files,
        ("x", "y"),
        "fc7",
        "m",
    )
    np.savez(tmp_path / "other.npz", features=np.zeros((2, 2)))
    with pytest.raises(DataError, match="not an alexedge features file"):
        read_features(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk\.npz"):
        read_features(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="labels"):
        Features(np.zeros((1, 2)), [2], ("a",), ("x", "y"), "fc7", "m")


def test_cli_writes_the_file_and_refuses_in_one_line(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.npz"
    result = CliRunner().invoke(app, ["embed", str(run), "--split", "train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "72 images (72 labelled) at layer fc7" not in result.output  # 3 x 12, not 72
    assert "36 images (36 labelled) at layer fc7: 16 values each" in result.output
    assert read_features(out).features.shape == (36, 16)
    bad = CliRunner().invoke(app, ["embed", str(run), "--layer", "fc9", "--out", str(out)])
    assert bad.exit_code == 2
    assert bad.output.strip().startswith("error: --layer 'fc9'")
    assert len(bad.output.strip().splitlines()) == 1


def test_every_family_cuts_at_the_input_of_its_head() -> None:
    """Over the registry, as timm's tests do: the default layer's vector is what fc8 reads."""
    import tf_keras as keras

    from alexedge.train.models import build_model, list_models
    from alexedge.transfer import feature_model, layer_choices

    for spec in list_models():
        model = build_model(
            spec.name, num_classes=3, input_size=spec.tiny_input_size, **spec.tiny_options
        )
        extractor, layer = feature_model(model)
        head_input = keras.Model(model.input, model.get_layer("fc8").input)
        pixels = np.random.default_rng(0).uniform(0, 255, (2, *model.input_shape[1:]))
        np.testing.assert_allclose(
            extractor(pixels, training=False), head_input(pixels, training=False), atol=1e-5
        )
        choices = layer_choices(model)
        assert layer in choices and choices[-1] == "fc8", spec.name
        assert not any(c.endswith(("_relu", "_bn", "_dropout", "_a", "_b", "_in")) for c in choices)
