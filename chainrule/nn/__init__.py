"""Neural-network building blocks (``chainrule.nn``, as ``torch.nn``): modules, layers, activations.

    import chainrule.nn as nn
    import chainrule.nn.functional as F

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
"""

from chainrule.nn import functional, init, utils  # noqa: I001 - the layers below build on these
from chainrule.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.dropout import Dropout, Dropout2d
from chainrule.nn.embedding import Embedding
from chainrule.nn.flatten import Flatten, Unflatten
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                               NLLLoss, SmoothL1Loss)
from chainrule.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d, Upsample
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.transformer import TransformerEncoderLayer

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "Dropout2d", "ReLU", "LeakyReLU", "ELU", "GELU",
           "SiLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
           "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
           "Upsample", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "Embedding", "RNN", "LSTM", "GRU",
           "RNNCell", "LSTMCell", "GRUCell", "MultiheadAttention", "TransformerEncoderLayer"]
