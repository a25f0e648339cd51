"""The history in other people's formats: Popolo JSON, JSON-LD, CSV by year and CSL-JSON,
and Popolo files read back into events (CONTRACT.md §3, "Following, finding and exporting")."""
