"""Planning a batch of match events against what is stored: pure (no I/O), shared by the projector's
live path and the ops replay, so both decide the same way."""
