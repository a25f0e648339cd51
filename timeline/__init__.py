"""The application: configuration, the composition root, commands, queries and the CLI."""
