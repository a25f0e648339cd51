"""The domain: the Organisation aggregate, its events, historical dates and domain errors."""
