# exported by llmnas: graph 4b2bd6762fc3b3ece7f6b5ab01f29396, input [B, 1, 28, 28], 178 params
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d_1 = nn.Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True)
        self.batchnorm2d_2 = nn.BatchNorm2d(4, eps=1e-05, momentum=0.1)
        self.leakyrelu_3 = nn.LeakyReLU(negative_slope=0.01)
        self.conv2d_4 = nn.Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True)
        self.gelu_5 = nn.GELU(approximate='none')
        self.maxpool2d_7 = nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False)
        self.avgpool2d_8 = nn.AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=True, ceil_mode=False)
        self.adaptiveavgpool2d_9 = nn.AdaptiveAvgPool2d(1)
        self.flatten_10 = nn.Flatten()
        self.dropout_11 = nn.Dropout(p=0.5)
        self.linear_12 = nn.Linear(8, 10, bias=True)

    def forward(self, x):
        h0 = x
        h1 = self.conv2d_1(h0)
        h2 = self.batchnorm2d_2(h1)
        h3 = self.leakyrelu_3(h2)
        h4 = self.conv2d_4(h0)
        h5 = self.gelu_5(h4)
        h6 = torch.cat([h3, h5], dim=1)
        h7 = self.maxpool2d_7(h6)
        h8 = self.avgpool2d_8(h7)
        h9 = self.adaptiveavgpool2d_9(h8)
        h10 = self.flatten_10(h9)
        h11 = self.dropout_11(h10)
        h12 = self.linear_12(h11)
        return h12


if __name__ == "__main__":
    net = Net()
    out = net(torch.zeros(2, 1, 28, 28))
    print(sum(p.numel() for p in net.parameters()), tuple(out.shape))
