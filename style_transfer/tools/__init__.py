"""Research tooling around the library: the paper's figures, the comparison with published
results, and the benchmarks (``python -m style_transfer reproduce|compare|bench``).

The library never imports this package; only ``style_transfer.cli`` registers its
subcommands (``tools.cli.add_commands``), and their handlers import the tools when run.
"""
