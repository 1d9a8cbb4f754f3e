"""Draw the autograd graph of a small CNN's loss with rtorch.utils.viz.make_dot.

    python examples/draw_cnn_graph.py                 # writes cnn_graph.dot (and .svg with Graphviz)
    python examples/draw_cnn_graph.py --format png --attrs --saved

Needs the graphviz Python package (pip install 'rtorch[viz]'); rendering to SVG/PNG/PDF also
needs the Graphviz ``dot`` program (e.g. apt-get install graphviz). Without it the DOT text is
still written and can be pasted into any Graphviz viewer.
"""

import argparse
import shutil

import rtorch as torch
from rtorch import nn
from rtorch.utils.viz import make_dot


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="cnn_graph", help="file name without extension")
    parser.add_argument("--format", default="svg", choices=["svg", "png", "pdf"])
    parser.add_argument("--attrs", action="store_true", help="show node metadata")
    parser.add_argument("--saved", action="store_true", help="draw the tensors saved for backward")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = small_cnn()
    x = torch.randn(4, 1, 8, 8)
    target = torch.tensor([0, 3, 1, 7])
    loss = nn.functional.cross_entropy(model(x), target)
    dot = make_dot(
        loss,
        params=dict(model.named_parameters()),
        show_attrs=args.attrs,
        show_saved=args.saved,
    )

    with open(args.output + ".dot", "w") as f:
        f.write(dot.source)
    print(f"wrote {args.output}.dot ({dot.source.count(' -> ')} edges)")
    if shutil.which("dot"):
        path = dot.render(args.output, format=args.format, cleanup=True)
        print(f"wrote {path}")
    else:
        print("Graphviz 'dot' not found: install it to render the picture")
    return dot


if __name__ == "__main__":
    main()
