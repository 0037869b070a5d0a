"""What the trained models are measured by: evaluation, the original study's report,
verdicts, the excitations and their statistics, interventions, channel effects and the
lesson's walk through one SE block. Stands on `core` and `words`."""
