"""Figures, one module per analysis family. Each public ``plot_*`` function reads analysis tables
(pandas DataFrames or the JSON the analyses write) and saves one PNG; none recomputes homology or trains."""
