"""examples/actor_critic.py: the Categorical-policy agent learns to reach the goal."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_actor_critic_learns(capsys):
    history = _example("actor_critic").train(updates=160, log_every=10)
    out = capsys.readouterr().out
    assert "mean return" in out  # progress is printed
    first_return, first_goal = history[0][1], history[0][2]
    last_return, last_goal = history[-1][1], history[-1][2]
    assert first_goal < 0.3  # starts near random
    assert last_goal > 0.8
    assert last_return > first_return + 1.0


def test_grid_world_rules():
    mod = _example("actor_critic")
    import rtorch

    env = mod.GridWorld(3, generator=rtorch.Generator().manual_seed(0))
    env.pos = rtorch.tensor([[7, 6], [2, 2], [0, 0]])
    env.steps = rtorch.zeros(3, dtype=rtorch.int64)
    _, reward, done, at_goal = env.step(rtorch.tensor([3, 3, 0]))  # right, right, up (a wall)
    assert at_goal.tolist() == [True, False, False]
    assert done.tolist() == [True, True, False]  # the second walked into the pit at (2, 3)
    assert rtorch.allclose(reward, rtorch.tensor([0.98, -1.02, -0.02]))
    assert env.observe().shape == (3, 64)
