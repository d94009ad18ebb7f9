"""Benchmarks: each trains or runs its contenders in one run and compares them."""
