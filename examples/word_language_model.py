"""A word-level language model: a causal transformer over real English text.

    python examples/word_language_model.py --epochs 4

The corpus is the dataset descriptions that ship with scikit-learn (about 6,000 words of
technical English). The text is split into training and validation words, the model (an
embedding, sinusoidal positions, a causal ``nn.TransformerEncoder`` and a tied output layer)
is trained with AdamW and gradient clipping, and its validation perplexity is printed each
epoch. The best model is saved with ``rtorch.save`` and loaded back with
``weights_only=True`` (the file is PyTorch's checkpoint format, so ``torch.load`` reads it
too), then used to continue a prompt.
"""

import argparse
import glob
import math
import os
import re
import time
from collections import Counter

import rtorch as torch
from rtorch import nn


def load_corpus():
    import sklearn

    folder = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "descr")
    text = " ".join(open(path, encoding="utf-8").read() for path in sorted(glob.glob(folder + "/*.rst")))
    words = re.findall(r"[a-z]+|[0-9]+|[.,;:()]", text.lower())
    return words


class Vocabulary:
    def __init__(self, words, min_count=2):
        counts = Counter(words)
        self.itos = ["<unk>"] + sorted(w for w, c in counts.items() if c >= min_count)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def encode(self, words):
        return torch.tensor([self.stoi.get(w, 0) for w in words], dtype=torch.long)


class SinusoidalPositions(nn.Module):
    def __init__(self, d_model, max_len=512):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        rates = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * rates)
        table[:, 1::2] = torch.cos(position * rates)
        self.register_buffer("table", table, persistent=False)

    def forward(self, x):
        return x + self.table[: x.shape[1]].unsqueeze(0)


class WordModel(nn.Module):
    def __init__(self, vocab_size, d_model=128, nhead=4, layers=2, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = SinusoidalPositions(d_model)
        block = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, vocab_size)
        self.out.weight = self.embed.weight  # tied input and output embeddings
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)  # small, since it also scores outputs
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens):
        length = tokens.shape[1]
        causal = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        h = self.positions(self.embed(tokens) * math.sqrt(self.d_model))
        return self.out(self.encoder(h, mask=causal))


def windows(data, length, batch, gen=None):
    """Random (input, target) windows of `length` words, `batch` at a time: one epoch sees
    each word about four times."""
    starts = torch.randperm(len(data) - length - 1, generator=gen)[: 4 * len(data) // length]
    for i in range(0, len(starts) - batch + 1, batch):
        chunk = starts[i : i + batch].tolist()
        x = torch.stack([data[s : s + length] for s in chunk])
        y = torch.stack([data[s + 1 : s + length + 1] for s in chunk])
        yield x, y


def evaluate(model, data, length):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(data) - length - 1, length):
            x = data[s : s + length].unsqueeze(0)
            y = data[s + 1 : s + length + 1].unsqueeze(0)
            logits = model(x)
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    return total / count


def continue_prompt(model, vocab, prompt, words=16, temperature=0.7, seed=0):
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    tokens = vocab.encode(prompt.lower().split()).unsqueeze(0)
    with torch.no_grad():
        for _ in range(words):
            logits = model(tokens[:, -64:])[0, -1] / temperature
            logits[0] = float("-inf")  # never propose <unk>
            choice = torch.multinomial(torch.softmax(logits, dim=0), 1, generator=gen)
            tokens = torch.cat([tokens, choice.reshape(1, 1)], dim=1)
    return " ".join(vocab.itos[i] for i in tokens[0].tolist())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--checkpoint", default="word_model.pt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    words = load_corpus()
    split = int(0.9 * len(words))
    vocab = Vocabulary(words[:split])
    train, valid = vocab.encode(words[:split]), vocab.encode(words[split:])
    print(f"{len(words)} words, vocabulary {len(vocab.itos)}, {len(train)} train / {len(valid)} validation")

    model = WordModel(len(vocab.itos))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    best = float("inf")
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, seen, running = time.time(), 0, 0.0
        for step, (x, y) in enumerate(windows(train, args.length, args.batch, gen), 1):
            logits = model(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            running += loss.item()
            seen += 1
            if step % 20 == 0:
                print(f"  epoch {epoch} step {step:3d}  loss {running / seen:.3f}  ({time.time() - start:.1f}s)")
        valid_loss = evaluate(model, valid, args.length)
        print(f"epoch {epoch}: train loss {running / max(seen, 1):.3f}  valid perplexity {math.exp(valid_loss):.1f}")
        if valid_loss < best:
            best = valid_loss
            torch.save({"model": model.state_dict(), "vocabulary": vocab.itos, "epoch": epoch}, args.checkpoint)

    checkpoint = torch.load(args.checkpoint, weights_only=True)
    restored = WordModel(len(checkpoint["vocabulary"]))
    restored.load_state_dict(checkpoint["model"])
    reloaded = evaluate(restored, valid, args.length)
    print(f"reloaded epoch {checkpoint['epoch']} from {args.checkpoint}: valid perplexity {math.exp(reloaded):.1f}")
    print("continuation:", continue_prompt(restored, vocab, "the data set contains"))
    return math.exp(reloaded)


if __name__ == "__main__":
    main()
