"""The read side: pure folds of events, and the SQL read models that keep them fast."""
