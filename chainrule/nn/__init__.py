"""Neural-network building blocks (``chainrule.nn``, as ``torch.nn``): modules, layers, activations.

    import chainrule.nn as nn
    import chainrule.nn.functional as F

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
"""

from chainrule.nn import functional, init, utils  # noqa: I001 - the layers below build on these
from chainrule.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from chainrule.nn.dropout import Dropout
from chainrule.nn.flatten import Flatten, Unflatten
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                               NLLLoss, SmoothL1Loss)
from chainrule.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU",
           "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]
