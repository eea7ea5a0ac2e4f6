"""The pack's templates: the workflow file format (graph.py) and the task recipes (recipes.py).

The generated files live in example_workflows/, where ComfyUI looks for a pack's templates
(scripts/build_workflows.py writes them). Product code: nothing here imports the development
tooling (hostkit, benchmarks, toy_models, scripts, tests).
"""
