# PyTorch twin of gm's Glow as `gm train glow` builds it on 28x28x1 8-bit digits: new Glow({ inputShape: [28, 28, 1],
# seed }) with its defaults (packages/models/src/glow/glow.ts; layers in packages/layers/src), trained as Glow.fit
# trains it: batch 64 (ImageFlow.fitDefaults), no gradient clipping (no default clipNorm), Adam lr 1e-3.
#   pixels x (0..255) + U[0,1) noise -> logit(0.05 + 0.9 x/256) with its log-det
#   scale 0: squeeze 28x28x1 -> 14x14x4; K=4 steps of [ActNorm -> invertible 1x1 conv (LU) -> affine coupling];
#            split prior: an affine coupling of the first 2 channels on the last 2 through ONE zero-init 3x3 conv;
#            the first 2 channels are factored out
#   scale 1: the other 2 channels, squeeze 14x14x2 -> 7x7x8; K=4 steps; learned top prior (per-channel shift and
#            log-scale, zero-init, as a bijector y = (x - mu) exp(-log sigma)); un-squeeze; concat; un-squeeze
#   loss: bits/dim = -mean(log N(z; 0, I) + log-det) / (784 ln 2)    (95,926 trainable parameters, as gm's)
# Layer details as gm's:
#   ActNorm: y = (x + b) exp(log s) per channel, log-det H*W*sum(log s); data-dependent init (b = -mean,
#     log s = -log(std + 1e-6)) on the first training batch - here in setup, before timing.
#   1x1 conv: W = P L (U + diag(sign exp(log s))), L and U full CxC trainable matrices masked to their strict
#     triangles (+ I for L) every step, P and sign fixed; starts as a random rotation; log-det H*W*sum(log s).
#   coupling ('channel' mask): the first C/2 channels condition; net conv3x3(C/2 -> 32) relu conv3x3(32 -> 32) relu
#     conv3x3(32 -> C) (zero-init, Glorot-uniform hidden kernels, zero biases); [s_raw, t] = chunks;
#     s = tanh(s_raw) * scale (learned per channel, init 1); y2 = x2 exp(s) + t; log-det sum(s).
# Differences from a textbook Glow (Kingma & Dhariwal): a Real NVP logit pre-processing; the coupling net is 32-wide
# 3x3 -> 3x3 -> zero 3x3 (paper: 3x3 -> 1x1, 512 wide -> zero 3x3) with log-scale tanh(s) * scale (paper:
# sigmoid(s + 2)); the split prior is a zero-init 3x3 conv on the kept half giving (mu, log sigma) of the factored half,
# bounded by the same tanh * scale; a learned (unconditional) top prior; 2 scales x 4 steps; a single squeeze per scale.
# Layout: NCHW (gm is NHWC); the squeeze orders channels as gm's does (block row, block column, channel).
import math
import torch, torch.nn as nn, torch.nn.functional as F
from pixels import HALF_LOG_2PI, pixels_to_logits


def squeeze(x):
    """gm's space-to-depth: [B, C, H, W] -> [B, 4C, H/2, W/2], channel (block row, block column, channel)."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(y):
    b, c4, h, w = y.shape
    c = c4 // 4
    return y.view(b, 2, 2, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(b, c, 2 * h, 2 * w)


class ActNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.initialized = False

    def forward(self, x):
        if not self.initialized:  # gm: the first training batch (here: setup's forward)
            with torch.no_grad():
                mean = x.mean((0, 2, 3), keepdim=True)
                std = x.var((0, 2, 3), unbiased=False, keepdim=True).sqrt()
                self.bias.copy_(-mean)
                self.log_scale.copy_(-torch.log(std + 1e-6))
            self.initialized = True
        y = (x + self.bias) * self.log_scale.exp()
        return y, self.log_scale.sum() * (x.shape[2] * x.shape[3])


class Invertible1x1(nn.Module):
    """W = P L (U + diag(sign exp(log s))) from full CxC 'lower'/'upper' variables masked each step (as gm's)."""

    def __init__(self, c):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(c, c, dtype=torch.float64))
        p, l, u = torch.linalg.lu(q)
        d = torch.diagonal(u)
        self.register_buffer('perm', p.float())
        self.register_buffer('sign', torch.sign(d).float())
        self.register_buffer('lmask', torch.tril(torch.ones(c, c), -1))
        self.register_buffer('umask', torch.triu(torch.ones(c, c), 1))
        self.register_buffer('eye', torch.eye(c))
        self.lower = nn.Parameter(torch.tril(l, -1).float())
        self.upper = nn.Parameter(torch.triu(u, 1).float())
        self.log_s = nn.Parameter(d.abs().log().float())

    def forward(self, x):
        l = self.lower * self.lmask + self.eye
        u = self.upper * self.umask + self.eye * (self.sign * self.log_s.exp())
        w = self.perm @ (l @ u)
        c = w.shape[0]
        return F.conv2d(x, w.view(c, c, 1, 1)), self.log_s.sum() * (x.shape[2] * x.shape[3])


