"""Both models on MNIST-C style corruptions: the corruptions (`corruptions`,
`corruption_ops`), the sweep over the test set (`sweep`), its saved results (`results`)
and the stress sliders of the Draw page (`stress`)."""
