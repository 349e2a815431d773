"""The error type every chainrule check raises."""


class ChainruleError(RuntimeError):
    """An error raised by chainrule: the message names the operation, the shapes or dtypes, and the fix.

    It derives from ``RuntimeError`` (what PyTorch raises) so that code catching PyTorch's errors
    keeps working.
    """
