"""One training step and one evaluation pass over an ensemble (every tensor has a leading member axis S)."""

from __future__ import annotations

import torch

EVAL_CHUNK_ELEMENTS = 2**25  # members × rows × width per evaluation chunk (bounds activation memory)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == labels).to(torch.float64).mean(-1)


@torch.no_grad()
def evaluate(model, loss_fn, x: torch.Tensor, y: torch.Tensor, collapse_fn=None) -> tuple[torch.Tensor, ...]:
    """Per-member mean loss and accuracy over a dataset, in row chunks to bound memory (and, given
    `collapse_fn`, the mean softmax-collapse fraction from the same logits, as a third value)."""
    S, n = y.shape
    width = getattr(model, "row_elements", getattr(model, "width", 1024))  # activation elements per row
    chunk = max(1, EVAL_CHUNK_ELEMENTS // max(1, S * width))
    loss = torch.zeros(S, dtype=torch.float64, device=y.device)
    correct = torch.zeros(S, dtype=torch.float64, device=y.device)
    collapse = torch.zeros(S, dtype=torch.float64, device=y.device)
    for i in range(0, n, chunk):
        logits = model(x[:, i : i + chunk])
        rows = logits.shape[1]
        loss += loss_fn(logits, y[:, i : i + chunk]).to(torch.float64) * rows
        correct += accuracy(logits, y[:, i : i + chunk]) * rows
        if collapse_fn is not None:
            collapse += collapse_fn(logits).to(torch.float64) * rows
    return (loss / n, correct / n) if collapse_fn is None else (loss / n, correct / n, collapse / n)


def minibatch_epoch(model, loss_fn, optimizer, data, batch_size, generators, active):
    """One shuffled pass; returns the running mean train loss/accuracy over the pass (as the base code logs)."""
    S, n = data.y_train.shape
    perms = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(data.y_train.device)
    loss_sum = torch.zeros(S, dtype=torch.float64, device=data.y_train.device)
    correct = torch.zeros_like(loss_sum)
    for i in range(0, n, batch_size):
        idx = perms[:, i : i + batch_size]
        x = torch.gather(data.x_train, 1, idx.unsqueeze(-1).expand(-1, -1, data.x_train.shape[-1]))
        y = torch.gather(data.y_train, 1, idx)
        logits = model(x)
        loss = loss_fn(logits, y)
        step(loss, optimizer, active)
        loss_sum += loss.detach().to(torch.float64) * idx.shape[1]
        correct += accuracy(logits.detach(), y) * idx.shape[1]
    return loss_sum / n, correct / n


def step(loss: torch.Tensor, optimizer, active: torch.Tensor) -> None:
    # Inactive (diverged) members contribute nothing; members never share parameters, so one
    # member's NaN cannot leak into another's gradient.
    optimizer.zero_grad()
    torch.where(active, loss, torch.zeros_like(loss)).sum().backward()
    optimizer.step(active=active)
