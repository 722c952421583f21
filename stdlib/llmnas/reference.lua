--- llmnas.reference — a compact reference of the candidate language, for prompts.
-- `reference.text` is what a Code Generator needs to write a valid candidate:
-- the contract, every op with its PyTorch-style arguments, and one example.
local M = {}

M.example = [[
function Net(x, classes)
  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 32, 3, {padding = 1, bias = false})))
  local s = x
  x = nn.BatchNorm2d(nn.Conv2d(nn.ReLU(nn.Conv2d(x, 32, 3, {padding = 1})), 32, 3, {padding = 1}))
  x = nn.ReLU(x + s)                      -- residual connection
  x = nn.MaxPool2d(x, 2)
  x = nn.AdaptiveAvgPool2d(x, 1)
  return nn.Linear(nn.Flatten(x), classes)
end
]]

-- Every line with "->" is checked by tests/lua/test_reference.lua: each expression on it
-- (separated by two spaces) compiles with x = [B, C, H, W], f = [B, F], and returns the
-- shape after "->" ("same" = the shape of its input).
M.text = [[
Write the network as a Lua function `Net(x, classes)` that builds it from the input node
x ([B, C, H, W]) with the functional `nn` API and returns a node of shape [B, classes].
Input channels are inferred; `node.shape` is {"B", C, H, W} or {"B", F} (read it to size
layers). Options go in a table. Each op, with PyTorch's names and defaults, and its shape
for x = [B, C, H, W] and f = [B, F] (nn.Flatten makes one):
  nn.Conv2d(x, 32, 3, {stride = 1, padding = 1, dilation = 1, groups = 1, bias = true})  -> [B, 32, H, W]
  nn.Conv2d(x, 32, 3, {stride = 2, padding = 1})  -> [B, 32, H/2, W/2]
  nn.Conv2d(x, 16, 3, {padding = 1, groups = 16})  -> [B, 16, H, W]
  nn.BatchNorm2d(x)  -> same   (4-D only; {eps = 1e-5, momentum = 0.1})
  nn.BatchNorm1d(f)  -> same   ([B, F] only)
  nn.LayerNorm(x)  nn.LayerNorm(f)  -> same   (over C at each position of x, as ConvNeXt; over F of f)
  nn.MaxPool2d(x, 2)  nn.AvgPool2d(x, 2)  -> [B, C, H/2, W/2]   ({stride = kernel_size, padding = 0, ceil_mode = false})
  nn.AdaptiveAvgPool2d(x, 1)  nn.AdaptiveMaxPool2d(x, 1)  -> [B, C, 1, 1]
  x:mean({2, 3}, true)  x:max({2, 3}, true)  -> [B, C, 1, 1]
  x:mean{2, 3}  x:max{2, 3}  -> [B, C]   (PyTorch's x.mean((2, 3)): dims count from 0, 2 = H, 3 = W)
  nn.Flatten(x)  -> [B, C*H*W]
  nn.Linear(f, 64)  -> [B, 64]   ({bias = true}; needs [B, F]: nn.Flatten first)
  nn.ReLU(x)  nn.LeakyReLU(x, 0.1)  nn.GELU(x)  nn.SiLU(x)  nn.Sigmoid(x)  nn.Tanh(x)  nn.Hardswish(x)  -> same
  nn.ELU(x)  nn.ELU(x, 0.5)  nn.Mish(x)  -> same
  nn.PReLU(x)  nn.PReLU(x, x.shape[2])  -> same   (one learned slope, or one per channel)
  nn.ReLU(f)  nn.GELU(f)  nn.Sigmoid(f)  nn.ELU(f)  nn.Mish(f)  -> same   (activations accept [B, F] too)
  nn.PReLU(f)  nn.Dropout(f, 0.3)  -> same
  nn.Softmax(x, 1)  nn.Softmax(x, -1)  nn.Softmax(f, 1)  -> same   (over one dim, PyTorch's numbering; not the batch)
  nn.Dropout(x, 0.2)  nn.Dropout2d(x, 0.1)  nn.Identity(x)  -> same   (Dropout2d drops whole channels; 4-D only)
  nn.cat({x, x})  -> [B, 2*C, H, W]   (on channels; H and W must match)
  x + x  x * x  x - x  -> same
  x * nn.Sigmoid(nn.AdaptiveAvgPool2d(x, 1))  x + nn.AdaptiveAvgPool2d(x, 1)  x * nn.Conv2d(x, 1, 1)  -> same
  x * 0.5  0.5 * x  x + 1  x - 1  1 - x  -x  x / 4  f * 2  f - 1  -> same   (a node and a number)
Broadcasting of + - *: both sides [B, C, H, W] or both [B, F]; each dimension equal, or 1
on one side, and one side has the full shape ([B, C, 1, 1] or [B, 1, H, W] with
[B, C, H, W]); anything else is a shape error naming both shapes. A number has no shape.
[B, F] is accepted by Linear, BatchNorm1d, LayerNorm, Dropout, Softmax, every activation
and + - * with numbers; [B, C, H, W] only by Conv2d, BatchNorm2d, the pools, Dropout2d, cat
and x:mean / x:max.
Plain Lua (local functions, loops, tables, math) is allowed; io, os, require, load and print
are not.
Example:
]] .. M.example

return M
