"""Qubic data: RPC bodies and observations (types), the live RPC client, capture files and replay."""
