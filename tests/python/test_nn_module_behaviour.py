"""Module mechanics that the older tests leave open: hook ordering, state_dict hooks and
metadata, attribute routing corner cases. Each case runs on rtorch and, when installed,
on PyTorch, and both must agree."""

import warnings
from collections import OrderedDict

import pytest

import rtorch


def _libs():
    libs = [rtorch]
    try:
        import torch

        libs.append(torch)
    except ImportError:
        pass
    return libs


LIBS = _libs()


def _nested(t):
    nn = t.nn
    inner = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    outer = nn.Sequential(OrderedDict(body=inner, head=nn.Linear(1, 1)))
    outer.body[1].register_buffer("count", t.zeros(1))
    return outer


def _run_both(fn):
    results = [fn(lib) for lib in LIBS]
    for other in results[1:]:
        assert other == results[0]
    return results[0]


def test_state_dict_key_and_metadata_order():
    def run(t):
        sd = _nested(t).state_dict()
        return list(sd), list(sd._metadata.items())

    keys, meta = _run_both(run)
    assert keys[0] == "body.0.weight" and "body.1.count" in keys
    assert [k for k, _ in meta] == ["", "body", "body.0", "body.1", "body.2", "head"]


def test_state_dict_hook_order_and_replacement():
    def run(t):
        model = _nested(t)
        calls = []
        for path, m in model.named_modules():
            m.register_state_dict_pre_hook(lambda mod, prefix, kv, p=path: calls.append(("pre", p)))
            m._register_state_dict_hook(
                lambda mod, sd, prefix, meta, p=path: calls.append(("post", p, prefix))
            )
        model.state_dict(prefix="m.")
        first = list(calls)
        # A child's replacement result is not seen by the parent; the root's is returned.
        model.head._register_state_dict_hook(lambda *a: {"ignored": 1})
        keys_child = list(model.state_dict())
        model._register_state_dict_hook(lambda *a: {"root": 1})
        return first, keys_child, dict(model.state_dict())

    calls, keys_child, root = _run_both(run)
    assert len(calls) == 12
    assert calls[0] == ("pre", "") and calls[-1] == ("post", "", "m.")
    assert "ignored" not in keys_child
    assert root == {"root": 1}


def test_public_post_hooks_must_return_none():
    def run(t):
        lin = t.nn.Linear(2, 2)
        lin.register_state_dict_post_hook(lambda *a: {"x": 1})
        with pytest.raises(RuntimeError, match="post-hook must return None"):
            lin.state_dict()
        lin = t.nn.Linear(2, 2)
        lin.register_load_state_dict_post_hook(lambda m, k: 1)
        with pytest.raises(AssertionError):
            lin.load_state_dict(lin.state_dict())
        return True

    _run_both(run)


def test_load_hooks_see_module_and_can_fix_keys():
    def run(t):
        lin = t.nn.Linear(2, 2)
        seen = []
        lin.register_load_state_dict_pre_hook(lambda m, sd, prefix, *rest: seen.append(type(m)))
        lin._register_load_state_dict_pre_hook(lambda sd, prefix, *rest: seen.append(len(rest)))

        def forgive(module, keys):
            keys.missing_keys.clear()

        lin.register_load_state_dict_post_hook(forgive)
        res = lin.load_state_dict({"weight": t.ones(2, 2)})
        return [s if isinstance(s, int) else s.__name__ for s in seen], repr(res)

    seen, res = _run_both(run)
    assert seen == ["Linear", 5] and res == "<All keys matched successfully>"


def test_nested_load_reports_and_version_metadata():
    def run(t):
        src = _nested(t).state_dict()
        dst = _nested(t)
        del src["body.2.bias"]
        src["body.7.weight"] = t.zeros(1)
        src["head.extra"] = t.zeros(1)
        res = dst.load_state_dict(src, strict=False)
        with pytest.raises(RuntimeError) as info:
            dst.load_state_dict(src)
        return res.missing_keys, res.unexpected_keys, str(info.value)

    missing, unexpected, msg = _run_both(run)
    assert missing == ["body.2.bias"]
    assert unexpected == ["body.7.weight", "head.extra"]
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")


def test_positional_state_dict_args_warn():
    def run(t):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            sd = t.nn.Linear(1, 1).state_dict(None, "p.")
        return list(sd), [w.category.__name__ for w in got]

    keys, cats = _run_both(run)
    assert keys == ["p.weight", "p.bias"] and cats == ["FutureWarning"]


def test_always_called_forward_hook_runs_on_error():
    def run(t):
        m = t.nn.Identity()
        seen = []

        def boom(mod, args):
            raise KeyError("pre")

        m.register_forward_pre_hook(boom)
        m.register_forward_hook(lambda mod, a, out: seen.append("plain"))
        m.register_forward_hook(lambda mod, a, out: seen.append(("always", out)), always_call=True)
        with pytest.raises(KeyError):
            m(t.ones(1))
        return seen

    assert _run_both(run) == [("always", None)]


