"""`python -m clinicflow` runs the command line."""

from clinicflow.cli import app

app(prog_name="clinicflow")
