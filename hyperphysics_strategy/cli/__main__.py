from hyperphysics_strategy.cli import app

app()
