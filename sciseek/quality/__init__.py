"""Evaluation on judged data, training data, training and tuning."""
