"""Training: the loop (`train`), a lab run's files (`runs`), seeded experiments and their
results (`experiments`, `experiment_results`) and where runs execute (`backends`)."""
