"""Cheap batch augmentation for the training loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgeopt.errors import EdgeoptError


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Translate each image in a batch by a random offset of up to ``max_shift`` pixels.

    Each sample gets its own vertical and horizontal shift in ``[-max_shift, max_shift]``;
    pixels shifted in from outside are zero (which, on normalised data, is the mean).
    Implemented as zero padding plus one gathered crop per sample, with no Python loop.

    Args:
        x: Images, N x C x H x W.
        max_shift: Largest shift in pixels (>= 0). ``0`` returns ``x`` itself.
        generator: Optional CPU ``torch.Generator`` for reproducible shifts.

    Returns:
        A tensor shaped like ``x``.

    Raises:
        EdgeoptError: If ``x`` is not 4-D or ``max_shift`` is negative.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_shift(torch.rand(8, 1, 28, 28), 2, generator=g).shape
        torch.Size([8, 1, 28, 28])
    """
    if x.ndim != 4:
        raise EdgeoptError(f"random_shift expects N x C x H x W images, got shape {tuple(x.shape)}")
    if max_shift < 0:
        raise EdgeoptError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0 or x.shape[0] == 0:
        return x
    n, _, h, w = x.shape
    s = int(max_shift)
    padded = F.pad(x, (s, s, s, s))
    # Crop origin in the padded image: s means no shift; 0 .. 2s covers -s .. +s.
    dy = torch.randint(0, 2 * s + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, :, None]  # N x H x 1
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, :]  # N x 1 x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indexing on (N, H, W) with channels moved last gathers N x H x W x C.
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols]
    return out.permute(0, 3, 1, 2).contiguous()
