#!/usr/bin/python3
"""epoch_reference.py N B EPOCHS — how PyTorch batches an epoch, the reference for
llmnas's: torch.utils.data.DataLoader over N images with batch_size B and shuffle on,
with drop_last True (llmnas's behaviour, stated in its recipe) and False (PyTorch's
default), over EPOCHS epochs, and CosineAnnealingLR(T_max = the steps) stepped once a
batch. Prints one JSON object:
  {"drop_last": {"steps": S, "images": I, "batch_sizes": [...], "lr_last": X},
   "keep_last": {...}}
(images: images trained on over all epochs; lr_last: the learning rate of the last step,
lr 0.01). tests/sh/test_train_partial.sh compares llmnas's steps with it.
Exit 77 when torch is missing."""
import json
import sys

try:
    import torch
except ImportError:
    print("epoch_reference: torch not available, skipped")
    sys.exit(77)


def epoch(n, b, epochs, drop_last):
    data = torch.utils.data.TensorDataset(torch.arange(n))
    g = torch.Generator().manual_seed(43)
    loader = torch.utils.data.DataLoader(data, batch_size=b, shuffle=True, drop_last=drop_last,
                                         generator=g)
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(loader) * epochs)
    sizes, lr = [], None
    for _ in range(epochs):
        for (x,) in loader:
            sizes.append(len(x))
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
    return {"steps": len(sizes), "images": sum(sizes), "batch_sizes": sizes, "lr_last": lr}


n, b, e = (int(v) for v in sys.argv[1:4])
print(json.dumps({"drop_last": epoch(n, b, e, True), "keep_last": epoch(n, b, e, False)}))
