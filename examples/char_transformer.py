"""A tiny character-level transformer language model trained on a bundled text.

    python examples/char_transformer.py --steps 300

Uses nn.Embedding, nn.TransformerEncoderLayer with a causal mask, nn.Linear and AdamW, then
samples a few characters from the trained model.
"""

import argparse
import math

import rtorch as torch
from rtorch import nn

TEXT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. However little known the feelings or views of such a man may be "
    "on his first entering a neighbourhood, this truth is so well fixed in the minds of the "
    "surrounding families, that he is considered the rightful property of some one or other of "
    "their daughters. "
) * 4


class CharTransformer(nn.Module):
    def __init__(self, vocab, d_model=64, nhead=4, layers=2, block=32):
        super().__init__()
        self.block = block
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(block, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        h = self.tok(idx) + self.pos(torch.arange(t)).unsqueeze(0)
        mask = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        h = self.encoder(h, mask=mask)
        return self.head(self.norm(h))


def batches(data, block, batch, gen):
    ix = torch.randint(0, len(data) - block - 1, (batch,), generator=gen)
    x = torch.stack([data[i : i + block] for i in ix.tolist()])
    y = torch.stack([data[i + 1 : i + block + 1] for i in ix.tolist()])
    return x, y


def train(steps=300, seed=0, log_every=50):
    torch.manual_seed(seed)
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    model = CharTransformer(len(chars))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(1, steps + 1):
        x, y = batches(data, model.block, 16, gen)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % log_every == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  (uniform would be {math.log(len(chars)):.3f})")
    return model, chars, losses


def sample(model, chars, prompt="It is a ", n=60):
    stoi = {c: i for i, c in enumerate(chars)}
    idx = torch.tensor([[stoi[c] for c in prompt]])
    model.eval()
    with torch.no_grad():
        for _ in range(n):
            logits = model(idx[:, -model.block :])[:, -1, :]
            nxt = torch.multinomial(logits.softmax(-1), 1)
            idx = torch.cat([idx, nxt], dim=1)
    return "".join(chars[i] for i in idx[0].tolist())


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    a = p.parse_args()
    m, c, _ = train(a.steps)
    print(repr(sample(m, c)))
