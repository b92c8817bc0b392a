import math

import pytest
import torch
import torch.nn.functional as F

from edgeopt.distill import distillation_loss, soft_target_loss
from edgeopt.errors import EdgeoptError

LN3, LN2 = math.log(3.0), math.log(2.0)


def test_loss_matches_a_value_worked_out_by_hand():
    # T = 2, teacher logits (2 ln 3, 0): softened they are (ln 3, 0) -> p_t = (3/4, 1/4).
    # Student logits (0, 0) -> p_s = (1/2, 1/2) at any T.
    # KL(p_t || p_s) = 3/4 ln(3/2) + 1/4 ln(1/2);  T² KL = 4 KL;  CE(label 0) = ln 2.
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    expected = 0.7 * 4 * kl + 0.3 * LN2
    assert expected == pytest.approx(0.574218, abs=1e-6)  # 0.7·0.523248 + 0.3·0.693147
    student = torch.zeros(1, 2)
    teacher = torch.tensor([[2 * LN3, 0.0]])
    loss = distillation_loss(student, teacher, torch.tensor([0]), temperature=2.0, alpha=0.7)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_kl_is_averaged_over_the_batch_not_the_classes():
    # Two samples, one identical to its teacher (KL 0), one as above: the batch mean is half.
    student = torch.zeros(2, 2)
    teacher = torch.tensor([[0.0, 0.0], [2 * LN3, 0.0]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert soft_target_loss(student, teacher, 2.0).item() == pytest.approx(4 * kl / 2, abs=1e-6)


def test_soft_term_is_t_squared_times_the_kl_at_t():
    torch.manual_seed(0)
    s, t = torch.randn(4, 5), torch.randn(4, 5)
    for temperature in (1.0, 2.0, 8.0):
        p_t = F.softmax(t / temperature, dim=-1)
        kl = (p_t * (p_t.log() - F.log_softmax(s / temperature, dim=-1))).sum(-1).mean()
        got = soft_target_loss(s, t, temperature)
        assert got.item() == pytest.approx(temperature**2 * kl.item(), rel=1e-5)


def test_t_squared_keeps_the_gradient_size_as_temperature_grows():
    # d(T² KL)/ds = T (p_s - p_t) -> (s̄ - t̄)/K as T grows (Hinton et al. 2015, section 2.1):
    # without the T² factor the gradient would shrink as 1/T².
    torch.manual_seed(1)
    s, t = torch.randn(1, 6), torch.randn(1, 6)
    limit = ((s - s.mean()) - (t - t.mean())) / 6
    grads = []
    for temperature in (20.0, 50.0):
        x = s.clone().requires_grad_(True)
        soft_target_loss(x, t, temperature).backward()
        grads.append(x.grad)
        assert torch.allclose(x.grad, limit, rtol=0.05, atol=1e-3)
    assert grads[0].norm() == pytest.approx(grads[1].norm().item(), rel=0.02)


def test_alpha_zero_is_plain_cross_entropy_and_ignores_the_teacher():
    torch.manual_seed(2)
    s = torch.randn(8, 10, requires_grad=True)
    y = torch.randint(0, 10, (8,))
    teacher = torch.randn(8, 10)
    loss = distillation_loss(s, teacher, y, alpha=0.0, temperature=4.0)
    assert torch.equal(loss, F.cross_entropy(s, y))
    (grad,) = torch.autograd.grad(loss, s)
    assert torch.equal(grad, torch.autograd.grad(F.cross_entropy(s, y), s)[0])


def test_alpha_one_ignores_the_labels():
    torch.manual_seed(3)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    a = distillation_loss(s, t, torch.tensor([0, 0, 0, 0]), alpha=1.0)
    b = distillation_loss(s, t, torch.tensor([2, 1, 0, 2]), alpha=1.0)
    assert a.item() == b.item() == pytest.approx(soft_target_loss(s, t, 4.0).item())


def test_no_gradient_reaches_the_teacher_logits():
    s = torch.randn(2, 3, requires_grad=True)
    t = torch.randn(2, 3, requires_grad=True)
    distillation_loss(s, t, torch.tensor([0, 1])).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": 0.0}, "temperature must be a positive"),
    ({"temperature": float("nan")}, "temperature must be a positive"),
    ({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
    ({"alpha": -0.1}, r"alpha must be in \[0, 1\]"),
])
def test_bad_options_are_clear_errors(kwargs, match):
    with pytest.raises(EdgeoptError, match=match):
        distillation_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([0]), **kwargs)


def test_different_class_counts_are_an_error():
    with pytest.raises(EdgeoptError, match="differ in shape"):
        soft_target_loss(torch.zeros(2, 10), torch.zeros(2, 5), 4.0)
