# PyTorch twins of gm's two vector flows as `gm train maf|nsf` builds them on MNIST digits (784 dims, 8-bit levels),
# apps/cli/src/registry.ts MAF_ENTRY / NSF_ENTRY, trained as VectorFlow.fit trains them: batch 128 and gradient
# clipping to global norm 10 (VectorFlow.fitDefaults on pixels), Adam lr 1e-3, loss in bits/dim.
# Shared pixel pre-processing (packages/models/src/realnvp/pixel-space.ts, @gm/layers dequantize.ts and logit.ts):
#   x (0..255) + U[0,1) noise -> y = logit(p), p = 0.05 + 0.9 x/256, log-det sum(log(0.9/256) - log p - log(1 - p))
#   loss = -mean(log N(z; 0, I) + log-det) / (784 ln 2)
# maf-mnist-as-gm: new MAF({ dim: 784, levels: 256, hidden: [1024], steps: 5, seed }) (packages/models/src/maf/maf.ts,
#   @gm/layers masked-autoregressive.ts, masked-dense.ts, made.ts): 5 affine MAF steps, no batch norm, no
#   permutation of the data between steps - the MADE's input degrees alternate natural / reversed (step t even /
#   odd). Each MADE: masked dense 784 -> 1024 ReLU -> masked dense 1024 -> 2*784 ([mu | alpha_raw] blocks), no
#   direct input -> output connection, no context; masks multiply the kernels on every call (masks fixed, not
#   trained); hidden degrees k % 783 (sequential), hidden mask deg_h >= deg_in, output mask deg_out > deg_h.
#   alpha = 3 tanh(alpha_raw / 3) (logScaleBound 3 on pixels); u = (x - mu) exp(-alpha), log-det -sum(alpha).
#   Init as gm: Glorot-uniform kernels, zero biases, output kernel scaled by 0.1. 12,055,200 trainable parameters.
# nsf-mnist-as-gm: new SplineFlow({ dim: 784, levels: 256, hidden: [512], couplings: 4, seed })
#   (packages/models/src/nsf/spline-flow.ts, @gm/layers spline-coupling.ts, rational-quadratic.ts,
#   random-permutation.ts, conditioner.ts): mixing 'permutation' (the default on pixels): 4 x [fixed random
#   permutation of the 784 dims -> rational-quadratic spline coupling], couplings alternate which half is
#   transformed (i odd: invertMask, the last 392 condition the first 392). Conditioner: dense 392 -> 512 ReLU ->
#   dense 512 -> 392*(3K-1), Glorot hidden kernel, zero output kernel and biases; the output is element-major
#   [B, 392, 3K-1] plus a constant offset log(expm1(1 - 1e-3)) on the K-1 derivative slots (a fresh flow is the
#   identity). Splines: K = 8 bins on [-4, 4] (bound 4), identity outside (|x| > 4: y = x, log-derivative 0; the
#   spline runs on x clamped to [-4, 4] everywhere and torch.where picks); widths / heights:
#   1e-3 + (1 - 8e-3) softmax, cumsum, interior knots cum*8 - 4, end knots pinned to -4 / 4; derivatives
#   1e-3 + softplus at the K-1 interior knots, 1 at +-4; bin = number of interior x-knots <= x (gm picks the bin's
#   values with a one-hot multiply-sum, here with gather - the same values); theta clipped to [0, 1];
#   y = y0 + h (s theta^2 + d0 theta(1-theta)) / (s + (d0 + d1 - 2s) theta(1-theta)),
#   log dy/dx = log(s^2 (d1 theta^2 + 2 s theta(1-theta) + d0 (1-theta)^2)) - 2 log(denominator).
#   19,305,696 trainable parameters.
import math
import torch, torch.nn as nn, torch.nn.functional as F
from pixels import HALF_LOG_2PI, LEVELS, pixels_to_logits

D, CLIP_NORM, BATCH = 784, 10.0, 128


def base_log_prob(z):
    return (-0.5 * z * z - HALF_LOG_2PI).sum(1)


def glorot_zero_bias(layer):
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


# ---------------------------------------------------------------- MAF
class MaskedLinear(nn.Linear):
    """gm's MaskedDense: h (W * mask) + b, the mask multiplying the kernel on every call."""

    def __init__(self, i, o, mask):
        super().__init__(i, o)
        self.register_buffer('mask', mask)
        glorot_zero_bias(self)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MafStepAsGm(nn.Module):
    def __init__(self, d, hidden, reverse, log_scale_bound=3.0):
        super().__init__()
        deg_in = torch.arange(d - 1, -1, -1) if reverse else torch.arange(d)  # 0-based positions in the order
        deg_h = torch.arange(hidden) % (d - 1)  # sequential hidden degrees 0..d-2 (hidden >= d - 1)
        deg_out = deg_in.repeat(2)  # [mu | alpha] blocks
        self.hidden = MaskedLinear(d, hidden, (deg_h[:, None] >= deg_in[None, :]).float())
        self.out = MaskedLinear(hidden, 2 * d, (deg_out[:, None] > deg_h[None, :]).float())
        with torch.no_grad():
            self.out.weight.mul_(0.1)  # small output kernel, zero bias: a step near the identity
        self.bound = log_scale_bound

    def forward(self, x):
        mu, raw = self.out(F.relu(self.hidden(x))).chunk(2, 1)
        alpha = self.bound * torch.tanh(raw / self.bound)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(1)


