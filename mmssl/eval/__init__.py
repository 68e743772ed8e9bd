"""Evaluation of a trained method, the way the papers score it.

- :mod:`~mmssl.eval.features`: frozen per-segment features, W windows averaged, batched;
- :mod:`~mmssl.eval.retrieval_metrics`: R@K, MedR, MnR from scores or embeddings;
- :mod:`~mmssl.eval.retrieval`: zero-shot retrieval (MIL-NCE protocol), clip lists;
- :mod:`~mmssl.eval.classification_tasks`: classification tasks, labels, top-1 and mAP;
- :mod:`~mmssl.eval.classification`: linear probes, fine-tuning, zero-shot classification;
- :mod:`~mmssl.eval.report`: tables, saved arrays, figures and the report of a run;
- :mod:`~mmssl.eval.evaluate`: all of it on a checkpoint directory, results written;
- :mod:`~mmssl.eval.embed`: ``mmssl embed``, embeddings exported with their keys.

Everything but ``evaluate`` and ``embed`` works on an in-memory method.
"""