class Coupling(nn.Module):
    """gm's AffineCoupling, mask 'channel' (split, not masked): invert=False conditions on the first half."""

    def __init__(self, c, hidden, invert=False):
        super().__init__()
        k = c // 2
        self.invert = invert
        self.cond = c - k if invert else k
        cin, cout = self.cond, c - self.cond
        convs, w = [], cin
        for h in hidden:
            conv = nn.Conv2d(w, h, 3, padding=1)
            nn.init.xavier_uniform_(conv.weight); nn.init.zeros_(conv.bias)
            convs.append(conv); w = h
        self.hidden = nn.ModuleList(convs)
        self.out = nn.Conv2d(w, 2 * cout, 3, padding=1)
        nn.init.zeros_(self.out.weight); nn.init.zeros_(self.out.bias)
        self.scale = nn.Parameter(torch.ones(1, cout, 1, 1))

    def forward(self, x):
        n = x.shape[1]
        k = n - self.cond if self.invert else self.cond
        a, b = x[:, :k], x[:, k:]
        cond, tr = (b, a) if self.invert else (a, b)
        h = cond
        for conv in self.hidden:
            h = F.relu(conv(h))
        s_raw, t = self.out(h).chunk(2, 1)
        s = torch.tanh(s_raw) * self.scale
        y = tr * s.exp() + t
        return torch.cat([y, cond] if self.invert else [cond, y], 1), s.flatten(1).sum(1)


class TopPrior(nn.Module):
    """gm's ContextAffine without a context: y = (x - mu) exp(-log sigma), log-det -sum over positions and channels."""

    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(2 * c))

    def forward(self, x):
        c = x.shape[1]
        shift, log_scale = self.bias.view(1, 2 * c, 1, 1).chunk(2, 1)
        return (x - shift) * torch.exp(-log_scale), -log_scale.expand_as(x).flatten(1).sum(1)


class Glow(nn.Module):
    def __init__(self, shape=(1, 28, 28), scales=2, steps=4, filters=32):
        super().__init__()
        self.scales = nn.ModuleList()
        c = shape[0]
        for i in range(scales):
            c4 = 4 * c
            mods = []
            for _ in range(steps):
                mods += [ActNorm(c4), Invertible1x1(c4), Coupling(c4, [filters, filters])]
            mods.append(Coupling(c4, [], invert=True) if i < scales - 1 else TopPrior(c4))
            self.scales.append(nn.ModuleList(mods))
            c = c4 // 2

    def run(self, i, x):
        y, ld = squeeze(x), 0
        for m in self.scales[i]:
            y, l = m(y); ld = ld + l
        if i == len(self.scales) - 1:
            return unsqueeze(y), ld
        factored, rest = y.chunk(2, 1)
        deeper, l = self.run(i + 1, rest)
        return unsqueeze(torch.cat([factored, deeper], 1)), ld + l

    def forward(self, x):
        y, ld = pixels_to_logits(x)
        z, l = self.run(0, y)
        logpz = (-0.5 * z.pow(2)).flatten(1).sum(1) - HALF_LOG_2PI * z[0].numel()
        return -(logpz + ld + l).mean() / (z[0].numel() * math.log(2))  # bits/dim


def glow_step():
    B = 64
    model = Glow()
    x = torch.randint(0, 256, (B, 1, 28, 28)).float()
    with torch.no_grad():
        model(x)  # ActNorm's data-dependent initialisation, once, before timing
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = model(x)
        opt.zero_grad(); loss.backward(); opt.step()
    return step, B


MODELS = {'glow-mnist-as-gm': glow_step}
