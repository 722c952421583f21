# exported by llmnas: graph 3f13d828ca0310575be78d34d9634754, input [B, 1, 28, 28], 463 params
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d_1 = nn.Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, bias=True)
        self.layernorm_2 = nn.LayerNorm(8, eps=0.0001)
        self.elu_3 = nn.ELU(alpha=0.5)
        self.prelu_4 = nn.PReLU(num_parameters=8, init=0.1)
        self.dropout2d_5 = nn.Dropout2d(p=0.2)
        self.mish_6 = nn.Mish()
        self.adaptivemaxpool2d_7 = nn.AdaptiveMaxPool2d(1)
        self.adaptiveavgpool2d_8 = nn.AdaptiveAvgPool2d(1)
        self.conv2d_11 = nn.Conv2d(8, 8, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True)
        self.softmax_12 = nn.Softmax(dim=1)
        self.adaptiveavgpool2d_15 = nn.AdaptiveAvgPool2d(1)
        self.flatten_16 = nn.Flatten()
        self.adaptivemaxpool2d_18 = nn.AdaptiveMaxPool2d(1)
        self.flatten_19 = nn.Flatten()
        self.linear_22 = nn.Linear(8, 12, bias=True)
        self.batchnorm1d_23 = nn.BatchNorm1d(12, eps=0.001, momentum=0.3)
        self.layernorm_24 = nn.LayerNorm(12, eps=1e-05)
        self.prelu_25 = nn.PReLU(num_parameters=1, init=0.2)
        self.linear_28 = nn.Linear(12, 10, bias=True)
        self.softmax_29 = nn.Softmax(dim=1)

    def forward(self, x):
        h0 = x
        h1 = self.conv2d_1(h0)
        h2 = self.layernorm_2(h1.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        h3 = self.elu_3(h2)
        h4 = self.prelu_4(h3)
        h5 = self.dropout2d_5(h4)
        h6 = self.mish_6(h5)
        h7 = self.adaptivemaxpool2d_7(h6)
        h8 = self.adaptiveavgpool2d_8(h6)
        h9 = h8 * 0.5
        h10 = h7 + h9
        h11 = self.conv2d_11(h10)
        h12 = self.softmax_12(h11)
        h13 = h6 * h12
        h14 = h13 + -1
        h15 = self.adaptiveavgpool2d_15(h14)
        h16 = self.flatten_16(h15)
        h17 = h16 * 0.25
        h18 = self.adaptivemaxpool2d_18(h14)
        h19 = self.flatten_19(h18)
        h20 = h19 * -1
        h21 = h17 + h20
        h22 = self.linear_22(h21)
        h23 = self.batchnorm1d_23(h22)
        h24 = self.layernorm_24(h23)
        h25 = self.prelu_25(h24)
        h26 = h25 * -1
        h27 = h26 + 1
        h28 = self.linear_28(h27)
        h29 = self.softmax_29(h28)
        return h29


if __name__ == "__main__":
    net = Net()
    out = net(torch.zeros(2, 1, 28, 28))
    print(sum(p.numel() for p in net.parameters()), tuple(out.shape))
