"""Attack x encoder matrices: what encoder designers run in CI and what the demo shows.

``spec``     which encoder variants and attacks, on which data (CLI flags or a TOML file)
``run``      every cell as a Dask task: generate, attack (isolated), score, record
``report``   one HTML page with the score table, image grids and Max_SSIM curves
``regress``  thresholds per (encoder, attack) and the verdict table
"""