class MafAsGm(nn.Module):
    def __init__(self, d=D, hidden=1024, steps=5):
        super().__init__()
        self.steps = nn.ModuleList([MafStepAsGm(d, hidden, t % 2 == 1) for t in range(steps)])

    def log_prob(self, y, log_det):
        """log p of logit-space values y whose pre-processing log-det is log_det."""
        for s in self.steps:
            y, ld = s(y)
            log_det = log_det + ld
        return base_log_prob(y) + log_det


# ---------------------------------------------------------------- neural spline flow
RQ_IDENTITY_DERIVATIVE = math.log(math.expm1(1 - 1e-3))


def rq_knots(raw, K, B, min_bin=1e-3):
    """gm's knots: positions [.., K+1] from -B to B (ends pinned) and bin sizes [.., K]."""
    frac = min_bin + (1 - min_bin * K) * torch.softmax(raw, -1)
    interior = torch.cumsum(frac, -1)[..., :K - 1] * (2 * B) - B
    lead = raw.shape[:-1]
    pos = torch.cat([raw.new_full((*lead, 1), -B), interior, raw.new_full((*lead, 1), B)], -1)
    return pos, pos[..., 1:] - pos[..., :-1]


def rq_forward(x, params, K, B, min_derivative=1e-3):
    """gm's rationalQuadraticForward: y and log dy/dx element-wise; identity outside [-B, B]."""
    inside = x.abs() <= B
    xc = x.clamp(-B, B)
    xpos, widths = rq_knots(params[..., :K], K, B)
    ypos, heights = rq_knots(params[..., K:2 * K], K, B)
    ones = params.new_ones((*params.shape[:-1], 1))
    deriv = torch.cat([ones, min_derivative + F.softplus(params[..., 2 * K:]), ones], -1)
    idx = (xc.unsqueeze(-1) >= xpos[..., 1:K]).sum(-1, keepdim=True)  # bin 0..K-1
    pick = lambda t, i=idx: t.gather(-1, i).squeeze(-1)  # noqa: E731
    x0, w, y0, h, d0, d1 = pick(xpos), pick(widths), pick(ypos), pick(heights), pick(deriv), pick(deriv, idx + 1)
    s = h / w
    theta = ((xc - x0) / w).clamp(0, 1)
    t1t = theta * (1 - theta)
    den = s + (d0 + d1 - 2 * s) * t1t
    y = y0 + h * (s * theta * theta + d0 * t1t) / den
    log_d = torch.log(s * s * (d1 * theta * theta + 2 * s * t1t + d0 * (1 - theta) ** 2)) - 2 * torch.log(den)
    return torch.where(inside, y, x), torch.where(inside, log_d, torch.zeros_like(x))


class SplineCouplingAsGm(nn.Module):
    def __init__(self, d, hidden, invert, bins=8, bound=4.0):
        super().__init__()
        k = d // 2
        self.cond = d - k if invert else k
        self.trans = d - self.cond
        self.invert, self.K, self.B = invert, bins, bound
        P = 3 * bins - 1
        self.l1 = glorot_zero_bias(nn.Linear(self.cond, hidden))
        self.l2 = nn.Linear(hidden, self.trans * P)
        nn.init.zeros_(self.l2.weight); nn.init.zeros_(self.l2.bias)
        offset = torch.zeros(P)
        offset[2 * bins:] = RQ_IDENTITY_DERIVATIVE
        self.register_buffer('offset', offset)

    def forward(self, x):
        first = self.trans if self.invert else self.cond
        a, b = x[:, :first], x[:, first:]
        c, t = (b, a) if self.invert else (a, b)
        params = self.l2(F.relu(self.l1(c))).view(x.shape[0], self.trans, -1) + self.offset
        y, log_d = rq_forward(t, params, self.K, self.B)
        return torch.cat([y, c] if self.invert else [c, y], 1), log_d.sum(1)


class NsfAsGm(nn.Module):
    def __init__(self, d=D, hidden=512, couplings=4, bins=8, bound=4.0, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        for i in range(couplings):
            self.register_buffer(f'perm{i}', torch.randperm(d, generator=g))  # output i reads input perm[i]
        self.couplings = nn.ModuleList([SplineCouplingAsGm(d, hidden, i % 2 == 1, bins, bound) for i in range(couplings)])

    def log_prob(self, y, log_det):
        for i, c in enumerate(self.couplings):
            y, ld = c(y[:, getattr(self, f'perm{i}')])
            log_det = log_det + ld
        return base_log_prob(y) + log_det


# ---------------------------------------------------------------- training steps
def bits_per_dim(model, x):
    y, log_det = pixels_to_logits(x)
    return -model.log_prob(y, log_det).mean() / (D * math.log(2))


def flow_step(model, B=BATCH):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randint(0, LEVELS, (B, D)).float()

    def step():
        loss = bits_per_dim(model, x)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
        opt.step()
    return step, B


def maf_step():
    return flow_step(MafAsGm())


def nsf_step():
    return flow_step(NsfAsGm())


MODELS = {'maf-mnist-as-gm': maf_step, 'nsf-mnist-as-gm': nsf_step}
