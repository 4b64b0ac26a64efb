"""Every space's building blocks, one module per family, so that a space module holds only its structure:
`layers` (dimension-generic conv, BatchNorm, pooling), `chain` (the chain spaces' 1-D ops), `cells` (NAS-Bench-201's
and Deeper Insights' ops and fixed blocks, for sequences or images) and `transformer` (the Transformer space's
blocks)."""
