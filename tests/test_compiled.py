"""chainrule.compile: a recorded step replays to exactly what eager mode computes, and what cannot be
replayed is refused while recording, with a clear error."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import recording
from chainrule.autograd.function import Function, Primitive

STEPS = 4


def _batches(shape_x: tuple[int, ...], make_y: Callable[[np.random.Generator], np.ndarray],
             count: int = STEPS) -> list[tuple[cr.Tensor, cr.Tensor]]:
    rng = np.random.default_rng(0)
    return [(cr.from_numpy(rng.standard_normal(shape_x, dtype=np.float32)), cr.from_numpy(make_y(rng)))
            for _ in range(count)]


def _twins(make: Callable[[], Any]) -> tuple[Any, Any]:
    """Two identical set-ups (model, optimizer, …), each built from the same seed."""
    cr.manual_seed(0)
    first = make()
    cr.manual_seed(0)
    return first, make()


def _assert_same_run(make: Callable[[], tuple[cr.nn.Module, Any]], step: Callable[..., Any],
                     batches: list[tuple[cr.Tensor, cr.Tensor]]) -> None:
    """Eager and compiled steps over the same batches: the same losses, gradients and parameters,
    bit for bit, after every step (the first compiled call records, the others replay)."""
    (model_a, opt_a), (model_b, opt_b) = _twins(make)
    compiled = cr.compile(lambda x, y: step(model_b, opt_b, x, y))
    module_calls = []  # a Python side effect: it happens while recording, and a replay skips it
    model_b.register_forward_pre_hook(lambda module, inputs: module_calls.append(module))
    for x, y in batches:
        eager_loss = step(model_a, opt_a, x, y)
        compiled_loss = compiled(x, y)
        np.testing.assert_array_equal(compiled_loss.detach().numpy(), eager_loss.detach().numpy())
        for (name, p), q in zip(model_a.named_parameters(), model_b.parameters()):
            np.testing.assert_array_equal(q.grad.numpy(), p.grad.numpy(), err_msg=name)
        for (name, p), q in zip(model_a.state_dict().items(), model_b.state_dict().values()):  # buffers too
            np.testing.assert_array_equal(q.numpy(), p.numpy(), err_msg=name)
    assert len(module_calls) == 1, "every call after the first must be a replay"


def _train_step(model: cr.nn.Module, optimizer: Any, x: cr.Tensor, y: cr.Tensor,
                loss_fn: Callable[..., cr.Tensor] = F.cross_entropy) -> cr.Tensor:
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _mlp(optimizer: Callable[..., Any]) -> Callable[[], tuple[cr.nn.Module, Any]]:
    def make() -> tuple[cr.nn.Module, Any]:
        model = cr.nn.Sequential(cr.nn.Linear(6, 16), cr.nn.ReLU(), cr.nn.Linear(16, 16), cr.nn.Tanh(),
                                 cr.nn.Linear(16, 4))
        return model, optimizer(model.parameters())
    return make


@pytest.mark.parametrize("optimizer", [
    lambda ps: cr.optim.SGD(ps, lr=0.1),
    lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: cr.optim.Adam(ps, lr=1e-2),
], ids=["sgd", "sgd-nesterov", "adam"])
def test_mlp_training_replays_exactly(optimizer: Callable[..., Any]) -> None:
    _assert_same_run(_mlp(optimizer), _train_step, _batches((8, 6), lambda rng: rng.integers(0, 4, 8)))


def test_mse_and_clipping_and_scheduler_replay_exactly() -> None:
    def make() -> tuple[cr.nn.Module, Any]:
        model, optimizer = _mlp(lambda ps: cr.optim.SGD(ps, lr=0.5))()
        return model, (optimizer, cr.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))

    def step(model: cr.nn.Module, opt: Any, x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        optimizer, scheduler = opt
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 0.1)  # a generator: replayed with the same tensors
        optimizer.step()
        scheduler.step()
        return loss

    _assert_same_run(make, step, _batches((8, 6), lambda rng: rng.standard_normal((8, 4), dtype=np.float32)))


def test_cnn_with_views_replays_exactly() -> None:
    def make() -> tuple[cr.nn.Module, Any]:
        model = cr.nn.Sequential(cr.nn.Conv2d(1, 3, 3), cr.nn.ReLU(), cr.nn.MaxPool2d(2), cr.nn.Flatten(),
                                 cr.nn.Linear(27, 5))
        return model, cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

    _assert_same_run(make, _train_step, _batches((4, 1, 8, 8), lambda rng: rng.integers(0, 5, 4)))


def test_batch_norm_updates_its_running_statistics_at_every_replay() -> None:
    def make() -> tuple[cr.nn.Module, Any]:
        model = cr.nn.Sequential(cr.nn.Conv2d(1, 4, 3), cr.nn.BatchNorm2d(4), cr.nn.ReLU(), cr.nn.Flatten(),
                                 cr.nn.Linear(144, 3))
        return model, cr.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)

    _assert_same_run(make, _train_step, _batches((4, 1, 8, 8), lambda rng: rng.integers(0, 3, 4)))


def test_layer_norm_gelu_and_a_transformer_layer_replay_exactly() -> None:
    def make() -> tuple[cr.nn.Module, Any]:
        model = cr.nn.Sequential(cr.nn.TransformerEncoderLayer(6, 2, 12, dropout=0.0, batch_first=True),
                                 cr.nn.Flatten(), cr.nn.Linear(18, 8), cr.nn.LayerNorm(8), cr.nn.GELU(),
                                 cr.nn.Linear(8, 3))
        return model, cr.optim.RMSprop(model.parameters(), lr=1e-2)

    _assert_same_run(make, _train_step, _batches((4, 3, 6), lambda rng: rng.integers(0, 3, 4)))


def test_an_embedding_and_gru_text_model_replays_with_each_batchs_indices() -> None:
    class Reader(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = cr.nn.Embedding(10, 4, padding_idx=0)
            self.gru = cr.nn.GRU(4, 6, batch_first=True)
            self.head = cr.nn.Linear(6, 3)

        def forward(self, tokens: cr.Tensor) -> cr.Tensor:
            _, h = self.gru(self.embed(tokens))
            return self.head(h[0])

    def make() -> tuple[cr.nn.Module, Any]:
        model = Reader()
        return model, cr.optim.Adam(model.parameters(), lr=1e-2)

    rng = np.random.default_rng(1)
    batches = [(cr.from_numpy(rng.integers(0, 10, (3, 5))), cr.from_numpy(rng.integers(0, 3, 3))) for _ in range(STEPS)]
    _assert_same_run(make, _train_step, batches)


def test_lstm_with_several_outputs_replays_exactly() -> None:
    class Tagger(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = cr.nn.LSTM(3, 5)
            self.head = cr.nn.Linear(5, 2)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            out, (h, c) = self.lstm(x)
            return self.head(out).sum(0) + self.head(h[0]) + c[0].sum()

    def make() -> tuple[cr.nn.Module, Any]:
        model = Tagger()
        return model, cr.optim.Adam(model.parameters(), lr=1e-2)

    _assert_same_run(make, lambda m, o, x, y: _train_step(m, o, x, y, F.mse_loss),
                     _batches((7, 4, 3), lambda rng: rng.standard_normal((4, 2), dtype=np.float32)))


def test_inference_under_no_grad_replays_and_returns_containers() -> None:
    model = cr.nn.Sequential(cr.nn.Linear(6, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))

    def predict(x: cr.Tensor, scale: float) -> dict[str, Any]:
        with cr.no_grad():
            logits = model(x) * scale
            return {"logits": logits, "best": logits.argmax(1), "name": "mlp", "pair": (logits, x)}

    compiled = cr.compile(predict)
    for x, _ in _batches((5, 6), lambda rng: rng.integers(0, 3, 5)):
        expected, got = predict(x, 2.0), compiled(x, 2.0)
        np.testing.assert_array_equal(got["logits"].numpy(), expected["logits"].numpy())
        np.testing.assert_array_equal(got["best"].numpy(), expected["best"].numpy())
        np.testing.assert_array_equal(got["pair"][1].numpy(), x.numpy())
        assert got["name"] == "mlp" and isinstance(got["pair"], tuple)


def test_a_new_signature_records_again() -> None:
    model = cr.nn.Linear(4, 2)
    calls = []

    def forward(x: cr.Tensor, shift: float) -> cr.Tensor:
        calls.append(x.shape)  # a Python side effect: it happens while recording only
        return model(x) + shift

    compiled = cr.compile(forward)
    for x, shift in [(cr.ones(3, 4), 1.0), (cr.ones(3, 4) * 2, 1.0), (cr.ones(5, 4), 1.0), (cr.ones(3, 4), 2.0)]:
        np.testing.assert_array_equal(compiled(x, shift).detach().numpy(), forward(x, shift).detach().numpy())
    # recorded for (3, 4) with 1.0, (5, 4) and 2.0, plus the four eager calls above
    assert [tuple(s) for s in calls] == [(3, 4), (3, 4), (3, 4), (5, 4), (5, 4), (3, 4), (3, 4)]
    compiled.reset()
    compiled(cr.ones(3, 4), 1.0)
    assert len(calls) == 8


def test_replayed_results_are_new_tensors_outside_any_graph() -> None:
    model = cr.nn.Linear(3, 2)
    compiled = cr.compile(lambda x: model(x).sum())
    recorded, replayed, again = compiled(cr.ones(1, 3)), compiled(cr.ones(1, 3)), compiled(cr.ones(1, 3))
    assert recorded.requires_grad and not replayed.requires_grad and replayed is not again
    np.testing.assert_array_equal(replayed.numpy(), recorded.detach().numpy())


def test_replay_sees_replaced_parameter_values_in_place() -> None:
    model = cr.nn.Linear(3, 1, bias=False)
    compiled = cr.compile(lambda x: model(x))
    x = cr.ones(1, 3)
    compiled(x)
    with cr.no_grad():
        model.weight.fill_(2.0)
    np.testing.assert_array_equal(compiled(x).numpy(), [[6.0]])


# ---------------------------------------------------------------------------- what is refused
SWITCHED = {(cr.Tensor, "item"), (cr.Tensor, "__bool__"), (Primitive, "apply"), (Function, "apply")}


def _refused(fn: Callable[..., Any], *args: Any, match: str) -> None:
    before = {(cls, name): cls.__dict__[name] for cls, name in SWITCHED}
    with pytest.raises(cr.ChainruleError, match=match):
        cr.compile(fn)(*args)
    assert recording.active is None  # the recording's switches are undone
    assert {(cls, name): cls.__dict__[name] for cls, name in SWITCHED} == before


@pytest.mark.parametrize("read", [lambda t: t.item(), lambda t: float(t), lambda t: bool(t > 0), lambda t: print(t),
                                  lambda t: t.detach().numpy()], ids=["item", "float", "bool", "print", "numpy"])
def test_reading_a_value_in_python_is_refused(read: Callable[[cr.Tensor], Any]) -> None:
    model = cr.nn.Linear(2, 1)
    _refused(lambda x: read(model(x).sum()), cr.ones(1, 2), match=r"compile: .* a tensor's value in Python")


def test_dropout_draws_a_new_mask_at_every_replay_as_eager_mode_does() -> None:
    def make() -> tuple[cr.nn.Module, Any]:
        model = cr.nn.Sequential(cr.nn.Linear(6, 16), cr.nn.ReLU(), cr.nn.Dropout(0.5), cr.nn.Linear(16, 4))
        return model, cr.optim.SGD(model.parameters(), lr=0.1)

    (model_a, opt_a), (model_b, opt_b) = _twins(make)
    compiled = cr.compile(lambda x, y: _train_step(model_b, opt_b, x, y))
    for seed, (x, y) in enumerate(_batches((8, 6), lambda rng: rng.integers(0, 4, 8))):
        cr.manual_seed(seed)
        eager_loss = _train_step(model_a, opt_a, x, y).item()
        cr.manual_seed(seed)
        assert compiled(x, y).item() == eager_loss
        for p, q in zip(model_a.parameters(), model_b.parameters()):
            np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())
    # each replay draws its own mask: the same seed gives the same output, another seed another one
    forward = cr.compile(lambda x: model_b(x).sum())
    x = cr.ones(8, 6)
    forward(x)
    outputs = []
    for seed in (1, 1, 2):
        cr.manual_seed(seed)
        outputs.append(forward(x).item())
    assert outputs[0] == outputs[1] != outputs[2]


def test_random_draws_outside_an_operation_are_refused() -> None:
    _refused(lambda x: x + cr.randn(2, 4), cr.ones(2, 4), match="random draw outside an operation")
    model = cr.nn.Sequential(cr.nn.Linear(4, 4), cr.nn.Dropout(0.5, inplace=True))
    _refused(lambda x: model(x), cr.ones(2, 4), match="random draw outside an operation")


def test_batch_norm_without_momentum_is_refused() -> None:
    model = cr.nn.BatchNorm1d(3, momentum=None)
    _refused(lambda x: model(x), cr.ones(4, 3), match="momentum=None")


def test_in_place_operations_and_autograd_grad_are_refused() -> None:
    w = cr.ones(3, requires_grad=True)
    _refused(lambda x: (x * w).relu_(), cr.ones(3), match="in-place operation")
    _refused(lambda x: cr.autograd.grad((x * w).sum(), w), cr.ones(3), match="autograd.grad")


def test_custom_functions_hooks_and_retain_graph_are_refused() -> None:
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: cr.Tensor) -> cr.Tensor:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: cr.Tensor) -> cr.Tensor:
            return g * 2

    w = cr.ones(3, requires_grad=True)
    _refused(lambda x: Double.apply(x * w), cr.ones(3), match="custom Function Double")
    _refused(lambda x: (x * w).sum().backward(retain_graph=True), cr.ones(3), match="retain_graph")

    def hooked(x: cr.Tensor) -> None:
        h = x * w
        h.retain_grad()
        h.sum().backward()

    _refused(hooked, cr.ones(3), match="hook or retain_grad")


def test_values_made_outside_the_operations_are_refused() -> None:
    w = cr.ones(3, requires_grad=True)
    _refused(lambda x: F.cross_entropy(x * w, cr.zeros(1, dtype=cr.int64), weight=cr.ones(3)), cr.ones(1, 3),
             match="CrossEntropy with an argument of type ndarray")
    _refused(lambda x: (x * w).detach() * w, cr.ones(3), match="sharing memory with the step's values")
    _refused(lambda x: (x * w).floor(), cr.ones(3), match="computed on arrays outside")
    history = w * 2
    _refused(lambda x: x * history, cr.ones(3), match="recorded history from before the step")

    def uses_grad(x: cr.Tensor) -> cr.Tensor:
        (x * w).sum().backward()
        return x * w.grad

    _refused(uses_grad, cr.ones(3), match=r"a gradient \(.grad\)")
    w.grad = cr.ones(3)  # a gradient from before the step, which the next backward replaces
    _refused(lambda x: x * w + x * w.grad, cr.ones(3), match=r"a gradient \(.grad\)")


def test_keyword_arguments_replay_in_any_order() -> None:
    compiled = cr.compile(lambda x, y: x - y)
    np.testing.assert_array_equal(compiled(y=cr.zeros(2), x=cr.ones(2)).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(compiled(y=cr.full((2,), 5.0), x=cr.full((2,), 2.0)).numpy(), [-3.0, -3.0])
    np.testing.assert_array_equal(compiled(x=cr.full((2,), 2.0), y=cr.ones(2)).numpy(), [1.0, 1.0])


def test_compiled_steps_do_not_nest() -> None:
    inner = cr.compile(lambda x: x * 2)
    inner(cr.ones(2))
    with pytest.raises(cr.ChainruleError, match="another step is being recorded"):
        cr.compile(lambda x: inner(x) + 1)(cr.ones(2))


@pytest.mark.parametrize("args, match", [
    ((cr.ones(2, requires_grad=True),), "requires grad"),
    (([cr.ones(2)],), "tensors inside a list"),
    (({1: 2},), "cannot be told apart"),
])
def test_unsupported_arguments_are_refused(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(cr.ChainruleError, match=match):
        cr.compile(lambda *a: None)(*args)


def test_compile_needs_a_function() -> None:
    with pytest.raises(cr.ChainruleError, match="expected a function, got int"):
        cr.compile(3)  # type: ignore[arg-type]
