"""Constants in PyTorch code take the arguments' dtype: torch does not promote float32 @ float64."""
import numpy as np
import pytest

import kronvec as kv

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_numpy_constant_meets_float32_and_float64_arguments(dtype: str) -> None:
    X = kv.Matrix("X", (3, 3))
    C = np.arange(9.0).reshape(3, 3)
    f = kv.torch_function([X], kv.trace(C @ X) + kv.sum(X * C))
    x = (torch.eye(3, dtype=getattr(torch, dtype)) + 0.5).requires_grad_()
    y = f(x)
    y.backward()
    assert y.dtype == x.dtype and x.grad is not None and x.grad.dtype == x.dtype
    np.testing.assert_allclose(float(y), np.trace(C @ x.detach().double().numpy())
                               + (x.detach().double().numpy() * C).sum(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.double().numpy(), C.T + C, rtol=1e-6)


def test_lambdify_torch_constant_in_a_matrix_product_of_float32() -> None:
    X = kv.Matrix("X", (2, 3))
    C = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    fn = kv.lambdify([X], X @ C, backend="torch")
    x = torch.ones((2, 3), dtype=torch.float32)
    out = fn(x)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), np.ones((2, 3)) @ C)
