# The bench's copies of the PyTorch twins (../shared/peers/torch_model_steps.py), changed where gm's model differs, so
# every model-steps row compares the same network. Run: /usr/bin/python3 torch_twins.py MODEL [threads] [min seconds timed]
# Models of the peers' file run unchanged; the ones defined here are:
#   conv-vae-as-gm: the peers' conv-vae with gm's decoder. gm's VAE architecture 'conv' (filters [32, 64]) decodes as
#     dense 256 -> dense 7*7*64 -> transposed conv 64 -> 64 (stride 2) -> transposed conv 64 -> 32 (stride 2) ->
#     conv 32 -> 1 ('same'), ReLU between; the peers' twin stops at transposed convs 64 -> 32 and 32 -> 1, about
#     0.43 of gm's decoder arithmetic. The encoder, loss, batch and Adam are the peers'.
#   iaf-vae-as-gm: the peers' iaf-vae with gm's IafVae network. gm's context is a dense ELU layer (100 -> 40) on the
#     encoder's hidden features (the peers': a third, linear encoder output); every MADE layer reads the context
#     through its own kernel (the peers': the first hidden layer only); the MADE's hidden activation is ELU (the
#     peers': ReLU) and it has no direct input -> output connection (the peers' has one); the orderings alternate
#     natural / reversed (the peers' flips z after each step); log sigma = logsigmoid(s), gate bias 2. About 3.5% more
#     arithmetic than the peers' twin, and more (small) operations.
#   glow-mnist-as-gm, maf-mnist-as-gm, nsf-mnist-as-gm: twins of gm's Glow, MAF and neural spline flow on digits,
#     which the peers' file has none of (glow_twin.py, vector_flow_twins.py say what they copy).
# Prints what the peers' file prints: "torch MODEL threads=T ms/step X img/s Y".
import os, statistics, sys, time

sys.path.insert(0, os.environ.get('GM_PEERS_DIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../../shared/peers')))
import torch, torch.nn as nn, torch.nn.functional as F  # noqa: E402
import torch_model_steps as peers  # noqa: E402
import glow_twin, vector_flow_twins  # noqa: E402


def conv_vae_as_gm_step():
    B, Z = 128, 16
    enc = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Linear(256, 2 * Z))
    dec = nn.Sequential(nn.Linear(Z, 256), nn.ReLU(), nn.Linear(256, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                        nn.ConvTranspose2d(64, 64, 3, 2, 1, output_padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(),
                        nn.Conv2d(32, 1, 3, padding=1))
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    x = (torch.rand(B, 1, 28, 28) > 0.5).float()

    def step():
        mu, ls = enc(x).chunk(2, 1)
        z = mu + torch.randn_like(mu) * ls.exp()
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction='none').flatten(1).sum(1)
        kl = 0.5 * ((2 * ls).exp() + mu ** 2 - 1 - 2 * ls).sum(1)
        loss = (rec + kl).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    return step, B


class ContextMaskedLinear(nn.Linear):
    """gm's MaskedDense with a context input: h (W * mask) + c K + b."""

    def __init__(self, i, o, mask, ctx):
        super().__init__(i, o)
        self.register_buffer('mask', mask)
        self.ctx = nn.Linear(ctx, o, bias=False)

    def forward(self, h, c):
        return F.linear(h, self.weight * self.mask, self.bias) + self.ctx(c)


def iaf_made_masks(d, hidden, reverse):
    """gm's IAF degrees: inputs 1..d (reversed on odd steps), hidden degrees cycling 1..d-1, outputs [m | s]."""
    d_in = torch.arange(d, 0, -1) if reverse else torch.arange(1, d + 1)
    degs = [d_in] + [torch.arange(h) % (d - 1) + 1 for h in hidden]
    masks = [(degs[k + 1][:, None] >= degs[k][None, :]).float() for k in range(len(hidden))]
    out = d_in.repeat(2)
    masks.append((out[:, None] > degs[-1][None, :]).float())
    return masks


class IafStepAsGm(nn.Module):
    def __init__(self, d, hidden, ctx, reverse):
        super().__init__()
        masks = iaf_made_masks(d, hidden, reverse)
        sizes = [d, *hidden, 2 * d]
        self.layers = nn.ModuleList([ContextMaskedLinear(sizes[k], sizes[k + 1], masks[k], ctx) for k in range(len(masks))])
        nn.init.constant_(self.layers[-1].bias[d:], 2.0)

    def forward(self, z, c):
        h = z
        for layer in self.layers[:-1]:
            h = F.elu(layer(h, c))
        return self.layers[-1](h, c)


def iaf_vae_as_gm_step(T=2):
    B, D, Z, H = 100, 784, 40, 100
    enc_hidden = nn.Sequential(nn.Linear(D, H), nn.ReLU())
    enc_out = nn.Linear(H, 2 * Z)
    context = nn.Sequential(nn.Linear(H, Z), nn.ELU())
    dec = nn.Sequential(nn.Linear(Z, H), nn.ReLU(), nn.Linear(H, D))
    steps = nn.ModuleList([IafStepAsGm(Z, (H, H), Z, t % 2 == 1) for t in range(T)])
    modules = [enc_hidden, enc_out, context, dec, steps]
    opt = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    x = (torch.rand(B, D) > 0.5).float()

    def step():
        feat = enc_hidden(x)
        mu, ls = enc_out(feat).chunk(2, 1)
        c = context(feat)
        eps = torch.randn_like(mu)
        z = mu + eps * ls.exp()
        logq = (-0.5 * eps ** 2 - ls - 0.9189385332046727).sum(1)
        for s in steps:
            m, sr = s(z, c).chunk(2, 1)
            sig = torch.sigmoid(sr)
            z = sig * z + (1 - sig) * m
            logq = logq - F.logsigmoid(sr).sum(1)
        logp = (-0.5 * z ** 2 - 0.9189385332046727).sum(1)
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction='none').sum(1)
        loss = (rec + logq - logp).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    return step, B


MODELS = {**peers.MODELS, 'conv-vae-as-gm': conv_vae_as_gm_step, 'iaf-vae-as-gm': iaf_vae_as_gm_step, **glow_twin.MODELS, **vector_flow_twins.MODELS}

def timeit_for(step, batch, min_seconds, warm=3, blocks=5, per=4):
    """The peers' timeit (after `warm` steps, the median of blocks' mean step times), timed for at least `blocks`
    blocks of `per` steps and `min_seconds` (gm's side of the bench times as long: a 20-step window of a ~5 ms step
    is 0.1 s, which one slow moment of a shared machine fills)."""
    for _ in range(warm):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < blocks or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        for _ in range(per):
            step()
        times.append((time.perf_counter() - t0) / per * 1000)
    ms = statistics.median(times)
    return ms, batch / ms * 1000


if __name__ == '__main__':
    name = sys.argv[1] if len(sys.argv) > 1 else ''
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    min_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if name not in MODELS:
        sys.exit(f"unknown model {name!r}; one of {', '.join(MODELS)}")
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    step, batch = MODELS[name]()
    ms, ips = timeit_for(step, batch, min_seconds)
    print(f"torch {name} threads={threads} ms/step {ms:.2f} img/s {ips:.0f}", flush=True)
