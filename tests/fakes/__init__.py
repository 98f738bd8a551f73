"""Test doubles that behave like the real thing over real transports (a fake Qubic RPC on loopback)."""
