-- input: 1x29x29 classes: 10
-- pools with ceil_mode and padding on odd sizes, where PyTorch's output-size rules matter
function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 8, 3))                                       -- 27
  x = nn.MaxPool2d(x, 3, {stride = 2, padding = 1, ceil_mode = true})    -- 14
  x = nn.AvgPool2d(x, 3, 2, 1, {ceil_mode = true, count_include_pad = false}) -- 8
  x = nn.MaxPool2d(x, 2, {ceil_mode = true})                            -- 4
  local a = nn.MaxPool2d(x, 3, {stride = 1, padding = 1, dilation = 1})
  local b = nn.AvgPool2d(x, 2, {stride = 1, padding = 1})               -- 5
  b = nn.MaxPool2d(b, 2, {stride = 1})                                  -- 4
  x = nn.cat(a, b)
  x = nn.AvgPool2d(x, 2, {stride = 1, padding = 1})                     -- 5
  x = nn.MaxPool2d(x, 2, {stride = 2, padding = 1, ceil_mode = true})    -- 3, not 4: a window may
                                                                        -- not start in the padding
  x = nn.AvgPool2d(x, 2, {stride = 2, ceil_mode = true})                -- 2
  return nn.Linear(nn.Flatten(x), classes)
end
