-- input: 3x32x32 classes: 100
-- Squeeze-excitation: [B, C, H, W] * [B, C, 1, 1] broadcasting, SiLU and Sigmoid
local function se(x, r)
  local c = x.shape[2]
  local w = nn.AdaptiveAvgPool2d(x, 1)
  w = nn.SiLU(nn.Conv2d(w, c // r, 1))
  w = nn.Sigmoid(nn.Conv2d(w, c, 1))
  return x * w
end

function Net(x, classes)
  x = nn.SiLU(nn.BatchNorm2d(nn.Conv2d(x, 32, 3, {padding = 1})))
  x = se(x, 4)
  x = nn.MaxPool2d(x, 2)
  x = nn.SiLU(nn.BatchNorm2d(nn.Conv2d(x, 64, 3, {padding = 1})))
  x = nn.mul(se(x, 8), nn.Sigmoid(nn.Conv2d(x, 1, 1)))  -- spatial gate: [B, 64, 16, 16] * [B, 1, 16, 16]
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end
