"""``statevector``: the exact, fast default backend (batched statevector + adjoint gradient)."""
