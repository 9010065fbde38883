"""benchmarks/content_channels.py: its split by filter adds up to the scored content loss."""

import importlib.util
from pathlib import Path

import numpy as np

from style_transfer import api, images, network
from style_transfer.settings import Settings

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "content_channels.py"


def _script():
    spec = importlib.util.spec_from_file_location("content_channels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_filters_add_up_to_the_scored_content_loss(
    tmp_path, weights_file, tubingen, starry_night
):
    image = images.save_image(
        images.resize_long_side(images.load_image(starry_night), 64), tmp_path / "image.png"
    )
    losses, photo_means = _script().channel_losses(str(image), str(tubingen), Settings())
    scored = api.score(image, tubingen, starry_night)  # the objective's own content term
    filters = network.FILTERS["block4_conv2"]
    assert losses.shape == photo_means.shape == (filters,)
    assert np.all(losses >= 0) and np.all(photo_means >= 0)  # squares; rectified features
    np.testing.assert_allclose(losses.sum(), scored["content_loss"], rtol=1e-4)
