# The evaluation of the tiny training script: protected in the loop tests, the agent must not
# change how it is scored.
import torch


def val_loss(model, x, y):
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(x), y).item()
