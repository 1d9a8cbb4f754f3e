"""Advantage actor-critic on a small grid world, with ``rtorch.distributions.Categorical``.

The environment is written here (no gym): an agent starts on a random free cell of an 8 x 8
grid and must reach the goal in the far corner; five cells are pits (reward -1, episode ends),
the goal gives +1, and every step costs 0.02. A batch of environments runs side by side as
tensors. The policy and the value function share a small MLP; every update uses 5-step
bootstrapped returns from all environments:

    loss = -log pi(a|s) * A  +  0.5 * A^2  -  0.01 * entropy,   A = R - V(s)

Run ``python examples/actor_critic.py``: the mean episode return and the share of episodes
that reach the goal are printed as the agent learns (a random policy scores about -1).
"""

import argparse
import time

import rtorch as torch
from rtorch import nn
from rtorch.distributions import Categorical

MOVES = torch.tensor([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right


class GridWorld:
    """``n_envs`` independent copies of the grid, stepped together."""

    def __init__(self, n_envs, size=8, max_steps=40, generator=None):
        self.n, self.size, self.max_steps = n_envs, size, max_steps
        self.goal = torch.tensor([size - 1, size - 1])
        self.pits = torch.tensor([[2, 3], [4, 1], [5, 5], [3, 6], [6, 2]])
        self.gen = generator
        self.pos = torch.zeros(n_envs, 2, dtype=torch.int64)
        self.steps = torch.zeros(n_envs, dtype=torch.int64)
        self._respawn(torch.ones(n_envs, dtype=torch.bool))

    @property
    def n_states(self):
        return self.size * self.size

    def _is_pit(self, pos):
        return (pos.unsqueeze(1) == self.pits.unsqueeze(0)).all(-1).any(-1)

    def _respawn(self, mask):
        """New random start cells (not the goal, not a pit) where ``mask`` is set."""
        while bool(mask.any()):
            cand = torch.randint(0, self.size, (self.n, 2), generator=self.gen)
            bad = self._is_pit(cand) | (cand == self.goal).all(-1)
            take = mask & ~bad
            self.pos = torch.where(take.unsqueeze(-1), cand, self.pos)
            self.steps = torch.where(take, torch.zeros_like(self.steps), self.steps)
            mask = mask & ~take

    def observe(self):
        index = self.pos[:, 0] * self.size + self.pos[:, 1]
        return nn.functional.one_hot(index, self.n_states).float()

    def step(self, action):
        self.pos = (self.pos + MOVES[action]).clamp(0, self.size - 1)
        self.steps = self.steps + 1
        at_goal = (self.pos == self.goal).all(-1)
        in_pit = self._is_pit(self.pos)
        timeout = self.steps >= self.max_steps
        reward = -0.02 + at_goal.float() - in_pit.float()
        done = at_goal | in_pit | timeout
        self._respawn(done)
        return self.observe(), reward, done, at_goal


class ActorCritic(nn.Module):
    def __init__(self, n_states, n_actions=4, hidden=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_states, hidden), nn.Tanh())
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def forward(self, obs):
        h = self.body(obs)
        return Categorical(logits=self.policy(h)), self.value(h).squeeze(-1)


def train(updates=300, n_envs=32, n_steps=5, gamma=0.95, lr=0.01, seed=0, log_every=10, quiet=False):
    """Trains and returns [(update, mean episode return, goal rate)] measured per window."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    env = GridWorld(n_envs, generator=gen)
    model = ActorCritic(env.n_states)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    obs = env.observe()
    running = torch.zeros(n_envs)
    window_returns, window_goals, history = [], [], []
    for update in range(1, updates + 1):
        log_probs, values, rewards, masks, entropies = [], [], [], [], []
        for _ in range(n_steps):
            dist, value = model(obs)
            action = dist.sample()
            obs, reward, done, at_goal = env.step(action)
            log_probs.append(dist.log_prob(action))
            entropies.append(dist.entropy())
            values.append(value)
            rewards.append(reward)
            masks.append(1.0 - done.float())
            running = running + reward
            if bool(done.any()):
                window_returns.extend(running[done].tolist())
                window_goals.extend(at_goal[done].float().tolist())
            running = running * (1.0 - done.float())
        with torch.no_grad():
            _, ret = model(obs)
        returns = []
        for r, m in zip(reversed(rewards), reversed(masks)):
            ret = r + gamma * ret * m
            returns.append(ret)
        returns = torch.stack(returns[::-1])
        values = torch.stack(values)
        advantage = returns - values
        loss = (-(torch.stack(log_probs) * advantage.detach()).mean()
                + 0.5 * advantage.pow(2).mean() - 0.01 * torch.stack(entropies).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if update % log_every == 0 and window_returns:
            mean_ret = sum(window_returns) / len(window_returns)
            goal_rate = sum(window_goals) / len(window_goals)
            history.append((update, mean_ret, goal_rate))
            if not quiet:
                print(f"update {update:4d}  episodes {len(window_returns):4d}  "
                      f"mean return {mean_ret:+.3f}  reached goal {100 * goal_rate:5.1f}%")
            window_returns, window_goals = [], []
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--envs", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    history = train(args.updates, args.envs, seed=args.seed)
    first, last = history[0], history[-1]
    print(f"mean return {first[1]:+.3f} -> {last[1]:+.3f}, goal reached {100 * first[2]:.0f}% -> "
          f"{100 * last[2]:.0f}% of episodes ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
