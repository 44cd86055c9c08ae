# A real, tiny PyTorch training script for the research-loop tests: an MLP fitting a noisy sine
# on CPU for a few hundred steps. The learning rate is the LR line below (the scripted agent
# edits it); the seed comes from --seed (inloop's {seed}). Prints JSON metric lines.
import argparse
import json

import torch

from evaluate import val_loss

LR = 0.002

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--steps", type=int, default=150)
args = parser.parse_args()

data = torch.Generator().manual_seed(1234)
x = torch.rand(256, 1, generator=data) * 6 - 3
y = torch.sin(x) + 0.05 * torch.randn(256, 1, generator=data)
xv = torch.rand(128, 1, generator=data) * 6 - 3
yv = torch.sin(xv)

torch.manual_seed(args.seed)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
for step in range(1, args.steps + 1):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == args.steps:
        print(json.dumps({"step": step, "train_loss": loss.item(),
                          "val_loss": val_loss(model, xv, yv)}), flush=True)
