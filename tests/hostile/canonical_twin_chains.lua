-- two identical 4,900-layer chains joined by +: tie-breaking the canonical order must stay cheap
function Net(x, classes)
  local a, b = nn.ReLU(x), nn.ReLU(x)
  for i = 1, 4900 do
    a, b = nn.ReLU(a), nn.ReLU(b)
  end
  return nn.Linear(nn.Flatten(nn.cat(a + b, a)), classes)
end
