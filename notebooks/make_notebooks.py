"""Writes notebooks 01-04 from the cell sources below (without outputs).

Edit the cells here, then run ``python notebooks/make_notebooks.py``: the .ipynb files
stay reviewable in diffs and are always committed clean. Every notebook starts with
the same settings cell, whose values the test suite overrides through environment
variables (see notebooks/README.md).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def settings_cell(size: int, iterations: int) -> str:
    return f"""# Settings: change them here (the test suite overrides them through the environment).
import os
from pathlib import Path

SIZE = int(os.environ.get("STYLE_TRANSFER_NOTEBOOK_SIZE", {size}))  # longer side, px
ITERATIONS = int(os.environ.get("STYLE_TRANSFER_NOTEBOOK_ITERATIONS", {iterations}))  # L-BFGS
OUTPUT = Path(os.environ.get("STYLE_TRANSFER_NOTEBOOK_OUTPUT", "outputs"))  # where files go
OUTPUT.mkdir(parents=True, exist_ok=True)"""


FILES_CELL = '''# Local files when there are any, downloads otherwise.
# Images: $STYLE_TRANSFER_IMAGES, else ../shared/images beside the repository, else each
# image is downloaded once from its public URL into the Keras cache (hash-checked).
# Weights: $STYLE_TRANSFER_WEIGHTS, else ../shared/weights, else the Keras cache / download.
%matplotlib inline
# Figures as 72-dpi JPEGs: they are mostly photos, and the saved notebook stays small.
%config InlineBackend.figure_formats = ["jpeg"]
%config InlineBackend.print_figure_kwargs = {"dpi": 72, "pil_kwargs": {"quality": 50}}
import style_transfer as st
from style_transfer.data import image_path
from style_transfer.plots import plot_losses, side_by_side

REPO = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
if "STYLE_TRANSFER_WEIGHTS" not in os.environ and WEIGHTS.is_file():
    os.environ["STYLE_TRANSFER_WEIGHTS"] = str(WEIGHTS)
IMAGES = os.environ.get("STYLE_TRANSFER_IMAGES") or (
    SHARED / "images" if (SHARED / "images").is_dir() else None
)


def paper_image(name):
    """Path of one of the paper's images (tubingen, starry_night, composition_vii, ...)."""
    return image_path(name, IMAGES)'''


def quickstart() -> list:
    return [
        new_markdown_cell(
            "# Quickstart: Tübingen in the style of *The Starry Night*\n\n"
            "Gatys, Ecker & Bethge (2015) repaint a photo by optimising the image itself: its "
            "VGG19 features should match the photo's (content) and their Gram matrices the "
            "painting's (style). This notebook runs the paper's preset once, shows the result "
            "beside its inputs, and plots how the loss fell.\n\n"
            "Runs in a few minutes on a laptop CPU at the default `SIZE` and `ITERATIONS`; "
            "raise them for a better image (the paper used 512 px and hundreds of "
            "iterations).\n\n"
            "*Photo: Andreas Praefcke, CC BY 3.0 (Wikimedia Commons). The Starry Night: "
            "public domain.*"
        ),
        new_code_cell(settings_cell(256, 150)),
        new_code_cell(FILES_CELL),
        new_markdown_cell("## The inputs"),
        new_code_cell(
            'content = paper_image("tubingen")\n'
            'style = paper_image("starry_night")\n'
            'side_by_side([content, style], ["content: Tübingen", "style: The Starry Night"])'
        ),
        new_markdown_cell(
            "## Stylise\n\n"
            "`st.transfer` takes paths, PIL images or numpy arrays and any field of "
            "`st.Settings` as a keyword. The progress bar shows the weighted terms that add "
            "up to the loss (α·content + β·style) and an ETA, and the image is previewed "
            "every tenth of the run. The paper preset starts from white noise and "
            "uses α/β = 1e-3."
        ),
        new_code_cell(
            "result = st.transfer(content, style, size=SIZE, iterations=ITERATIONS)\n"
            'print(result.status, "-", result.stop_reason)'
        ),
        new_code_cell(
            "side_by_side(\n"
            "    [content, style, result.image],\n"
            '    ["content", "style", f"result: {ITERATIONS} iterations at {SIZE} px"],\n'
            ")"
        ),
        new_markdown_cell(
            "## How the loss fell\n\n"
            "The plot shows the *weighted* terms α·content and β·style, whose sum is the "
            "total the optimiser minimises, on a log scale. Starting from noise the style "
            "term dominates; the content term usually rises for a while as structure "
            "appears, then both fall."
        ),
        new_code_cell("plot_losses(result)"),
        new_markdown_cell(
            "## Save it, with its manifest\n\n"
            "`result.save` writes the image, its loss plot (`….loss.png`) and a manifest "
            "(`….png.json`: every setting, the weights' md5, sizes, seed, versions and the "
            "loss history), each atomically."
        ),
        new_code_cell(
            'saved = result.save(OUTPUT / "quickstart_tubingen_starry_night.png")\n'
            "print(saved)\n"
            'print(sorted(p.name for p in OUTPUT.glob("quickstart_*")))\n'
            "manifest = result.manifest\n"
            'print("preset:", manifest["preset"], "| alpha/beta:", manifest["settings"]["ratio"])\n'
            'run = manifest["optimizer"]\n'
            'print(run["iterations"], "iterations,", run["function_evaluations"], "evaluations")\n'
            'print("wall time:", manifest["wall_time_s"], "s")'
        ),
        new_markdown_cell(
            "## Score any image\n\n"
            "`st.score` evaluates the same objective for any image, e.g. to compare ours "
            "with another implementation's output at the same size."
        ),
        new_code_cell(
            "report = st.score(saved, content, style)\n"
            '{key: report[key] for key in ("content_loss", "style_loss", "total_loss")}'
        ),
    ]


def figure3() -> list:
    return [
        new_markdown_cell(
            "# The paper's Figure 3: content against style, and which layers carry style\n\n"
            "Figure 3 of Gatys et al. (2015) stylises Tübingen with Kandinsky's *Composition "
            "VII* on a grid: each **row** matches style on more layers (conv1_1; conv1_1 "
            "and conv2_1; … up to conv1_1 … conv5_1, each layer weighted 1/number of "
            "layers), each **column** uses a larger α/β (more content, less style).\n\n"
            "Reading the grid: with style on the first layers only, the painting's local "
            "colours and small strokes come through; deeper layers add larger, more "
            "coherent structures. Small α/β gives a texture of the painting with little of "
            "the photo; large α/β gives the photo with little of the painting.\n\n"
            "Change `RATIOS` and `LAYER_ROWS` below to explore; each image is one run. At "
            "the default size the 20 runs take several minutes on a CPU.\n\n"
            "The paper used a *normalised* VGG19 (every filter's mean activation 1); these runs "
            "use the released weights, on which the printed α/β weigh content differently. "
            "So, as `reproduce fig3` does, every column's α/β is the paper's times `K`, the "
            "factor measured for this network against the authors' own implementation "
            '(`CALIBRATION`, results/README.md "Calibration"), and every run starts where '
            "`K` was measured (`START`: the photo, as the authors' code starts); set `K = 1` "
            'and `START = "noise"` for the printed values as the paper ran them.\n\n'
            "*Photo: Andreas Praefcke, CC BY 3.0. Composition VII: public domain.*"
        ),
        new_code_cell(settings_cell(128, 100)),
        new_code_cell(FILES_CELL),
        new_code_cell(
            "# The grid: columns are alpha/beta, rows are the style layers used.\n"
            "from style_transfer.tools.figures import CALIBRATION, FIG3_RATIOS\n\n"
            'K = CALIBRATION["original"].k  # the calibrated factor; 1 = the printed alpha/beta\n'
            'START = CALIBRATION["original"].start  # where K holds; "noise" is the paper\'s\n'
            "RATIOS = list(FIG3_RATIOS)  # the paper's columns: 1e-5, 1e-4, 1e-3, 1e-2\n"
            'DEPTHS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]\n'
            "LAYER_ROWS = [DEPTHS[: k + 1] for k in range(len(DEPTHS))]\n\n"
            'content = paper_image("tubingen")\n'
            'style = paper_image("composition_vii")\n'
            'side_by_side([content, style], ["content", "style: Composition VII"])'
        ),
        new_code_cell(
            "import time\n\n"
            "grid, titles = [], []\n"
            "started = time.perf_counter()\n"
            "for layers in LAYER_ROWS:\n"
            "    for ratio in RATIOS:\n"
            "        result = st.transfer(\n"
            "            content,\n"
            "            style,\n"
            "            size=SIZE,\n"
            "            iterations=ITERATIONS,\n"
            "            ratio=K * ratio,\n"
            "            init=START,\n"
            "            style_layers=layers,\n"
            "            progress=False,\n"
            "        )\n"
            "        grid.append(result.image)\n"
            '        name = layers[0] if len(layers) == 1 else f"{layers[0]} … {layers[-1]}"\n'
            '        titles.append(f"{name}, α/β={ratio:g}×{K:g}")\n'
            '    print(f"row up to {layers[-1]} done, {time.perf_counter() - started:.0f} s")'
        ),
        new_code_cell(
            "figure = side_by_side(grid, titles, columns=len(RATIOS), image_height=1.5)\n"
            'figure.suptitle(f"rows: style layers conv1_1 … convN_1; columns: α/β × {K:g}")\n'
            'figure.savefig(OUTPUT / "figure3_grid.png")\n'
            "figure"
        ),
        new_markdown_cell(
            "## One run's losses\n\n"
            "The last run of the grid (all five layers, the largest α/β): the weighted "
            "terms show the balance α/β sets."
        ),
        new_code_cell("plot_losses(result)"),
    ]


def inside() -> list:
    return [
        new_markdown_cell(
            "# Inside the network: feature maps, Gram matrices, and texture from style alone\n"
            "\n"
            "The style representation of Gatys et al. is the set of Gram matrices "
            "G = Fᵀ F of VGG19's rectified feature maps F (positions × filters) on "
            "conv1_1 … conv5_1: which filters fire *together*, with all spatial "
            "arrangement summed away. This notebook looks at those maps and matrices for "
            "*The Starry Night*, then synthesises a texture from the style alone "
            "(content weight 0, as the paper's Figure 1 does) matching more and more "
            "layers: deeper layers reproduce larger structures of the painting.\n\n"
            "*The Starry Night: public domain.*"
        ),
        new_code_cell(settings_cell(192, 150)),
        new_code_cell(FILES_CELL),
        new_code_cell(
            "import numpy as np\n"
            "from matplotlib.figure import Figure\n\n"
            'style = paper_image("starry_night")\n'
            'DEPTHS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]\n'
            "maps = st.features(style, DEPTHS, size=SIZE)\n"
            "for layer, fmap in maps.items():\n"
            '    print(f"{layer}: {fmap.shape[0]}x{fmap.shape[1]} positions, {fmap.shape[2]} '
            'filters")'
        ),
        new_markdown_cell(
            "## Feature maps\n\n"
            "The six most active filters per layer (brighter = stronger response). Early "
            "layers respond to colours and edges at full resolution; each pooling halves "
            "the resolution, and deeper filters respond to larger patterns."
        ),
        new_code_cell(
            "SHOWN = 6\n"
            'figure = Figure(figsize=(SHOWN * 1.8, len(DEPTHS) * 1.6), layout="constrained")\n'
            "axes = figure.subplots(len(DEPTHS), SHOWN, squeeze=False)\n"
            "for row, (layer, fmap) in zip(axes, maps.items()):\n"
            "    strongest = np.argsort(fmap.mean(axis=(0, 1)))[::-1][:SHOWN]\n"
            "    for ax, channel in zip(row, strongest):\n"
            '        ax.imshow(fmap[:, :, channel], cmap="magma")\n'
            "        ax.set_xticks([]), ax.set_yticks([])\n"
            "    row[0].set_ylabel(layer)\n"
            "figure"
        ),
        new_markdown_cell(
            "## Gram matrices\n\n"
            "G_ij = Σ_k F_ik F_jk for the first 64 filters of each layer, divided by the "
            "number of positions M so the layers are comparable (the paper's loss divides "
            "by 4N²M² instead), on a log colour scale. Big diagonal entries are strongly "
            "active filters; off-diagonal entries are filters that fire together."
        ),
        new_code_cell(
            "from matplotlib.colors import LogNorm\n\n"
            "grams = {}\n"
            "for layer, fmap in maps.items():\n"
            "    flat = fmap.reshape(-1, fmap.shape[2]).astype(np.float64)  # M x N\n"
            "    grams[layer] = flat.T @ flat / max(len(flat), 1)  # N x N\n"
            'figure = Figure(figsize=(len(DEPTHS) * 2.6, 2.8), layout="constrained")\n'
            "for ax, (layer, gram) in zip(figure.subplots(1, len(DEPTHS)), grams.items()):\n"
            "    block = gram[:64, :64]\n"
            '    image = ax.imshow(block + 1e-6, cmap="viridis", norm=LogNorm())\n'
            '    ax.set_title(f"{layer}: {gram.shape[0]}x{gram.shape[1]}")\n'
            "    ax.set_xticks([]), ax.set_yticks([])\n"
            "figure.colorbar(image, ax=figure.axes, shrink=0.8)\n"
            "figure"
        ),
        new_markdown_cell(
            "## Texture synthesis from style alone\n\n"
            "Content weight 0: the image starts from white noise and only the Gram "
            "matrices on conv1_1, then conv1_1 + conv2_1, … are matched (w_l = 1/number of "
            "layers). The style image stands in as the 'content' only to give the output "
            "its shape; its content term has weight 0."
        ),
        new_code_cell(
            "textures, titles = [], []\n"
            "for k in range(1, len(DEPTHS) + 1):\n"
            "    result = st.transfer(\n"
            "        style,\n"
            "        style,\n"
            "        size=SIZE,\n"
            "        iterations=ITERATIONS,\n"
            "        content_weight=0.0,\n"
            "        style_layers=DEPTHS[:k],\n"
            "        progress=False,\n"
            "    )\n"
            "    textures.append(result.image)\n"
            '    titles.append("conv1_1" if k == 1 else f"conv1_1 … {DEPTHS[k - 1]}")\n'
            '    first, last = result.history["style"][0], result.history["style"][-1]\n'
            '    print(f"{titles[-1]}: style loss {first:.3g} -> {last:.3g}")\n'
            'figure = side_by_side([style, *textures], ["the painting", *titles], columns=3)\n'
            'figure.savefig(OUTPUT / "textures_by_depth.png")\n'
            "figure"
        ),
        new_markdown_cell(
            "With style on conv1_1 alone the texture has the painting's colours but "
            "little structure; adding deeper layers brings in the strokes and swirls at "
            "growing scales, while their arrangement across the canvas stays free, which "
            "is why a content term is needed to place them."
        ),
        new_code_cell("plot_losses(result)"),
    ]


def colour_and_control() -> list:
    return [
        new_markdown_cell(
            "# Beyond the paper: colour, several styles, style scale and regions\n"
            "\n"
            "The same authors' follow-ups, on the paper's objective (the `paper` preset):\n"
            "\n"
            "- **colour preservation** (Gatys, Bethge, Hertzmann & Shechtman 2016): "
            "transfer on luminance only, or recolour the style to the photo's colour "
            "statistics first;\n"
            "- **several styles** blended with weights;\n"
            "- **style scale**: the style image resized relative to the content before its "
            "Grams;\n"
            "- **spatial control** (Gatys et al., CVPR 2017): one mask per region, each "
            'with its own style (guided Gram matrices, the authors\' "simple" mode).\n'
            "\n"
            "At the default `SIZE` and `ITERATIONS` this takes several minutes on a laptop "
            "CPU.\n"
            "\n"
            "*Photo: Andreas Praefcke, CC BY 3.0 (Wikimedia Commons). The paintings: public"
            " domain.*"
        ),
        new_code_cell(settings_cell(192, 100)),
        new_code_cell(FILES_CELL),
        new_code_cell(
            r"""import numpy as np

from style_transfer import colour, images

content = paper_image("tubingen")
starry_night = paper_image("starry_night")
composition_vii = paper_image("composition_vii")
run = {"size": SIZE, "iterations": ITERATIONS, "progress": False}
side_by_side(
    [content, starry_night, composition_vii], ["content", "Starry Night", "Composition VII"]
)"""
        ),
        new_markdown_cell(
            "## Colour preservation\n"
            "\n"
            '`preserve_colour="luminance"` optimises grey images of the luminance Y (YIQ), '
            "the style's Y matched to the photo's mean and standard deviation "
            "(`match_luminance`), and puts the result's Y on the photo's I and Q. "
            '`preserve_colour="histogram"` maps the style\'s RGB affinely so that its mean '
            "and covariance are the photo's (`histogram_method`: `pca` — the authors' — "
            "`cholesky` or `symmetric`), then transfers as usual. Command line: "
            "`--preserve-colour luminance|histogram`."
        ),
        new_code_cell(
            r"""plain = st.transfer(content, starry_night, **run)
luminance = st.transfer(content, starry_night, preserve_colour="luminance", **run)
histogram = st.transfer(content, starry_night, preserve_colour="histogram", **run)
side_by_side(
    [plain.image, luminance.image, histogram.image],
    ["as in the paper", "luminance only", "histogram matched (pca)"],
)"""
        ),
        new_markdown_cell(
            "The histogram step on its own: the style image recoloured by the three maps. "
            "Before clipping to 0..255, its colour mean and covariance are the photo's "
            "(printed below; the tiny difference is the `eps` the authors add to both "
            "covariances)."
        ),
        new_code_cell(
            r"""photo = images.resize_long_side(images.load_image(content), SIZE)
painting = images.resize_long_side(images.load_image(starry_night), SIZE)
recoloured = {m: colour.match_histogram(painting, photo, m) for m in colour.HISTOGRAM_METHODS}
side_by_side([painting, *recoloured.values()], ["style", *recoloured])
unclipped = colour.match_histogram(painting, photo, "pca", clip=False).reshape(-1, 3)
print("photo covariance:\n", np.cov(photo.reshape(-1, 3).T, bias=True).round(1))
print("mapped style covariance:\n", np.cov(unclipped.T, bias=True).round(1))"""
        ),
        new_markdown_cell(
            "## Several styles\n"
            "\n"
            "Pass a list of styles and `style_blend_weights` (normalised to sum to 1; equal"
            " when not given). Each style layer's loss is the weighted sum of the losses "
            "against each style's Gram. Command line: `transfer C S1 S2 --style-weights 0.7"
            " 0.3`."
        ),
        new_code_cell(
            r"""blends = [(1.0, 0.0), (0.7, 0.3), (0.3, 0.7), (0.0, 1.0)]
mixed = [
    st.transfer(content, [starry_night, composition_vii], style_blend_weights=w, **run)
    for w in blends
]
titles = [f"Starry Night {a:.1f} / Composition VII {b:.1f}" for a, b in blends]
side_by_side([r.image for r in mixed], titles)"""
        ),
        new_markdown_cell(
            "## Style scale\n"
            "\n"
            "`style_scale` resizes the style image relative to the content before its Grams"
            " are taken: below 1 the painting's strokes become finer, above 1 coarser. "
            "Command line: `--style-scale 0.5`. (At the test suite's tiny size the small "
            "scale is raised so the style stays large enough for conv5_1.)"
        ),
        new_code_cell(
            r"""scales = (0.5, 1.0, 2.0) if SIZE >= 64 else (0.75, 1.0, 1.5)
scaled = [st.transfer(content, starry_night, style_scale=s, **run) for s in scales]
side_by_side([r.image for r in scaled], [f"style scale {s}" for s in scales])"""
        ),
        new_markdown_cell(
            "## Spatial control: a style per region\n"
            "\n"
            "One mask per style (white = the region): region *i* is painted in style *i*. "
            "At every style layer the mask is area-downsampled to the layer's size and the "
            "features are weighted by it before the Gram (normalised, as in the authors' "
            "code, so an all-white mask gives the ordinary Gram). `style_masks` would pick "
            "the part of each painting to copy; here the whole paintings are used. Command "
            "line: `transfer C S1 S2 --masks sky.png ground.png [--style-masks ...]`.\n"
            "\n"
            "The sky mask is made from the photo: strongly blue pixels connected to the top"
            " edge."
        ),
        new_code_cell(
            r"""from scipy import ndimage

red, blue = photo[..., 0], photo[..., 2]
labels, _ = ndimage.label((blue - red > 60) & (blue > 120))
sky = np.isin(labels, np.unique(labels[0][labels[0] > 0]))
sky = ndimage.binary_fill_holes(ndimage.binary_closing(sky, iterations=2))
sky_mask = sky.astype(np.uint8) * 255
regions = st.transfer(
    content, [starry_night, composition_vii], masks=[sky_mask, 255 - sky_mask], **run
)
saved = regions.save(OUTPUT / "regions_sky_starry_rest_kandinsky.png")
print(saved, regions.manifest["inputs"]["styles"][0]["blend_weight"])
titles = ["sky mask", "sky: Starry Night, rest: Composition VII"]
side_by_side([sky_mask, regions.image], titles)"""
        ),
        new_markdown_cell("The loss curves of the two-region run, per term and per layer:"),
        new_code_cell("plot_losses(regions)"),
    ]


NOTEBOOKS = {
    "01_quickstart.ipynb": quickstart,
    "02_figure3_tradeoff.ipynb": figure3,
    "03_inside_the_network.ipynb": inside,
    "04_colour_and_control.ipynb": colour_and_control,
}


def main() -> None:
    for name, make_cells in NOTEBOOKS.items():
        cells = make_cells()
        for index, cell in enumerate(cells):
            cell.id = f"cell-{index:02d}"  # stable ids: regenerating changes no line by chance
        notebook = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
        )
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
