# exported by llmnas: graph 203041d7ca9ec7ae8ff37c5befacd9c1, input [B, 1, 28, 28], 2,258 params
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d_1 = nn.Conv2d(1, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(1, 1), groups=1, bias=False)
        self.batchnorm2d_2 = nn.BatchNorm2d(8, eps=0.001, momentum=0.2)
        self.leakyrelu_3 = nn.LeakyReLU(negative_slope=0.2)
        self.conv2d_4 = nn.Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1, bias=True)
        self.gelu_5 = nn.GELU(approximate='tanh')
        self.silu_6 = nn.SiLU()
        self.conv2d_8 = nn.Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(2, 2), dilation=(2, 2), groups=1, bias=True)
        self.tanh_9 = nn.Tanh()
        self.hardswish_10 = nn.Hardswish()
        self.avgpool2d_11 = nn.AvgPool2d(kernel_size=(1, 14), stride=(1, 1), padding=(0, 0), count_include_pad=True, ceil_mode=False)
        self.sigmoid_12 = nn.Sigmoid()
        self.maxpool2d_15 = nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), ceil_mode=True)
        self.conv2d_16 = nn.Conv2d(24, 16, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=8, bias=True)
        self.avgpool2d_17 = nn.AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=False, ceil_mode=True)
        self.batchnorm2d_18 = nn.BatchNorm2d(16, eps=0.0001, momentum=0.1)
        self.relu_19 = nn.ReLU()
        self.avgpool2d_20 = nn.AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), count_include_pad=True, ceil_mode=False)
        self.maxpool2d_21 = nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 2), ceil_mode=False)
        self.identity_22 = nn.Identity()
        self.gelu_23 = nn.GELU(approximate='none')
        self.adaptiveavgpool2d_25 = nn.AdaptiveAvgPool2d(1)
        self.flatten_26 = nn.Flatten()
        self.dropout_27 = nn.Dropout(p=0.25)
        self.linear_28 = nn.Linear(48, 32, bias=False)
        self.relu_29 = nn.ReLU()
        self.dropout_30 = nn.Dropout(p=0.5)
        self.linear_31 = nn.Linear(32, 10, bias=True)

    def forward(self, x):
        h0 = x
        h1 = self.conv2d_1(h0)
        h2 = self.batchnorm2d_2(h1)
        h3 = self.leakyrelu_3(h2)
        h4 = self.conv2d_4(h0)
        h5 = self.gelu_5(h4)
        h6 = self.silu_6(h5)
        h7 = h3 + h6
        h8 = self.conv2d_8(h0)
        h9 = self.tanh_9(h8)
        h10 = self.hardswish_10(h9)
        h11 = self.avgpool2d_11(h10)
        h12 = self.sigmoid_12(h11)
        h13 = h7 * h12
        h14 = torch.cat([h7, h13, h10], dim=1)
        h15 = self.maxpool2d_15(h14)
        h16 = self.conv2d_16(h15)
        h17 = self.avgpool2d_17(h16)
        h18 = self.batchnorm2d_18(h17)
        h19 = self.relu_19(h18)
        h20 = self.avgpool2d_20(h16)
        h21 = self.maxpool2d_21(h20)
        h22 = self.identity_22(h21)
        h23 = self.gelu_23(h17)
        h24 = torch.cat([h19, h22, h23], dim=1)
        h25 = self.adaptiveavgpool2d_25(h24)
        h26 = self.flatten_26(h25)
        h27 = self.dropout_27(h26)
        h28 = self.linear_28(h27)
        h29 = self.relu_29(h28)
        h30 = self.dropout_30(h29)
        h31 = self.linear_31(h30)
        return h31


if __name__ == "__main__":
    net = Net()
    out = net(torch.zeros(2, 1, 28, 28))
    print(sum(p.numel() for p in net.parameters()), tuple(out.shape))
