"""GSI-Syn data generation: procedural assets, scene descriptions, MuJoCo simulation and rendering,
spatial edit operations, and the dataset writer. Evaluation code never imports this package."""
