"""The model: base catalog and topology, fused-op and fine-tuning plans, training options, the trainer, feature store, extractor, classifier and its export zip, metrics."""
