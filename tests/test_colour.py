"""Colour preservation: histogram matching's statistics, luminance-only transfer's chroma."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from PIL import Image

from style_transfer import colour, images, score, transfer
from style_transfer.errors import InputError
from style_transfer.settings import Settings

# Largest change of I and Q when each of R, G, B moves by at most 0.5 (uint8 rounding):
# 0.5 * the sum of |coefficients| of the I and Q rows of the YIQ matrix.
ROUNDING_I = 0.5 * (0.5959 + 0.2746 + 0.3213)
ROUNDING_Q = 0.5 * (0.2115 + 0.5227 + 0.3112)


def stats(rgb):
    """Mean and (biased) covariance of the pixels, in 0..1 units, by numpy."""
    pixels = np.asarray(rgb, np.float64).reshape(-1, 3) / 255.0
    return pixels.mean(0), np.cov(pixels.T, bias=True)


@pytest.fixture(scope="module")
def pair(tubingen, starry_night):
    """A real content and style pair, small."""
    content = images.resize_long_side(images.load_image(tubingen), 64)
    style = images.resize_long_side(images.load_image(starry_night), 80)
    return content, style


@pytest.mark.parametrize("method", ["pca", "cholesky", "symmetric"])
def test_histogram_matching_gives_the_contents_mean_and_covariance(pair, method):
    content, style = pair
    mapped = colour.match_histogram(style, content, method, eps=0.0, clip=False)
    mean_m, cov_m = stats(mapped)
    mean_c, cov_c = stats(content)
    np.testing.assert_allclose(mean_m, mean_c, atol=1e-5)
    np.testing.assert_allclose(cov_m, cov_c, rtol=1e-4, atol=1e-7)
    # With the authors' eps = 1e-5 (0..1 units) added to both covariances,
    # A (C_s + eps I) A^T = C_c + eps I, so the mapped covariance is C_c + eps (I - A A^T).
    mapped = colour.match_histogram(style, content, method, clip=False)
    matrix, _, _ = colour.colour_transform(style, content, method)
    expected = cov_c + colour.EPS * (np.eye(3) - matrix @ matrix.T)
    np.testing.assert_allclose(stats(mapped)[1], expected, rtol=1e-4, atol=1e-7)


def test_histogram_methods_are_the_three_named_matrices(pair):
    content, style = pair
    _, cov_s = stats(style)
    _, cov_c = stats(content)
    pca, _, _ = colour.colour_transform(style, content, "pca", eps=0.0)
    chol, _, _ = colour.colour_transform(style, content, "cholesky", eps=0.0)
    sym, _, _ = colour.colour_transform(style, content, "symmetric", eps=0.0)
    root_c, root_s = scipy.linalg.sqrtm(cov_c).real, scipy.linalg.sqrtm(cov_s).real
    np.testing.assert_allclose(pca, root_c @ np.linalg.inv(root_s), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(chol, np.tril(chol), atol=1e-12)  # L_c L_s^-1 is lower triangular
    np.testing.assert_allclose(sym, sym.T, atol=1e-8)  # the symmetric solution...
    assert np.all(np.linalg.eigvalsh(sym) > 0)  # ...positive definite
    for matrix in (pca, chol, sym):
        np.testing.assert_allclose(matrix @ cov_s @ matrix.T, cov_c, rtol=1e-5, atol=1e-9)
    assert not np.allclose(pca, chol) and not np.allclose(pca, sym)


def test_clipping_keeps_pixels_in_range_and_the_mean_close(pair):
    content, style = pair
    clipped = colour.match_histogram(style, content, "pca")
    assert clipped.dtype == np.float32
    assert clipped.min() >= 0.0 and clipped.max() <= 255.0
    np.testing.assert_allclose(stats(clipped)[0], stats(content)[0], atol=0.02)


@pytest.mark.parametrize("method", ["pca", "cholesky", "symmetric"])
def test_flat_style_becomes_the_contents_mean_and_without_eps_an_input_error(method):
    flat = np.full((8, 8, 3), 128.0, np.float32)
    content = np.random.default_rng(0).uniform(0, 255, (8, 8, 3))
    mapped = colour.match_histogram(flat, content, method)
    np.testing.assert_allclose(
        mapped, np.broadcast_to(content.mean((0, 1)), mapped.shape), atol=0.01
    )
    with pytest.raises(InputError, match="degenerate"):
        colour.match_histogram(flat, content, method, eps=0.0)


def test_luminance_is_the_yiq_y():
    rgb = np.random.default_rng(1).uniform(0, 255, (5, 7, 3)).astype(np.float32)
    expected = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(colour.luminance(rgb), expected, rtol=1e-5, atol=1e-3)


def test_recombine_has_exactly_the_contents_chroma_and_the_results_luminance():
    rng = np.random.default_rng(2)
    content, result = (rng.uniform(0, 255, (6, 9, 3)).astype(np.float32) for _ in range(2))
    combined = colour.recombine(result, content)
    yiq, content_yiq = colour.to_yiq(combined), colour.to_yiq(content)
    np.testing.assert_allclose(yiq[..., 1:], content_yiq[..., 1:], atol=1e-3)
    np.testing.assert_allclose(yiq[..., 0], colour.luminance(result), atol=1e-3)
    # It is yiq_to_rgb(Y_result, I_content, Q_content), up to TF's rounded inverse kernel.
    swapped = np.concatenate([yiq[..., :1], content_yiq[..., 1:]], axis=2)
    np.testing.assert_allclose(combined, tf.image.yiq_to_rgb(swapped).numpy(), atol=0.05)


def test_luminance_inputs_are_grey_and_matched():
    rng = np.random.default_rng(3)
    content = rng.uniform(50, 200, (8, 8, 3)).astype(np.float32)
    style = rng.uniform(0, 100, (10, 6, 3)).astype(np.float32)
    grey_content, (grey_style,) = colour.luminance_inputs(content, [style], match=True)
    for grey in (grey_content, grey_style):
        np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
        np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    content_y = colour.luminance(content)
    assert grey_style[..., 0].mean() == pytest.approx(content_y.mean(), rel=1e-4)
    assert grey_style[..., 0].std() == pytest.approx(content_y.std(), rel=1e-4)
    _, (unmatched,) = colour.luminance_inputs(content, [style], match=False)
    np.testing.assert_allclose(unmatched[..., 0], colour.luminance(style), atol=1e-3)


def test_colour_settings_are_checked():
    with pytest.raises(InputError, match="luminance or histogram"):
        Settings(preserve_colour="lab").resolve()
    with pytest.raises(InputError, match="histogram method"):
        Settings(histogram_method="svd").resolve()
    resolved = Settings(preserve_colour="histogram").resolve()
    assert resolved.histogram_method == "pca" and resolved.as_dict()["preserve_colour"]


def test_luminance_transfer_output_keeps_the_contents_chroma(tubingen, starry_night, tmp_path):
    output_path = tmp_path / "out.png"
    result = transfer(
        tubingen,
        starry_night,
        output=output_path,
        size=64,
        iterations=8,
        preserve_colour="luminance",
        save_every=4,
        progress=False,
    )
    content = images.resize_long_side(images.load_image(tubingen), 64)
    # the --save-every snapshots are recoloured like the final image, not left grey
    snapshot = np.asarray(Image.open(tmp_path / "out.iter00004.png"))
    for image in (result.image, snapshot):
        difference = np.abs(colour.to_yiq(image.astype(np.float32)) - colour.to_yiq(content))
        # Pixels with a channel at 0 or 255 may have been clipped out of gamut; all others
        # differ from the content's chroma by no more than 8-bit rounding allows.
        unclipped = ((image > 0) & (image < 255)).all(axis=2)
        assert unclipped.mean() > 0.8
        assert difference[..., 1][unclipped].max() <= ROUNDING_I + 1e-3
        assert difference[..., 2][unclipped].max() <= ROUNDING_Q + 1e-3
        # ...while its luminance is the optimised one, not the content's.
        assert difference[..., 0].mean() > 5
    assert result.manifest["settings"]["preserve_colour"] == "luminance"
    assert result.manifest["settings"]["match_luminance"] is True
    assert result.history["total"][-1] < result.history["total"][0]


def test_score_matches_the_style_colours_as_a_histogram_transfer_does(
    tubingen, starry_night, tmp_path
):
    output = tmp_path / "kept.png"
    kwargs = {"size": 32, "iterations": 5, "progress": False}
    result = transfer(tubingen, starry_night, preserve_colour="histogram", output=output, **kwargs)
    final = result.manifest["final_loss"]["total"]
    kept = score(output, tubingen, starry_night, preserve_colour="histogram")
    assert kept["total_loss"] == pytest.approx(final, rel=0.02)
    assert score(output, tubingen, starry_night)["total_loss"] > 1.2 * final
    # The same as scoring against the style matched by hand at the image's size.
    content = images.resize_to(images.load_image(tubingen), 24, 32)
    style = images.resize_to(images.load_image(starry_night), 24, 32)
    by_hand = score(output, content, colour.match_histogram(style, content))
    assert by_hand["total_loss"] == pytest.approx(kept["total_loss"], rel=1e-6)