def test_hook_handles_clear_flag_tables():
    def run(t):
        m = t.nn.Identity()
        h1 = m.register_forward_hook(lambda *a: None, with_kwargs=True, always_call=True)
        h2 = m.register_forward_pre_hook(lambda *a: None, with_kwargs=True, prepend=True)
        sizes = [len(m._forward_hooks_with_kwargs), len(m._forward_pre_hooks_with_kwargs)]
        h1.remove()
        h2.remove()
        h2.remove()  # a second remove is harmless
        sizes += [
            len(m._forward_hooks),
            len(m._forward_hooks_with_kwargs),
            len(m._forward_hooks_always_called),
            len(m._forward_pre_hooks_with_kwargs),
        ]
        return sizes

    assert _run_both(run) == [1, 1, 0, 0, 0, 0]


def test_forward_hook_kwargs_and_result_replacement():
    def run(t):
        m = t.nn.Identity()
        m.register_forward_pre_hook(lambda mod, a, kw: ((a[0] + 1,), kw), with_kwargs=True)
        m.register_forward_hook(lambda mod, a, kw, out: out * 10, with_kwargs=True)
        m.register_forward_pre_hook(lambda mod, a: a[0] * 2)  # bare value is wrapped
        return float(m(t.ones(1)).sum())

    assert _run_both(run) == 40.0


def test_setattr_routing_between_stores():
    def run(t):
        nn = t.nn
        m = nn.Module()
        m.x = 1
        m.x = nn.Parameter(t.zeros(1))  # plain attribute becomes a parameter
        out = [("x" in m.__dict__, list(m._parameters))]
        m.x = None  # None keeps the slot
        out.append([(k, v is None) for k, v in m._parameters.items()])
        m.sub = nn.ReLU()
        with pytest.raises(TypeError, match="child module 'sub'"):
            m.sub = t.zeros(1)
        m.sub = nn.Parameter(t.zeros(1))  # a Parameter takes the name over
        out.append((list(m._modules), list(m._parameters)))
        m.register_buffer("b", t.zeros(1), persistent=False)
        m.b = t.ones(1)  # stays non-persistent
        out.append(list(m.state_dict()))
        m.b = nn.Buffer(t.ones(1))  # Buffer brings its own persistence
        out.append(list(m.state_dict()))
        del m.b
        out.append(("b" in m._buffers, "b" in m._non_persistent_buffers_set))
        with pytest.raises(AttributeError):
            del m.nothing
        return out

    out = _run_both(run)
    assert out[0] == (False, ["x"]) and out[1] == [("x", True)]
    assert out[2] == ([], ["x", "sub"])


def test_name_validation_messages():
    def run(t):
        m = t.nn.Module()
        msgs = []
        for call in (
            lambda: m.register_buffer(3, None),
            lambda: m.register_buffer("a.b", None),
            lambda: m.register_parameter("", None),
            lambda: m.add_module("a.b", None),
            lambda: m.add_module("", None),
            lambda: m.add_module(1, None),
        ):
            with pytest.raises((TypeError, KeyError)) as info:
                call()
            msgs.append(info.value.args[0])
        return msgs

    msgs = _run_both(run)
    assert "module name can't contain \".\", got: a.b" in msgs[3]


def test_get_members_by_path():
    def run(t):
        model = _nested(t)
        out = [type(model.get_submodule("body.0")).__name__, model.get_submodule("") is model]
        out.append(tuple(model.get_parameter("body.2.bias").shape))
        out.append(tuple(model.get_buffer("body.1.count").shape))
        for call in (
            lambda: model.get_submodule("body.9"),
            lambda: model.get_submodule("body.0.weight"),
            lambda: model.get_parameter("body.1.count"),
            lambda: model.get_buffer("body.0.weight"),
        ):
            with pytest.raises(AttributeError) as info:
                call()
            out.append(str(info.value))
        return out

    _run_both(run)


def test_named_modules_memo_prefix_and_members():
    def run(t):
        nn = t.nn
        shared = nn.Linear(1, 1)
        model = nn.Sequential(shared, nn.Sequential(shared, nn.Tanh()))
        return (
            [n for n, _ in model.named_modules(prefix="m")],
            [n for n, _ in model.named_modules(remove_duplicate=False)],
            [n for n, _ in model.named_parameters(remove_duplicate=False)],
            [n for n, _ in model[1].named_parameters(prefix="x", recurse=True)],
            sorted(n for n in dir(model) if n in ("0", "1", "training")),
        )

    _run_both(run)


def test_repr_single_extra_line_with_children():
    def run(t):
        nn = t.nn

        class WithExtra(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = nn.ReLU()

            def extra_repr(self):
                return "k=1"

        return repr(WithExtra())

    assert _run_both(run) == "WithExtra(\n  k=1\n  (act): ReLU()\n)"
