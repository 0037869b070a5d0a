"""A drawing or an upload to both models' answers: MNIST-like preprocessing, then
predictions, excitations and interventions for one digit."""
