"""``python -m model_deploy``: the deploy command group on its own."""

from model_deploy.cli import main

main()
