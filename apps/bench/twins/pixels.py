# gm's pixel pre-processing for flows on 8-bit images (packages/models/src/realnvp/pixel-space.ts, @gm/layers
# dequantize.ts and logit.ts), shared by the bench's flow twins: x (0..255) + U[0,1) noise -> y = logit(p),
# p = alpha + (1 - 2 alpha) u / 256, with its log-det per example.
import math
import torch

HALF_LOG_2PI = 0.9189385332046727
LEVELS, ALPHA = 256, 0.05


def pixels_to_logits(x):
    """(y, log-det [B]) of 8-bit pixels x of any shape [B, ...]."""
    u = x + torch.rand_like(x)
    p = ALPHA + (1 - 2 * ALPHA) / LEVELS * u
    log_p, log_1mp = torch.log(p), torch.log1p(-p)
    return log_p - log_1mp, (math.log((1 - 2 * ALPHA) / LEVELS) - (log_p + log_1mp)).flatten(1).sum(1)
