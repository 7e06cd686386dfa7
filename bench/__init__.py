"""conveyor's benchmarks: enqueue and drain throughput, and pickup latency, on both stores.

Run with `make bench` (or `python -m bench.run --help`). Not part of `make test`: the figures
depend on the machine, and a full run takes minutes. See bench/README.md.
"""
