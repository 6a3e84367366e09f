"""The U-Net of Ronneberger et al. (2015) and the tile-size arithmetic it implies.

Valid (unpadded) 3x3 convolutions, 2x2 max-pooling, 2x2 up-convolutions, centre crop
and concatenate, a final 1x1 convolution, dropout at the end of the contracting path and
He initialisation. The defaults are the paper's network (depth 4, 64 base channels,
2 classes: 572 x 572 in, 388 x 388 out); narrower networks (16 or 32 base channels)
make the same method usable on a laptop CPU.

Because every convolution is valid, the output is the input minus a fixed margin on each
side, and an input size is usable only when every max-pool sees an even size. The
functions below walk the sizes down and up the U instead of hard-coding any of them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from unetgui.core.configs import MAX_CHANNELS, UNetConfig  # noqa: F401  (here since the start)
from unetgui.core.errors import InvalidInputError

# --------------------------------------------------------------------------- sizes


def _walk_sizes(depth: int, size: int) -> int | None:
    """Output size for one axis of ``size`` input pixels, or None if not valid."""
    for _ in range(depth):
        size -= 4  # two valid 3x3 convolutions
        if size < 2 or size % 2:
            return None
        size //= 2
    size -= 4  # bottom convolutions
    if size < 1:
        return None
    for _ in range(depth):
        size = size * 2 - 4
    return size if size >= 1 else None


def output_size(config: UNetConfig, input_size: int) -> int:
    """Output size along one axis for an input tile of ``input_size`` pixels.

    Raises InvalidInputError naming the nearest valid sizes when ``input_size`` is not
    one the network can take (572 -> 388 for the paper's network).

    Parameters
    ----------
    config : UNetConfig
        The network's shape (only its depth matters).
    input_size : int
        Input tile size in px along the axis.

    Returns
    -------
    int
        Output size in px.
    """
    out = _walk_sizes(config.depth, int(input_size))
    if out is None:
        near = nearest_valid_input_sizes(config, input_size)
        raise InvalidInputError(
            f"A tile of {input_size} pixels does not fit this network (depth {config.depth}): "
            f"every max-pool needs an even size. Nearest valid tile sizes: "
            f"{', '.join(str(s) for s in near)}."
        )
    return out


def margin(config: UNetConfig) -> int:
    """Pixels lost on each side between input and output; the same for every valid size.

    Parameters
    ----------
    config : UNetConfig
        The network's shape (only its depth matters).

    Returns
    -------
    int
        (input size - output size) / 2, in px (92 for depth 4).
    """
    size = min_input_size(config)
    return (size - _walk_sizes(config.depth, size)) // 2


def min_input_size(config: UNetConfig) -> int:
    """The smallest valid input tile size (one output pixel or a few).

    Parameters
    ----------
    config : UNetConfig
        The network's shape (only its depth matters).

    Returns
    -------
    int
        Input tile size in px.
    """
    step = 2**config.depth
    size = step
    while _walk_sizes(config.depth, size) is None:
        size += 2
        if size > 64 * step:  # cannot happen for depth <= 6; guards a bad edit
            raise AssertionError("no valid input size found")
    return size


def input_step(config: UNetConfig) -> int:
    """Valid input sizes are ``min_input_size + k * input_step`` for k = 0, 1, ...

    Parameters
    ----------
    config : UNetConfig
        The network's shape (only its depth matters).

    Returns
    -------
    int
        ``2**depth`` px.
    """
    return 2**config.depth


def valid_input_sizes(config: UNetConfig, low: int = 1, high: int = 1024) -> list[int]:
    """All valid input tile sizes in ``[low, high]``, ascending.

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    low : int
        Smallest size wanted, px.
    high : int
        Largest size wanted, px.

    Returns
    -------
    list of int
        The sizes (empty when none lies in the range).
    """
    first, step = min_input_size(config), input_step(config)
    start = first if low <= first else first + math.ceil((low - first) / step) * step
    return list(range(start, int(high) + 1, step))


def nearest_valid_input_sizes(config: UNetConfig, size: int) -> list[int]:
    """The valid input sizes just below and just above ``size`` (one if below the minimum).

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    size : int
        A tile size in px, valid or not.

    Returns
    -------
    list of int
        ``[size]`` when it is valid, ``[below, above]`` otherwise, or the minimum size alone.
    """
    first, step = min_input_size(config), input_step(config)
    if size <= first:
        return [first]
    below = first + (size - first) // step * step
    return [below] if below == size else [below, below + step]


def input_size_for_output(config: UNetConfig, wanted_output: int) -> int:
    """Smallest valid input tile whose output covers ``wanted_output`` pixels.

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    wanted_output : int
        Output tile size wanted, px.

    Returns
    -------
    int
        Input tile size in px; its output is at least ``wanted_output``.
    """
    size = min_input_size(config)
    step = input_step(config)
    while _walk_sizes(config.depth, size) < wanted_output:
        size += step
    return size


def activation_elements(config: UNetConfig, input_size: int) -> int:
    """Elements of every feature map one tile of ``input_size`` makes (per tile, all
    layers): what training keeps for the backward pass, and the scale for memory checks.

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    input_size : int
        Input tile side in px (a valid size).

    Returns
    -------
    int
        Number of activation values (convolutions, pools, up-convolutions, concatenations
        and the output logits) for one square tile.
    """
    total, size = 0, input_size
    for level in range(config.depth):
        width = config.base_channels * 2**level
        total += width * ((size - 2) ** 2 + (size - 4) ** 2)  # two convolutions
        size = (size - 4) // 2
        total += width * size**2  # max-pool
    width = config.base_channels * 2**config.depth
    total += width * ((size - 2) ** 2 + (size - 4) ** 2)
    size -= 4
    for level in reversed(range(config.depth)):
        width = config.base_channels * 2**level
        size *= 2
        total += width * size**2 * 3  # up-convolution, and the concatenation (twice as wide)
        total += width * ((size - 2) ** 2 + (size - 4) ** 2)
        size -= 4
    return total + config.n_classes * size**2


def tile_memory_bytes(config: UNetConfig, input_size: int, *, batch_size: int = 1,
                      training: bool = False) -> int:
    """About how many bytes one forward pass (and backward, when ``training``) of
    ``batch_size`` tiles needs, in float32; used to refuse tiles that cannot fit.

    Inference holds the skip connections and a few maps at a time, training every map and
    its gradient: :data:`INFERENCE_MEMORY_FACTOR` and :data:`TRAINING_MEMORY_FACTOR` scale
    :func:`activation_elements` accordingly (``benchmarks/bench_memory.py`` compares the
    estimate with the measured peak).

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    input_size : int
        Input tile side in px.
    batch_size : int
        Tiles per pass.
    training : bool
        Whether the pass is a training step (forward and backward).

    Returns
    -------
    int
        Estimated peak bytes.
    """
    elements = activation_elements(config, input_size)
    factor = TRAINING_MEMORY_FACTOR if training else INFERENCE_MEMORY_FACTOR
    return int(elements * 4 * batch_size * factor)


INFERENCE_MEMORY_FACTOR = 0.7
TRAINING_MEMORY_FACTOR = 1.6


# --------------------------------------------------------------------------- network


class _DoubleConv(nn.Sequential):
    """Two valid 3x3 convolutions, each followed by (batch norm and) ReLU."""

    def __init__(self, in_ch: int, out_ch: int, batch_norm: bool) -> None:
        layers: list[nn.Module] = []
        for ch in (in_ch, out_ch):
            layers.append(nn.Conv2d(ch, out_ch, kernel_size=3, padding=0, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def _center_crop(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    dy = (features.shape[-2] - height) // 2
    dx = (features.shape[-1] - width) // 2
    return features[..., dy : dy + height, dx : dx + width]


class UNet(nn.Module):
    """The U-Net. Input (N, in_channels, H, W) -> logits (N, n_classes, H - 2m, W - 2m)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.base_channels * 2**level for level in range(config.depth + 1)]
        self.down = nn.ModuleList()
        in_ch = config.in_channels
        for width in widths[:-1]:
            self.down.append(_DoubleConv(in_ch, width, config.batch_norm))
            in_ch = width
        self.bottom = _DoubleConv(widths[-2], widths[-1], config.batch_norm)
        self.dropout = nn.Dropout(config.dropout)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(width * 2, width, kernel_size=2, stride=2))
            self.up_conv.append(_DoubleConv(width * 2, width, config.batch_norm))
        self.head = nn.Conv2d(widths[0], config.n_classes, kernel_size=1)
        if not self.head.weight.is_meta:  # on the meta device weights are only placeholders
            # (model.py loads into them); normal_ there would also import torch._dynamo
            self._init_weights()

    def _init_weights(self) -> None:
        """He initialisation: Gaussian with std sqrt(2 / N), N = inputs of one neuron."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            elif isinstance(module, nn.ConvTranspose2d):
                # stride == kernel: each output pixel sees one kernel tap per input channel
                fan_in = module.in_channels
            else:
                continue
            nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_in))
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of input tiles.

        Parameters
        ----------
        x : torch.Tensor
            (N, in_channels, H, W) float, H and W valid input sizes (see :func:`output_size`).

        Returns
        -------
        torch.Tensor
            (N, n_classes, H - 2m, W - 2m) logits, m = :func:`margin`.
        """
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.dropout(self.bottom(x))
        for up, conv, skip in zip(self.up, self.up_conv, reversed(skips)):
            x = up(x)
            x = torch.cat([_center_crop(skip, x.shape[-2], x.shape[-1]), x], dim=1)
            x = conv(x)
        return self.head(x)


def parameter_count(net: nn.Module) -> int:
    """Number of trainable and frozen weights of ``net``.

    Parameters
    ----------
    net : torch.nn.Module
        Any network, e.g. a :class:`UNet`.

    Returns
    -------
    int
        Total elements of its parameters.
    """
    return sum(p.numel() for p in net.parameters())
