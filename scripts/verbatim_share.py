"""Share of rtorch's long Python code lines that stand verbatim in PyTorch's Python files.

Run with an interpreter that has PyTorch installed (rtorch itself is not imported):

    python scripts/verbatim_share.py [--files] [--show PATH]

A line counts when, stripped, it is longer than 40 characters and is code: not a comment,
not a string-only line (messages, docstrings), not an import and not a def/class signature.
"""

import argparse
import ast
import io
import os
import sys
import tokenize

MIN_LEN = 40


def _docstring_lines(source):
    """Line numbers covered by string-only expression statements (docstrings, messages)."""
    covered = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return covered
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                covered.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # the signature: from the def line up to the first body statement
            first = node.body[0].lineno if node.body else node.lineno + 1
            covered.update(range(node.lineno, first))
    return covered


def _string_token_lines(source):
    """Lines made only of string literals (continued messages inside calls)."""
    only_strings = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return only_strings
    kinds = {}
    for tok in tokens:
        if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                        tokenize.COMMENT, tokenize.ENDMARKER):
            continue
        for line in range(tok.start[0], tok.end[0] + 1):
            is_str = tok.type == tokenize.STRING or tok.string in ",()+" or (
                tok.type == tokenize.NAME and tok.string == "f")
            kinds.setdefault(line, True)
            kinds[line] = kinds[line] and is_str
    for line, all_str in kinds.items():
        if all_str:
            only_strings.add(line)
    return only_strings


def code_lines(path):
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    skip = _docstring_lines(source) | _string_token_lines(source)
    out = []
    for number, raw in enumerate(source.splitlines(), 1):
        line = raw.strip()
        if len(line) <= MIN_LEN or number in skip:
            continue
        if line.startswith(("#", "import ", "from ", "def ", "async def ", "class ", "@")):
            continue
        out.append((number, line))
    return out


def torch_lines(torch_root):
    lines = set()
    for folder, _dirs, files in os.walk(torch_root):
        for name in files:
            if name.endswith(".py"):
                try:
                    with open(os.path.join(folder, name), encoding="utf-8") as fh:
                        lines.update(raw.strip() for raw in fh)
                except (UnicodeDecodeError, OSError):
                    continue
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "rtorch"))
    parser.add_argument("--files", action="store_true", help="per-file counts")
    parser.add_argument("--show", help="print the verbatim lines of one file (path under rtorch/)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed in this interpreter")
    reference = torch_lines(os.path.dirname(torch.__file__))
    total = same = 0
    per_file = []
    for folder, _dirs, files in os.walk(args.root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, args.root)
            lines = code_lines(path)
            hits = [(n, text) for n, text in lines if text in reference]
            total += len(lines)
            same += len(hits)
            per_file.append((len(hits), len(lines), rel))
            if args.show and os.path.normpath(args.show) == os.path.normpath(rel):
                for n, text in hits:
                    print(f"{rel}:{n}: {text}")
    if args.files:
        for hits, count, rel in sorted(per_file, reverse=True):
            if hits:
                print(f"{hits:5d} / {count:5d}  {100 * hits / max(count, 1):5.1f}%  {rel}")
    share = 100 * same / max(total, 1)
    print(f"verbatim long code lines: {same} of {total} ({share:.1f}%), PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
