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

M.text = [[
Write the network as a Lua function `Net(x, classes)` that builds it from the input node
x ([B, C, H, W]) with the functional `nn` API and returns a node of shape [B, classes].
Input channels are inferred; `x.shape` is {B, C, H, W} or {B, F}. Options go in a table.
Ops (PyTorch names and defaults):
  nn.Conv2d(x, out_channels, kernel_size, {stride=1, padding=0, dilation=1, groups=1, bias=true})
  nn.BatchNorm2d(x)   nn.Dropout(x, p)   nn.Identity(x)   nn.Flatten(x)
  nn.ReLU(x)  nn.LeakyReLU(x, slope)  nn.GELU(x)  nn.SiLU(x)  nn.Sigmoid(x)  nn.Tanh(x)  nn.Hardswish(x)
  nn.MaxPool2d(x, kernel_size, {stride=kernel_size, padding=0, ceil_mode=false})
  nn.AvgPool2d(x, kernel_size, {stride=kernel_size, padding=0, ceil_mode=false})
  nn.AdaptiveAvgPool2d(x, 1)   nn.Linear(x, out_features, {bias=true})   (Linear needs [B, F])
  a + b (add), a * b (multiply, broadcasting [B, C, 1, 1] over [B, C, H, W]), nn.cat({a, b, ...}) on channels
Plain Lua (local functions, loops, tables, math) is allowed; io, os, require and load are not.
Example:
]] .. M.example

return M
