"""Operations tooling: consumer-group drift and lag, replay of the event log into standings."""
